"""Serialising our own mail to bytes: small, strict and fast.

The `email` package's modern policy costs about 4 ms per acknowledgement
(it re-parses every header it folds); we only ever write a handful of known
headers and one or two UTF-8 text parts, so they are written directly:
RFC 2047 encoded-words for non-ASCII header text, base64 for non-ASCII
bodies, CRLF line ends. Callers pass header values already free of line
breaks (see compose.sanitize_header_text).
"""

from __future__ import annotations

import base64
import re
import secrets

CRLF = "\r\n"
MAX_LINE = 76
_ATEXT_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*$")


def encode_words(text: str) -> str:
    """Header text as-is if printable ASCII, else RFC 2047 base64 encoded-words, folded."""
    if text.isascii() and text.isprintable():
        return fold(text)
    words = []
    chunk = ""
    for char in text:
        # 39 UTF-8 bytes → 52 base64 chars: a 64-character encoded-word, a line under 78
        if len((chunk + char).encode("utf-8")) > 39:
            words.append(chunk)
            chunk = ""
        chunk += char
    if chunk:
        words.append(chunk)
    encoded = [
        f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?="
        for w in words
    ]
    return (CRLF + " ").join(encoded)


def fold(text: str, width: int = 78) -> str:
    """Fold a long ASCII header value at spaces (RFC 5322 2.2.3)."""
    if len(text) <= width:
        return text
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > width and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return (CRLF + " ").join(lines)


def mailbox(name: str, address: str) -> str:
    """`Name <addr>` with the name quoted or encoded as needed; just `addr` without a name."""
    if not name:
        return address
    if name.isascii() and _ATEXT_PHRASE.match(name):
        return f"{name} <{address}>"
    if name.isascii() and name.isprintable():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address}>'
    return f"{encode_words(name)} <{address}>"


def _text_part(text: str, subtype: str) -> str:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if body.isascii() and all(len(line) <= 998 for line in body.split("\n")):
        encoded, cte = body.replace("\n", CRLF), "7bit"
    else:
        raw = base64.encodebytes(body.replace("\n", CRLF).encode("utf-8")).decode(
            "ascii"
        )
        encoded, cte = raw.replace("\n", CRLF), "base64"
    if not encoded.endswith(CRLF):
        encoded += CRLF
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{encoded}"
    )


def build_message(
    headers: list[tuple[str, str]], text: str, html: str | None = None
) -> bytes:
    """A complete message: the given headers, then a text part and an optional HTML alternative."""
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    if html is None:
        return (CRLF.join(lines) + CRLF + _text_part(text, "plain")).encode("ascii")
    boundary = f"=_tierdesk_{secrets.token_hex(12)}"
    lines.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
    body = (
        f"{CRLF}--{boundary}{CRLF}{_text_part(text, 'plain')}"
        f"--{boundary}{CRLF}{_text_part(html, 'html')}"
        f"--{boundary}--{CRLF}"
    )
    return (CRLF.join(lines) + CRLF + body).encode("ascii")
