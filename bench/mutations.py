"""Hostile mail for the parser benchmark and for fuzzing: mutations of real messages.

    from bench.mutations import mutations
    for name, data in mutations(raw, random.Random(7)): ...

The fixed giant and degenerate messages are in bench/extreme_mail.py.

Each mutation is a plain function `(raw, rng) -> bytes | None` (None when it
does not apply to that message, e.g. no base64 part to corrupt); `mutations`
runs them all in a fixed order. The same bytes and the same seed give the
same output, and no function here raises, whatever bytes it is given.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable, Iterator

from bench.mail_surgery import (
    content_fields,
    insert_at_random,
    line_ending,
    multipart_mixed,
    nested_multipart,
    split_message,
)
from bench.mutations_encoding import (
    invalid_base64,
    invalid_quoted_printable,
    malformed_encoded_words,
    mislabelled_charset,
    nul_byte_in_charset_name,
    nul_bytes_in_body,
    nul_in_encoded_words,
    raw_8bit_subject,
    unknown_body_charset,
    unknown_encoded_word_charset,
)

Mutation = Callable[[bytes, random.Random], bytes | None]

_BOUNDARY_RE = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.IGNORECASE)
_FIELD_SPLIT_RE = re.compile(rb"\r?\n(?![ \t])")
_LINE_END_RE = re.compile(rb"\r\n|\r|\n")


def truncate_in_headers(raw: bytes, rng: random.Random) -> bytes | None:
    """Cut the message at a random point inside its header block."""
    head, _, _ = split_message(raw)
    return raw[: rng.randrange(1, len(head))] if len(head) > 1 else None


def truncate_in_body(raw: bytes, rng: random.Random) -> bytes | None:
    """Cut the message at a random point inside its body (mid-line, mid-boundary)."""
    head, sep, body = split_message(raw)
    return raw[: len(head) + len(sep) + rng.randrange(len(body))] if body else None


def wrong_boundary(raw: bytes, rng: random.Random) -> bytes | None:
    """Declare a boundary that no delimiter line in the body uses."""
    found = list(_BOUNDARY_RE.finditer(raw))
    if not found:
        return None
    match = rng.choice(found)
    return raw[: match.start(1)] + b"wrong" + match.group(1) + raw[match.end(1) :]


def missing_boundary_parameter(raw: bytes, rng: random.Random) -> bytes | None:
    """Remove the boundary parameter from a multipart Content-Type."""
    found = list(re.finditer(rb';\s*boundary\s*=\s*"?[^";\r\n]+"?', raw, re.IGNORECASE))
    if not found:
        return None
    match = rng.choice(found)
    return raw[: match.start()] + raw[match.end() :]


def missing_close_delimiters(raw: bytes, rng: random.Random) -> bytes | None:
    """Remove every closing `--boundary--` line."""
    out = re.sub(rb"(?m)^--[^\r\n]+--\r?\n?", b"", raw)
    return out if out != raw else None


def multipart_without_delimiters(raw: bytes, rng: random.Random) -> bytes | None:
    """Declare a single-part message multipart/mixed with a boundary never used."""
    if _BOUNDARY_RE.search(raw):
        return None
    head, sep, body = split_message(raw)
    content, other = content_fields(head)
    nl = line_ending(raw)
    kept = [f for f in content if not f.lower().startswith(b"content-type")]
    ctype = b'Content-Type: multipart/mixed; boundary="never-used"'
    return nl.join([*other, ctype, *kept]) + (sep or nl + nl) + body


def nul_bytes_in_headers(raw: bytes, rng: random.Random) -> bytes | None:
    """Insert NUL bytes at random places in the header block."""
    head, sep, body = split_message(raw)
    return insert_at_random(head, b"\x00", rng.randint(1, 6), rng) + sep + body


def duplicate_headers(raw: bytes, rng: random.Random) -> bytes | None:
    """Repeat Subject, From and Message-ID with different values after the originals."""
    head, sep, body = split_message(raw)
    nl = line_ending(raw)
    extra = [
        b"Subject: Second subject",
        b"From: Mallory <mallory@attacker.example>",
        b"Message-ID: <dup.%d@attacker.example>" % rng.getrandbits(32),
    ]
    return head + nl + nl.join(extra) + sep + body


def header_without_colon(raw: bytes, rng: random.Random) -> bytes | None:
    """Insert a header line with no colon in the middle of the header block."""
    head, sep, body = split_message(raw)
    fields = _FIELD_SPLIT_RE.split(head)
    fields.insert(rng.randrange(1, len(fields) + 1), b"This line has no colon at all")
    return line_ending(raw).join(fields) + sep + body


def eight_bit_header_name(raw: bytes, rng: random.Random) -> bytes | None:
    """Add header fields whose names hold 8-bit bytes and control characters."""
    head, sep, body = split_message(raw)
    nl = line_ending(raw)
    return head + nl + b"X-\xe9t\xe9: oui" + nl + b"X-\x01\x7f: ctl" + sep + body


def missing_header_separator(raw: bytes, rng: random.Random) -> bytes | None:
    """Remove the blank line between the header block and the body."""
    head, sep, body = split_message(raw)
    return head + line_ending(raw) + body if sep else None


def garbled_content_type(raw: bytes, rng: random.Random) -> bytes | None:
    """Replace the top Content-Type with a malformed one (`multipart/; ;;==`, no subtype)."""
    found = re.search(rb"(?im)^Content-Type:[^\r\n]*", raw)
    if not found:
        return None
    junk = rng.choice(
        [
            b'Content-Type: multipart/; boundary=""',
            b"Content-Type: ;;==;charset",
            b"Content-Type: text",
            b'Content-Type: text/plain; charset="; boundary=x',
            b"Content-Type: multipart/mixed; boundary=" + b"b" * 5000,
        ]
    )
    return raw[: found.start()] + junk + raw[found.end() :]


def bare_cr_line_endings(raw: bytes, rng: random.Random) -> bytes | None:
    """Turn every line ending into a bare CR (old Mac style)."""
    return _LINE_END_RE.sub(b"\r", raw)


def crlf_line_endings(raw: bytes, rng: random.Random) -> bytes | None:
    """Turn every line ending into CRLF (the form SMTP puts on the wire)."""
    out = _LINE_END_RE.sub(b"\r\n", raw)
    return out if out != raw else None


def mixed_line_endings(raw: bytes, rng: random.Random) -> bytes | None:
    """Mix CRLF, bare LF and bare CR line endings at random."""
    choices = (b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r")
    return _LINE_END_RE.sub(lambda _: rng.choice(choices), raw)


def deep_mime_nesting(raw: bytes, rng: random.Random) -> bytes | None:
    """Wrap the body in 20-400 levels of multipart/mixed."""
    head, _, body = split_message(raw)
    content, other = content_fields(head)
    nl = line_ending(raw)
    inner = nl.join(content) + nl + nl + body if content else nl + body
    nested = nested_multipart(inner, rng.randint(20, 400), nl)
    return nl.join(other) + nl + nested


def flip_random_bytes(raw: bytes, rng: random.Random) -> bytes | None:
    """Overwrite 1-20 random bytes with random values."""
    if not raw:
        return None
    out = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def stray_cr_and_lf(raw: bytes, rng: random.Random) -> bytes | None:
    """Put lone CRs and LFs inside header and body lines of a CRLF message."""
    crlf = _LINE_END_RE.sub(b"\r\n", raw)
    out = insert_at_random(crlf, b"\r", rng.randint(1, 4), rng)
    return insert_at_random(out, b"\n", rng.randint(1, 4), rng)


def bare_lf_line_endings(raw: bytes, rng: random.Random) -> bytes | None:
    """Turn every line ending into a bare LF (what a local MTA hands a pipe)."""
    out = _LINE_END_RE.sub(b"\n", raw)
    return out if out != raw else None


def nul_in_attachment_name(raw: bytes, rng: random.Random) -> bytes | None:
    """Add an attachment whose filename (RFC 2231) and content id hold NULs."""
    head, _sep, body = split_message(raw)
    content, other = content_fields(head)
    nl = line_ending(raw)
    inner = nl.join(content) + nl + nl + body if content else nl + body
    attachment = nl.join(
        [
            b'Content-Type: application/octet-stream; name="=?utf-8?q?x=00y.bin?="',
            b"Content-Disposition: attachment; filename*=utf-8''evil%00name.txt",
            b"Content-ID: <cid\x00nul@attacker.example>",
            b"Content-Transfer-Encoding: base64",
            b"",
            base64.b64encode(b"\x00" * rng.randint(1, 64)),
        ]
    )
    boundary = b"nul-att-%d" % rng.getrandbits(24)
    multipart = multipart_mixed(boundary, [inner, attachment], nl)
    return nl.join(other) + nl + multipart


def overlong_addresses(raw: bytes, rng: random.Random) -> bytes | None:
    """Replace From with a 400-character address and Cc two more (no MTA would pass them)."""
    head, sep, body = split_message(raw)
    if not sep:
        return None
    nl = line_ending(raw)
    length = rng.choice([321, 400, 1000])
    local = b"x" * (length - len(b"@long.example"))
    fields = [
        f for f in _FIELD_SPLIT_RE.split(head) if f[:3].lower() not in (b"fro", b"cc:")
    ]
    fields += [
        b"From: Long <" + local + b"@long.example>",
        b"Cc: "
        + b"c" * 300
        + b"@"
        + b"d" * 200
        + b".example, "
        + b"e" * 64
        + b"@"
        + b"f" * 400
        + b".example",
    ]
    return nl.join(fields) + sep + body


def overlong_message_ids(raw: bytes, rng: random.Random) -> bytes | None:
    """Give Message-ID, In-Reply-To and References ids of 1,000 characters and more."""
    head, sep, body = split_message(raw)
    if not sep:
        return None
    nl = line_ending(raw)
    drop = (b"message-id:", b"in-reply-to:", b"references:")
    fields = [f for f in _FIELD_SPLIT_RE.split(head) if not f.lower().startswith(drop)]
    size = rng.choice([999, 1000, 3000])
    mid = b"<" + b"m" * (size - len(b"@long.example")) + b"@long.example>"
    other = b"<" + "ж".encode() * 700 + b"@long.example>"
    fields += [
        b"Message-ID: " + mid,
        b"In-Reply-To: " + other,
        b"References: " + other + b" " + mid,
    ]
    return nl.join(fields) + sep + body


MUTATIONS: tuple[Mutation, ...] = (
    truncate_in_headers,
    truncate_in_body,
    wrong_boundary,
    missing_boundary_parameter,
    missing_close_delimiters,
    multipart_without_delimiters,
    nul_bytes_in_headers,
    nul_byte_in_charset_name,
    nul_bytes_in_body,
    invalid_base64,
    invalid_quoted_printable,
    mislabelled_charset,
    unknown_body_charset,
    unknown_encoded_word_charset,
    raw_8bit_subject,
    malformed_encoded_words,
    duplicate_headers,
    header_without_colon,
    eight_bit_header_name,
    missing_header_separator,
    garbled_content_type,
    bare_cr_line_endings,
    crlf_line_endings,
    mixed_line_endings,
    deep_mime_nesting,
    flip_random_bytes,
    stray_cr_and_lf,
    bare_lf_line_endings,
    nul_in_encoded_words,
    nul_in_attachment_name,
    overlong_addresses,
    overlong_message_ids,
)


def mutations(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Yield (mutation name, mutated bytes) for every mutation that applies to `raw`."""
    for mutate in MUTATIONS:
        out = mutate(raw, rng)
        if out is not None:
            yield mutate.__name__, out
