"""Fixed giant and degenerate messages, for the parser benchmark and for fuzzing.

    from bench.extreme_mail import extreme_cases
    for name, data in extreme_cases(): ...

Each is built the same way every time, and each has a Message-ID of its own.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterator

from bench.mail_surgery import nested_multipart, simple_headers


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
