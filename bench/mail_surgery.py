"""Taking a raw message apart and building small ones, for the hostile-mail generators.

Pure functions over bytes; none raises, whatever bytes it is given.
"""

from __future__ import annotations

import random
import re

_FIELD_SPLIT_RE = re.compile(rb"\r?\n(?![ \t])")


def split_message(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Split raw bytes into (header block, blank-line separator, body)."""
    candidates = [(raw.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n")]
    found = [(at, sep) for at, sep in candidates if at >= 0]
    if not found:
        return raw, b"", b""
    at, sep = min(found)
    return raw[:at], sep, raw[at + len(sep) :]


def line_ending(raw: bytes) -> bytes:
    """The line ending the message mostly uses (CRLF or LF)."""
    return b"\r\n" if raw.count(b"\r\n") * 2 > raw.count(b"\n") else b"\n"


def insert_at_random(
    data: bytes, piece: bytes, count: int, rng: random.Random
) -> bytes:
    """Insert `piece` at `count` random positions of `data`."""
    out = bytearray(data)
    for _ in range(count):
        at = rng.randrange(len(out) + 1)
        out[at:at] = piece
    return bytes(out)


def content_fields(head: bytes) -> tuple[list[bytes], list[bytes]]:
    """Split a header block into (Content-* fields, all other fields), folding kept."""
    fields = [f for f in _FIELD_SPLIT_RE.split(head) if f]
    content = [f for f in fields if f[:8].lower() == b"content-"]
    other = [f for f in fields if f[:8].lower() != b"content-"]
    return content, other


def multipart_mixed(boundary: bytes, parts: list[bytes], nl: bytes = b"\n") -> bytes:
    """A multipart/mixed entity (its Content-Type, a blank line, the body) around `parts`."""
    body = b"".join(b"--" + boundary + nl + part + nl for part in parts)
    return (
        b'Content-Type: multipart/mixed; boundary="'
        + boundary
        + b'"'
        + nl
        + nl
        + body
        + b"--"
        + boundary
        + b"--"
        + nl
    )


def nested_multipart(inner: bytes, depth: int, nl: bytes = b"\n") -> bytes:
    """Wrap a MIME entity (headers + body) in `depth` levels of multipart/mixed."""
    for level in range(depth):
        inner = multipart_mixed(b"nest%d" % level, [inner], nl)
    return inner


def simple_headers(subject: bytes = b"Hostile test", nl: bytes = b"\n") -> bytes:
    """A minimal valid header block (no Content-Type), ending in its line break."""
    lines = [
        b"From: Mallory <mallory@attacker.example>",
        b"To: ACME Support <support@example.com>",
        b"Subject: " + subject,
        b"Date: Mon, 02 Nov 2026 08:00:00 +0000",
        b"Message-ID: <hostile.1@attacker.example>",
        b"MIME-Version: 1.0",
    ]
    return nl.join(lines) + nl
