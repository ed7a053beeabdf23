"""The corpora `bench/parsers.py` runs: the hostile one, tricky legitimate probes, and their files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.extreme_mail import extreme_cases
from bench.mutations import mutations


def hostile_corpus(
    normal: list[bytes], base: int, seed: int
) -> list[tuple[str, bytes]]:
    """Every mutation of `base` messages spread over `normal`, then the extreme cases."""
    step = max(1, len(normal) // max(base, 1))
    out = []
    for index in range(0, len(normal), step)[:base]:
        rng = random.Random(seed * 1_000_003 + index)
        out += list(mutations(normal[index], rng))
    return out + [(f"extreme:{name}", data) for name, data in extreme_cases()]


def probe_messages() -> list[tuple[str, bytes]]:
    """Legitimate but tricky messages on which parsers are known to differ."""
    head = (
        b"From: Alice <alice@customer.example>\nTo: support@example.com\n"
        b"Message-ID: <probe@customer.example>\nMIME-Version: 1.0\n"
    )

    def mixed(subject: bytes, *parts: bytes) -> bytes:
        """A multipart/mixed message of a plain text part and `parts`."""
        body = b"--p\nContent-Type: text/plain; charset=utf-8\n\nSee attached.\n"
        body += b"".join(b"--p\n" + p + b"\n" for p in parts)
        ctype = b'Content-Type: multipart/mixed; boundary="p"\n\n'
        return head + b"Subject: " + subject + b"\n" + ctype + body + b"--p--\n"

    def single(subject: bytes, ctype: bytes, body: bytes, extra: bytes = b"") -> bytes:
        """A single-part message with the given Content-Type and body."""
        return head + b"Subject: " + subject + b"\n" + extra + ctype + b"\n\n" + body

    pdf = b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
    return [
        (
            "rfc2231_filename",
            mixed(
                b"RFC 2231 name",
                pdf + b"Content-Disposition: attachment; filename*=utf-8''"
                b"%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf\n\nJVBERi0xLjQK",
            ),
        ),
        (
            "rfc2231_continuations",
            mixed(
                b"RFC 2231 continuations",
                pdf + b"Content-Disposition: attachment;\n filename*0*=utf-8''"
                b'Rechnung%20M%C3%A4rz;\n filename*1="_2026.pdf"\n\nJVBERi0xLjQK',
            ),
        ),
        (
            "rfc2047_filename",
            mixed(
                b"RFC 2047 name (Outlook)",
                pdf + b'Content-Disposition: attachment; filename="=?utf-8?b?'
                b'0L7RgtGH0ZHRgi5wZGY=?="\n\nJVBERi0xLjQK',
            ),
        ),
        (
            "unknown_charset",
            single(
                b"Unknown charset",
                b"Content-Type: text/plain; charset=x-mac-klingon",
                "Grüße, Привет\n".encode(),
            ),
        ),
        (
            "utf8_labelled_latin1",
            single(
                b"Mislabelled charset",
                b"Content-Type: text/plain; charset=utf-8",
                "Grüße aus Köln\n".encode("latin-1"),
            ),
        ),
        (
            "no_charset_8bit_body",
            single(b"No charset", b"Content-Type: text/plain", "Grüße\n".encode()),
        ),
        (
            "raw_latin1_subject",
            single(
                b"Probl\xe8me urgent =?utf-8?q?=F0=9F=98=80?=",
                b"Content-Type: text/plain; charset=iso-8859-1",
                b"Corps\n",
            ),
        ),
        (
            "raw_utf8_subject",
            single(
                "Проблема с входом".encode(),
                b"Content-Type: text/plain; charset=utf-8",
                b"Body\n",
            ),
        ),
        (
            "split_multibyte_words",
            single(
                b"=?utf-8?q?=D0?= =?utf-8?q?=9F=D1=80=D0=B8?=\n =?utf-8?q?_=D0=B2?=",
                b"Content-Type: text/plain",
                b"Body\n",
            ),
        ),
        (
            "unknown_charset_word",
            single(
                b"=?x-unknown?q?Caf=E9?= ok",
                b"Content-Type: text/plain",
                b"Body\n",
            ),
        ),
        (
            "from_quoted_comma",
            single(
                b"Comments",
                b"Content-Type: text/plain",
                b"Body\n",
                b'Reply-To: "Smith, Alice" (work) <alice@customer.example>\n',
            ).replace(
                b"From: Alice <alice@customer.example>",
                b'From: "Smith, Alice" (work) <alice@customer.example>',
            ),
        ),
        (
            "latin1_text_attachment",
            mixed(
                b"Text attachment",
                b"Content-Type: text/plain; charset=iso-8859-1\n"
                b'Content-Disposition: attachment; filename="notes.txt"\n'
                b"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n",
            ),
        ),
        (
            "text_part_with_name",
            mixed(
                b"Named text part",
                b'Content-Type: text/plain; charset=utf-8; name="log.txt"\n\n'
                b"line 1\nline 2\n",
            ),
        ),
        (
            "inline_image_cid",
            mixed(
                b"Inline image",
                b"Content-Type: image/png\nContent-ID: <img1@x>\n"
                b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=",
            ),
        ),
        (
            "forwarded_rfc822",
            mixed(
                b"Fwd: original",
                b"Content-Type: message/rfc822\n\n"
                b"From: Bob <bob@x.example>\nSubject: Inner\n"
                b"Content-Type: text/plain\n\nInner body\n",
            ),
        ),
    ]


def write_corpus(messages: list[bytes], folder: Path) -> Path:
    """Store messages as one data file plus an index of (offset, length); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    with open(folder / "data.bin", "wb") as data:
        for raw in messages:
            index.append((data.tell(), len(raw)))
            data.write(raw)
    (folder / "index.json").write_text(json.dumps(index))
    return folder
