"""Hostile mail for the parser benchmark and for fuzzing: mutations and fixed extremes.

    from bench.mutations import extreme_cases, mutations
    for name, data in mutations(raw, random.Random(7)): ...
    for name, data in extreme_cases(): ...

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

Mutation = Callable[[bytes, random.Random], bytes | None]

_BOUNDARY_RE = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.IGNORECASE)
_CHARSET_RE = re.compile(rb'(charset\s*=\s*"?)([^";\s]+)', re.IGNORECASE)
_ENCODED_WORD_CHARSET_RE = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?")
_BASE64_LINE_RE = re.compile(rb"^[A-Za-z0-9+/]{16,}={0,2}\r?$", re.MULTILINE)
_FIELD_SPLIT_RE = re.compile(rb"\r?\n(?![ \t])")
_LINE_END_RE = re.compile(rb"\r\n|\r|\n")
_SUBJECT_RE = re.compile(
    rb"^Subject:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE
)
_FROM_RE = re.compile(
    rb"^From:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE
)
_CHARSETS = (b"utf-8", b"iso-8859-1", b"koi8-r", b"windows-1251", b"us-ascii")
_CHARSETS += (b"utf-16", b"utf-7", b"cp037")


# --- helpers ---------------------------------------------------------------


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


def nested_multipart(inner: bytes, depth: int, nl: bytes = b"\n") -> bytes:
    """Wrap a MIME entity (headers + body) in `depth` levels of multipart/mixed."""
    for level in range(depth):
        boundary = b"nest%d" % level
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"'
            + nl
            + nl
            + b"--"
            + boundary
            + nl
            + inner
            + nl
            + b"--"
            + boundary
            + b"--"
            + nl
        )
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


# --- per-message mutations -------------------------------------------------


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
    multipart = (
        b'Content-Type: multipart/mixed; boundary="'
        + boundary
        + b'"'
        + nl
        + nl
        + b"--"
        + boundary
        + nl
        + inner
        + nl
        + b"--"
        + boundary
        + nl
        + attachment
        + nl
        + b"--"
        + boundary
        + b"--"
        + nl
    )
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


# --- fixed extreme cases ---------------------------------------------------


def mime_nesting(depth: int) -> bytes:
    """A message whose text part sits under `depth` levels of multipart/mixed."""
    inner = b"Content-Type: text/plain; charset=utf-8\n\nDeep inside.\n"
    return simple_headers() + nested_multipart(inner, depth)


def rfc822_nesting(depth: int) -> bytes:
    """A message holding a message/rfc822 part, `depth` levels deep."""
    message = simple_headers() + b"Content-Type: text/plain\n\nInnermost.\n"
    for _ in range(depth):
        message = simple_headers() + b"Content-Type: message/rfc822\n\n" + message
    return message


def prefix_boundaries(depth: int) -> bytes:
    """Nested multiparts whose boundaries are prefixes of each other (`b`, `bb`, ...)."""
    inner = b"Content-Type: text/plain\n\nPrefix boundaries.\n"
    for level in range(depth, 0, -1):
        boundary = b"b" * level
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\n\n--'
            + boundary
            + b"\n"
            + inner
            + b"\n--"
            + boundary
            + b"--\n"
        )
    return simple_headers() + inner


def header_line_1mb() -> bytes:
    """One unfolded 1 MiB Subject line of ASCII words."""
    subject = (b"word " * (2**20 // 5))[: 2**20]
    return simple_headers(subject) + b"Content-Type: text/plain\n\nBody.\n"


def one_word_subject_and_name() -> bytes:
    """A 1 MiB Subject of one word and a 32 KiB display name of one word.

    What we echo of them in an acknowledgement once backtracked for minutes.
    """
    # a sender of its own: Mallory is past the new-ticket limit, unacknowledged
    head = simple_headers(b"x" * 2**20).replace(
        b"From: Mallory <mallory@", b"From: " + b"m" * 2**15 + b" <wordy@", 1
    )
    return head + b"Content-Type: text/plain\n\nBody.\n"


def subject_10000_encoded_words() -> bytes:
    """A Subject of 10,000 RFC 2047 encoded words, folded one per line."""
    words = [
        base64.b64encode(f"Слово{i} ".encode()) if i % 2 else b"Q_word_%d" % i
        for i in range(10_000)
    ]
    encoded = [
        b"=?utf-8?b?" + w + b"?=" if i % 2 else b"=?utf-8?q?" + w + b"?="
        for i, w in enumerate(words)
    ]
    return simple_headers(b"\n ".join(encoded)) + b"Content-Type: text/plain\n\nBody.\n"


def to_10000_recipients() -> bytes:
    """A To header listing 10,000 recipients, with encoded display names."""
    people = b",\n ".join(
        b"=?utf-8?q?Person_%d?= <user%d@customer%d.example>" % (i, i, i % 97)
        for i in range(10_000)
    )
    head = simple_headers().replace(
        b"To: ACME Support <support@example.com>", b"To: " + people
    )
    return head + b"Content-Type: text/plain\n\nBody.\n"


def attachments_1000() -> bytes:
    """A multipart/mixed with a text part and 1,000 small base64 attachments."""
    parts = [b"Content-Type: text/plain; charset=utf-8\n\nSee the 1,000 files.\n"]
    for i in range(1000):
        data = base64.encodebytes(bytes([i % 256]) * (100 + i))
        name = (
            b"filename*=utf-8''%D1%84%D0%B0%D0%B9%D0%BB" + b"%d.bin" % i
            if i % 2
            else b'filename="file%d.bin"' % i
        )
        parts.append(
            b"Content-Type: application/octet-stream\n"
            b"Content-Disposition: attachment; "
            + name
            + b"\nContent-Transfer-Encoding: base64\n\n"
            + data
        )
    boundary = b"thousand"
    body = b"".join(b"--" + boundary + b"\n" + p + b"\n" for p in parts)
    ctype = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n'
    return simple_headers() + ctype + body + b"--" + boundary + b"--\n"


def empty_message() -> bytes:
    """Zero bytes."""
    return b""


def body_without_headers() -> bytes:
    """A body and no header block at all."""
    return b"\nJust a body, no headers.\nSecond line.\n"


def headers_100000() -> bytes:
    """100,000 header fields and a short body."""
    extra = b"".join(b"X-Filler-%d: value %d\n" % (i, i) for i in range(100_000))
    return simple_headers() + extra + b"Content-Type: text/plain\n\nBody.\n"


def qp_soft_breaks_1m() -> bytes:
    """A quoted-printable body of one million soft line breaks."""
    return (
        simple_headers()
        + b"Content-Type: text/plain; charset=utf-8\n"
        + b"Content-Transfer-Encoding: quoted-printable\n\n"
        + b"=\n" * 1_000_000
        + b"end\n"
    )


def body_line_8mb() -> bytes:
    """A text/plain body that is one 8 MiB line with no line break."""
    return simple_headers() + b"Content-Type: text/plain\n\n" + b"x" * (8 * 2**20)


def nul_bytes_1mb() -> bytes:
    """One MiB of NUL bytes and nothing else."""
    return b"\x00" * 2**20


EXTREMES: tuple[tuple[str, Callable[[], bytes]], ...] = (
    ("mime_nesting_1000", lambda: mime_nesting(1000)),
    ("mime_nesting_10000", lambda: mime_nesting(10_000)),
    ("rfc822_nesting_1000", lambda: rfc822_nesting(1000)),
    ("prefix_boundaries_1000", lambda: prefix_boundaries(1000)),
    ("header_line_1mb", header_line_1mb),
    ("one_word_subject_and_name", one_word_subject_and_name),
    ("subject_10000_encoded_words", subject_10000_encoded_words),
    ("to_10000_recipients", to_10000_recipients),
    ("attachments_1000", attachments_1000),
    ("empty_message", empty_message),
    ("body_without_headers", body_without_headers),
    ("headers_100000", headers_100000),
    ("qp_soft_breaks_1m", qp_soft_breaks_1m),
    ("body_line_8mb", body_line_8mb),
    ("nul_bytes_1mb", nul_bytes_1mb),
)


def extreme_cases() -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) for each fixed giant or degenerate message.

    Each has a Message-ID of its own, so that in the pipeline none of them
    stops early as a duplicate of another.
    """
    for name, build in EXTREMES:
        own = b"<hostile." + name.encode() + b"@attacker.example>"
        yield name, build().replace(b"<hostile.1@attacker.example>", own, 1)


def large_attachment_message(
    attachment_wire: int = 20 * 2**20, total: int = 25 * 2**20
) -> bytes:
    """One message of `total` bytes: a base64 attachment of `attachment_wire` bytes, text fills the rest."""
    rng = random.Random(25)
    data = rng.randbytes(attachment_wire * 57 // 77)  # 57 bytes -> a 76-char line + LF
    encoded = base64.encodebytes(data)[:attachment_wire]
    encoded = encoded[: len(encoded) - len(encoded) % 77]
    head = simple_headers(b"Large attachment") + (
        b'Content-Type: multipart/mixed; boundary="big"\n\n--big\n'
        b"Content-Type: text/plain; charset=utf-8\n\n"
    )
    tail = (
        b"\n--big\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="dump.bin"\n'
        b"Content-Transfer-Encoding: base64\n\n" + encoded + b"--big--\n"
    )
    filler = total - len(head) - len(tail)
    line = b"A log line of a long text body, repeated to fill the message.\n"
    text = (line * (filler // len(line) + 1))[: max(filler, 0)]
    return head + text + tail
