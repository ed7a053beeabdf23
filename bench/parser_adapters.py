"""The parsers `bench/parsers.py` compares, each behind one function: raw bytes in, an `Extract` out.

Every adapter parses, decodes Subject and From, and walks the parts for the
plain and HTML text and the attachments' bytes, the way tierdesk needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

PARSERS = (
    "tierdesk",
    "mail_parser",
    "stdlib_compat32",
    "stdlib_default",
    "fast_mail_parser",
)
SHOWN = 200  # characters of a subject or text kept in a worker's record
TINY = (
    b"From: A <a@example.com>\nTo: b@example.com\nSubject: warm-up\n"
    b"Content-Type: text/plain; charset=utf-8\n\nHello.\n"
)


# --- what every parser must produce ------------------------------------------


@dataclass
class Extract:
    """The fields compared across parsers, as one parser produced them."""

    subject: str
    from_addr: str
    to_count: int
    text: str
    html: str
    attachments: list[tuple[str, int]]  # (filename, decoded size)
    notes: list[str] = field(default_factory=list)  # fallbacks, warnings


class Step:
    """The step an adapter is in, so an exception's kind says where it came from."""

    name = "parse"


def _tierdesk() -> Callable[[bytes], Extract]:
    """tierdesk's `parse_mail` as it is; notes are its internal fallbacks."""
    import re

    from tierdesk.parsers.parse import parse_mail

    fallback = re.compile(
        r"^(parser failed: \w+|mail-parser failed \(\w+|MIME nesting too deep)"
    )

    def run(raw: bytes) -> Extract:
        """Parse with `parse_mail` and keep the compared fields."""
        mail = parse_mail(raw)
        notes = [m.group(1) for d in mail.defects if (m := fallback.match(d))]
        return Extract(
            mail.subject,
            mail.from_.email if mail.from_ else "",
            len(mail.to),
            mail.text,
            mail.html or "",
            [(a.filename, len(a.data)) for a in mail.attachments],
            notes,
        )

    return run


def _decode_body(data: bytes, charset: str | None) -> str:
    """Decode a text part's bytes in its charset; unknown charsets fall back to UTF-8."""
    try:
        return data.decode(charset or "us-ascii", "replace")
    except (LookupError, ValueError):  # ValueError: a NUL in the charset name
        return data.decode("utf-8", "replace")


def _stdlib_compat32() -> Callable[[bytes], Extract]:
    """The stdlib with compat32: decode_header/make_header, parseaddr, get_payload."""
    from email import message_from_bytes
    from email.header import decode_header, make_header
    from email.policy import compat32
    from email.utils import getaddresses, parseaddr

    def run(raw: bytes) -> Extract:
        """Parse, decode Subject/From/To, walk the leaves for bodies and attachments."""
        Step.name = "parse"
        msg = message_from_bytes(raw, policy=compat32)
        Step.name = "headers"
        value = msg.get("subject")
        subject = str(make_header(decode_header(value))) if value is not None else ""
        from_addr = parseaddr(str(msg.get("from", "")))[1]
        to_count = len(getaddresses([str(v) for v in msg.get_all("to", [])]))
        Step.name = "bodies"
        plain, html, attachments = [], [], []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            data = part.get_payload(decode=True) or b""
            if ctype in ("text/plain", "text/html") and (
                part.get_content_disposition() != "attachment"
            ):
                text = _decode_body(data, part.get_content_charset())
                (plain if ctype == "text/plain" else html).append(text)
            else:
                attachments.append((part.get_filename() or "", len(data)))
        return Extract(
            subject, from_addr, to_count, "\n".join(plain), "\n".join(html), attachments
        )

    return run


def _stdlib_default() -> Callable[[bytes], Extract]:
    """The stdlib with policy.default: header objects, get_content, get_payload."""
    from email.parser import BytesParser
    from email.policy import default

    parser = BytesParser(policy=default)

    def run(raw: bytes) -> Extract:
        """Parse, read Subject/From/To once each, walk the leaves."""
        Step.name = "parse"
        msg = parser.parsebytes(raw)
        Step.name = "headers"
        subject = str(msg.get("subject", ""))
        sender = msg.get("from")
        found = sender.addresses if sender is not None else ()
        from_addr = found[0].addr_spec if found else ""
        to = msg.get("to")
        to_count = len(to.addresses) if to is not None else 0
        Step.name = "bodies"
        plain, html, attachments = [], [], []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and (
                part.get_content_disposition() != "attachment"
            ):
                try:
                    text = part.get_content()
                except (LookupError, ValueError):  # unknown charset, NUL in its name
                    data = part.get_payload(decode=True) or b""
                    text = data.decode("utf-8", "replace")
                (plain if ctype == "text/plain" else html).append(text)
            else:
                data = part.get_payload(decode=True) or b""
                attachments.append((part.get_filename() or "", len(data)))
        return Extract(
            subject, from_addr, to_count, "\n".join(plain), "\n".join(html), attachments
        )

    return run


def _mail_parser() -> Callable[[bytes], Extract]:
    """mail-parser's `parse_from_bytes`, as tierdesk used it before issue 10."""
    import base64

    import mailparser

    def run(raw: bytes) -> Extract:
        """Parse once and read its properties; attachments' payloads are base64 strings."""
        mail = mailparser.parse_from_bytes(raw)
        sender = mail.from_[0][1] if mail.from_ else ""
        attachments = [
            (
                a.get("filename") or "",
                len(
                    base64.b64decode(a["payload"]) if a.get("binary") else a["payload"]
                ),
            )
            for a in mail.attachments
        ]
        subject = mail.subject if isinstance(mail.subject, str) else str(mail.subject)
        return Extract(
            subject,
            sender,
            len(mail.to),
            "\n".join(mail.text_plain),
            "\n".join(mail.text_html),
            attachments,
            list(mail.defects_categories),
        )

    return run


def _fast_mail_parser() -> Callable[[bytes], Extract]:
    """fast-mail-parser's `parse_email` (full mode); notes are its warning kinds."""
    from fast_mail_parser import parse_email

    def run(raw: bytes) -> Extract:
        """Parse once and read the flat projection."""
        mail = parse_email(raw)
        return Extract(
            mail.subject,
            mail.from_.address if mail.from_ else "",
            len(mail.to),
            "\n".join(mail.text_plain),
            "\n".join(mail.text_html),
            [(a.filename, len(a.content)) for a in mail.attachments],
            [w.kind for w in mail.warnings],
        )

    return run


LOADERS: dict[str, Callable[[], Callable[[bytes], Extract]]] = {
    "tierdesk": _tierdesk,
    "mail_parser": _mail_parser,
    "stdlib_compat32": _stdlib_compat32,
    "stdlib_default": _stdlib_default,
    "fast_mail_parser": _fast_mail_parser,
}
