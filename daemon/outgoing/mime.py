"""Serialising our own mail to bytes: small, strict and fast.

The `email` package's modern policy costs about 4 ms per acknowledgement
(it re-parses every header it folds); we only ever write a handful of known
headers and one or two UTF-8 text parts, so they are written directly:
RFC 2047 encoded-words for non-ASCII header text, base64 for non-ASCII
bodies, CRLF line ends. Callers pass header values already free of line
breaks (see compose.sanitize_header_text). The one thing ever written as
raw UTF-8 is an address whose local part needs it (RFC 6532); such a mail
goes out with SMTPUTF8 or not at all.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from urllib.parse import quote

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
    headers: list[tuple[str, str]],
    text: str,
    html: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    utf8: bool = False,
) -> bytes:
    """A complete message: headers, a text part, an optional HTML alternative,
    and optional attachments given as (filename, content type, bytes).

    ASCII throughout (UnicodeEncodeError otherwise) unless `utf8`: then the
    headers may carry UTF-8 addresses, for a mail sent with SMTPUTF8.
    """
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    body = _body_part(text, html)
    if attachments:
        boundary = _boundary()
        parts = [body, *(_attachment_part(*a) for a in attachments)]
        body = _multipart("mixed", boundary, parts)
    return (CRLF.join(lines) + CRLF + body).encode("utf-8" if utf8 else "ascii")


def _body_part(text: str, html: str | None) -> str:
    if html is None:
        return _text_part(text, "plain")
    parts = [_text_part(text, "plain"), _text_part(html, "html")]
    return _multipart("alternative", _boundary(), parts)


def _boundary() -> str:
    return f"=_tierdesk_{secrets.token_hex(12)}"


def _multipart(subtype: str, boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}{CRLF}{part}" for part in parts)
    return (
        f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}{CRLF}'
        f"{inner}--{boundary}--{CRLF}"
    )


def _attachment_part(filename: str, content_type: str, data: bytes) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+", content_type):
        content_type = "application/octet-stream"
    if (
        filename.isascii()
        and filename.isprintable()
        and '"' not in filename
        and "\\" not in filename
    ):
        disposition = f'attachment; filename="{filename}"'
    else:  # RFC 2231: UTF-8, percent-encoded
        disposition = f"attachment; filename*=utf-8''{quote(filename, safe='')}"
    encoded = base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
    return (
        f"Content-Type: {content_type}{CRLF}Content-Disposition: {disposition}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{encoded}"
    )
