"""Parse functions that misbehave on purpose, for the parse-worker tests (run in worker processes)."""

from __future__ import annotations

import os
import time

from tierdesk.daemon.parsing import parse_chunk
from tierdesk.parsers.parsed import ParsedMail


def hang_on_marker(raws: list[bytes]) -> list[ParsedMail]:
    """Parse normally, but spin for a minute on a message containing HANG-HERE."""
    for raw in raws:
        if b"HANG-HERE" in raw:
            time.sleep(60)
    return parse_chunk(raws)


def die_on_marker(raws: list[bytes]) -> list[ParsedMail]:
    """Parse normally, but kill the worker process on a message containing DIE-HERE."""
    for raw in raws:
        if b"DIE-HERE" in raw:
            os._exit(3)
    return parse_chunk(raws)
