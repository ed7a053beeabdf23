"""Parse functions that misbehave on purpose, for the parse-worker tests (run in worker processes)."""

from __future__ import annotations

import os
import re
import time

from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import ParsedMail, ParseLimits


def hang_on_marker(raw: bytes, limits: ParseLimits) -> ParsedMail:
    """Parse normally, but sleep for a minute on a message containing HANG-HERE."""
    if b"HANG-HERE" in raw:
        time.sleep(60)
    return parse_mail(raw, limits)


def spin_on_marker(raw: bytes, limits: ParseLimits) -> ParsedMail:
    """Parse normally, but spin (pure Python, as a runaway parser does) on SPIN-HERE."""
    if b"SPIN-HERE" in raw:
        while True:
            pass
    return parse_mail(raw, limits)


def die_on_marker(raw: bytes, limits: ParseLimits) -> ParsedMail:
    """Parse normally, but kill the worker process on a message containing DIE-HERE."""
    if b"DIE-HERE" in raw:
        os._exit(3)
    return parse_mail(raw, limits)


def count_then_hang(raw: bytes, limits: ParseLimits) -> ParsedMail:
    """Note each attempt in the file an `X-Attempts-File:` header names, then parse;
    sleep for a minute on a message containing HANG-HERE."""
    found = re.search(rb"X-Attempts-File: (\S+)", raw)
    if found:
        mail_id = re.search(rb"Message-ID: <([^>]+)>", raw)
        with open(found.group(1), "ab") as attempts:
            attempts.write((mail_id.group(1) if mail_id else b"?") + b"\n")
    if b"HANG-HERE" in raw:
        time.sleep(60)
    return parse_mail(raw, limits)
