"""Mutations of charsets and transfer encodings: NUL bytes, bad base64 and
quoted-printable, mislabelled and unknown charsets, broken encoded words.

Each is `(raw, rng) -> bytes | None`, as in bench/mutations.py, which runs them.
"""

from __future__ import annotations

import base64
import random
import re

from bench.mail_surgery import (
    insert_at_random,
    split_message,
)

_CHARSET_RE = re.compile(rb'(charset\s*=\s*"?)([^";\s]+)', re.IGNORECASE)
_ENCODED_WORD_CHARSET_RE = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?")
_BASE64_LINE_RE = re.compile(rb"^[A-Za-z0-9+/]{16,}={0,2}\r?$", re.MULTILINE)
_SUBJECT_RE = re.compile(
    rb"^Subject:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE
)
_FROM_RE = re.compile(
    rb"^From:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE
)
_CHARSETS = (b"utf-8", b"iso-8859-1", b"koi8-r", b"windows-1251", b"us-ascii")
_CHARSETS += (b"utf-16", b"utf-7", b"cp037")


def nul_byte_in_charset_name(raw: bytes, rng: random.Random) -> bytes | None:
    """Put a NUL inside a charset name (`utf\\0-8`)."""
    found = list(_CHARSET_RE.finditer(raw))
    if not found:
        return None
    match = rng.choice(found)
    name = match.group(2)
    cut = rng.randrange(len(name) + 1)
    return (
        raw[: match.start(2)] + name[:cut] + b"\x00" + name[cut:] + raw[match.end(2) :]
    )


def nul_bytes_in_body(raw: bytes, rng: random.Random) -> bytes | None:
    """Insert NUL bytes (single ones and one run of 1,000) at random places in the body."""
    head, sep, body = split_message(raw)
    if not body:
        return None
    body = insert_at_random(body, b"\x00", rng.randint(1, 6), rng)
    return head + sep + insert_at_random(body, b"\x00" * 1000, 1, rng)


def invalid_base64(raw: bytes, rng: random.Random) -> bytes | None:
    """Corrupt base64 lines: bad characters, stray padding, a dropped character."""
    lines = list(_BASE64_LINE_RE.finditer(raw))
    if not lines:
        return None
    out = bytearray(raw)
    # Edit from the end so earlier offsets stay valid.
    for match in sorted(
        rng.sample(lines, min(4, len(lines))), key=lambda m: -m.start()
    ):
        at = rng.randrange(match.start(), match.end() - 1)
        kind = rng.randrange(3)
        if kind == 0:
            out[at : at + 1] = rng.choice([b"!", b"*", b"\xff", b"-", b"_"])
        elif kind == 1:
            out[at:at] = b"=="
        else:
            del out[at]
    return bytes(out)


def invalid_quoted_printable(raw: bytes, rng: random.Random) -> bytes | None:
    """Insert broken escapes (`=ZZ`, `=4`, `= `, a final `=`) into a QP body."""
    if b"quoted-printable" not in raw.lower():
        return None
    head, sep, body = split_message(raw)
    for piece in (b"=ZZ", b"=4", b"= ", b"=\xe9", b"=3D=3"):
        body = insert_at_random(body, piece, 1, rng)
    return head + sep + body + b"="


def mislabelled_charset(raw: bytes, rng: random.Random) -> bytes | None:
    """Relabel every charset parameter as another real charset (utf-16, cp037 ...)."""
    if not _CHARSET_RE.search(raw):
        return None

    def relabel(match: re.Match[bytes]) -> bytes:
        others = [c for c in _CHARSETS if c != match.group(2).lower()]
        return match.group(1) + rng.choice(others)

    return _CHARSET_RE.sub(relabel, raw)


def unknown_body_charset(raw: bytes, rng: random.Random) -> bytes | None:
    """Label every body part with a charset that does not exist (`x-mac-klingon`)."""
    out = _CHARSET_RE.sub(rb"\1x-mac-klingon", raw)
    return out if out != raw else None


def unknown_encoded_word_charset(raw: bytes, rng: random.Random) -> bytes | None:
    """Give every RFC 2047 encoded word an unknown charset (`=?x-unknown?q?...`)."""
    out = _ENCODED_WORD_CHARSET_RE.sub(rb"=?x-unknown?\2?", raw)
    return out if out != raw else None


def raw_8bit_subject(raw: bytes, rng: random.Random) -> bytes | None:
    """Replace Subject with raw 8-bit bytes in a random legacy charset plus an encoded word."""
    text = rng.choice(
        ["Problème urgent", "Проблема с принтером", "Größe überschritten"]
    )
    charset = rng.choice(["latin-1", "koi8-r", "cp1251", "utf-8"])
    value = text.encode(charset, "replace") + b" =?utf-8?q?=F0=9F=98=80?="
    out, count = _SUBJECT_RE.subn(lambda _: b"Subject: " + value, raw, count=1)
    return out if count else None


def malformed_encoded_words(raw: bytes, rng: random.Random) -> bytes | None:
    """Subject and From name of broken RFC 2047: bad base64, split UTF-8, no `?=`."""
    words = [
        b"=?utf-8?b?!!!not-base64?=",
        b"=?utf-8?q?=D0?= =?utf-8?q?=9F=D1=80?=",  # a character split over two words
        b"=?utf-8?q?unterminated",
        b"=?utf-8?b?0J/RgA?=",  # missing padding
        b"=??q?empty_charset?=",
        b"=?utf-8*en?q?with_language?=",
    ]
    rng.shuffle(words)
    subject = b"Subject: " + b" ".join(words)
    name = b'From: "=?utf-8?b?!!?= =?utf-8?q?Al=C3?=" <alice@customer.example>'
    out, n_subject = _SUBJECT_RE.subn(lambda _: subject, raw, count=1)
    out, n_from = _FROM_RE.subn(lambda _: name, out, count=1)
    return out if n_subject or n_from else None


def nul_in_encoded_words(raw: bytes, rng: random.Random) -> bytes | None:
    """Encode NULs into Subject and the From name (`=00` in RFC 2047 words)."""
    subject = (
        b"Subject: =?utf-8?q?before=00after?= =?utf-8?b?"
        + base64.b64encode(b"nul\x00inside")
        + b"?="
    )
    name = b'From: "=?utf-8?q?Al=00ice?=" <alice@customer.example>'
    out, n_subject = _SUBJECT_RE.subn(lambda _: subject, raw, count=1)
    out, n_from = _FROM_RE.subn(lambda _: name, out, count=1)
    return out if n_subject or n_from else None
