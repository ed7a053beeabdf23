"""Stage 1 of the pipeline: raw message bytes become a `ParsedMail`.

The standard library's compat32 parser runs once; a walk over its parts
(without recursion, with a depth limit) takes the text and HTML bodies and
the attachments. The headers that drive threading and replies (Subject,
From, To, Cc, Reply-To) are taken raw and decoded once each by
`parsers.headers`; message ids are cut out with a regex. Nothing here
raises: whatever goes wrong becomes a string in `ParsedMail.defects` and a
fallback value. (mail-parser was used before: it sat on compat32 anyway,
cost 78 % of the parse, and lost every attachment on a NUL in a charset name;
see bench/parsers.py.)
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from tierdesk.parsers.filenames import sanitize_filename
from tierdesk.parsers.headers import (
    decode_header_value,
    decode_text_bytes,
    extract_message_id,
    extract_message_ids,
    parse_addresses,
    single_line,
    text_from_8bit,
    unfold,
)
from tierdesk.parsers.html_text import MAX_HTML_CHARS, html_to_text
from tierdesk.parsers.parsed import Address, MailAttachment, ParsedMail

_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
_MAX_DEFECTS = 50
_MAX_DEFECT_LENGTH = 300
_MAX_WALK_DEPTH = 50  # our own tree walks; mail-parser has already coped deeper
_SYNTHETIC_DOMAIN = "missing-message-id.tierdesk.invalid"
# Headers an MTA adds on the way in, kept in order (topmost first) with every
# copy: which copy to trust depends on where it stands.
TRACE_HEADERS = frozenset(
    {
        "return-path",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-to",
        "x-delivered-to",
        "authentication-results",
    }
)
_MAX_TRACE = 64


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one raw RFC 5322 message into a `ParsedMail`; never raises.

    Anything malformed is recorded in `defects` and replaced by a fallback value.
    """
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001
        # Last resort: the pipeline needs a ParsedMail for every spool item.
        return _empty(raw, _clip(f"parser failed: {type(exc).__name__}: {exc}"))


def _parse(raw: bytes) -> ParsedMail:
    digest = hashlib.sha256(raw).hexdigest()
    defects: list[str] = []
    msg = _stdlib_only(raw, defects)

    first = _first_values(msg, defects)
    trace = _trace(msg)
    # The first text part's charset is the best guess for raw 8-bit headers;
    # only look for it when some header actually has 8-bit bytes.
    fallback = (
        None if all(v.isascii() for v in first.values()) else _first_text_charset(msg)
    )
    headers = _decoded_headers(first, fallback, defects)

    subject, notes = decode_header_value(first.get("subject", ""), "Subject", fallback)
    defects += notes
    headers["subject"] = subject
    fields: dict[str, list[Address]] = {}
    for name in _ADDRESS_HEADERS:
        if name in first:
            field = parse_addresses(name, first[name], fallback)
            fields[name] = field.addresses
            headers[name] = field.text
            defects += field.defects

    message_id = extract_message_id(first.get("message-id", ""))
    synthesized = message_id is None
    if message_id is None:
        what = "unusable" if first.get("message-id", "").strip() else "missing"
        defects.append(f"Message-ID {what}; synthesized from the raw bytes' sha256")
        message_id = f"{digest[:32]}@{_SYNTHETIC_DOMAIN}"

    text_parts, html_parts = _redecode_texts(msg, defects)
    attachments = _attachments(msg, defects)
    date = _parse_date(first.get("date", ""))
    if date is None and first.get("date", "").strip():
        defects.append(_clip(f"Date unusable: {single_line(first['date'])!r}"))
    defects += _parser_defects(msg)

    html = "\n".join(html_parts) if html_parts else None
    text = "\n".join(text_parts)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if html and not text.strip():
        if len(html) > MAX_HTML_CHARS:
            defects.append(f"HTML body of {len(html)} characters; text from its start")
        text = html_to_text(html)

    from_ = fields.get("from") or []
    return ParsedMail(
        message_id=message_id,
        message_id_synthesized=synthesized,
        in_reply_to=extract_message_ids(first.get("in-reply-to", "")),
        references=extract_message_ids(first.get("references", "")),
        subject=subject,
        from_=from_[0] if from_ else None,
        reply_to=fields.get("reply-to", []),
        to=fields.get("to", []),
        cc=fields.get("cc", []),
        date=date,
        headers=headers,
        content_type=msg.get_content_type(),
        text=text,
        html=html,
        attachments=attachments,
        defects=defects[:_MAX_DEFECTS],
        size=len(raw),
        sha256=digest,
        trace=trace,
    )


def _empty(raw: bytes, defect: str) -> ParsedMail:
    raw = raw if isinstance(raw, bytes) else b""
    digest = hashlib.sha256(raw).hexdigest()
    return ParsedMail(
        message_id=f"{digest[:32]}@{_SYNTHETIC_DOMAIN}",
        message_id_synthesized=True,
        in_reply_to=[],
        references=[],
        subject="",
        from_=None,
        reply_to=[],
        to=[],
        cc=[],
        date=None,
        headers={},
        content_type="text/plain",
        text="",
        html=None,
        attachments=[],
        defects=[defect],
        size=len(raw),
        sha256=digest,
    )


def _stdlib_only(raw: bytes, defects: list[str]) -> Message:
    try:
        return BytesParser(policy=compat32).parsebytes(raw)
    except RecursionError:
        defects.append("MIME nesting too deep; headers only, no body or attachments")
    except Exception as exc:  # noqa: BLE001 - the headers are all we can still get
        defects.append(
            _clip(f"MIME structure unreadable ({type(exc).__name__}); headers only")
        )
    return _headers_only(raw)


def _headers_only(raw: bytes) -> Message:
    # headersonly never descends into the body, so it cannot recurse.
    return BytesParser(policy=compat32).parsebytes(raw, headersonly=True)


def _first_values(msg: Message, defects: list[str]) -> dict[str, str]:
    """Lower-cased header name -> its first raw value (surrogateescape str)."""
    first: dict[str, str] = {}
    for name, value in msg.raw_items():
        if not name.isascii():
            defects.append(_clip(f"header name with 8-bit bytes ignored: {name!r}"))
            continue
        first.setdefault(name.lower(), value if isinstance(value, str) else str(value))
    return first


def _trace(msg: Message) -> tuple[tuple[str, str], ...]:
    """The trace headers (TRACE_HEADERS), every copy, topmost first, unfolded."""
    found = []
    for name, value in msg.raw_items():
        lowered = name.lower() if name.isascii() else ""
        if lowered in TRACE_HEADERS and len(found) < _MAX_TRACE:
            text = value if isinstance(value, str) else str(value)
            found.append((lowered, single_line(unfold(text))))
    return tuple(found)


def _decoded_headers(
    first: dict[str, str], fallback: str | None, defects: list[str]
) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in first.items():
        if name == "subject" or name in _ADDRESS_HEADERS:
            continue  # decoded once, properly, by the caller
        if value.isascii() and "=?" not in value:
            headers[name] = single_line(unfold(value))
        else:
            headers[name], notes = decode_header_value(value, name, fallback)
            defects += notes
    return headers


def _walk(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Yield (part, inside_an_attachment) depth-first, without recursion."""
    stack: list[tuple[Message, bool, int]] = [(msg, False, 0)]
    while stack:
        part, inside, depth = stack.pop()
        yield part, inside
        # is_multipart() first: get_payload() on a leaf decodes its charset.
        if part.is_multipart() and depth < _MAX_WALK_DEPTH:
            inside = inside or part.get_content_disposition() == "attachment"
            stack.extend((p, inside, depth + 1) for p in reversed(part.get_payload()))


def _first_text_charset(msg: Message) -> str | None:
    for part, _ in _walk(msg):
        if part.get_content_maintype() == "text":
            return part.get_content_charset()
    return None


def _is_attachment(part: Message, inside: bool) -> bool:
    """A file rather than the message's text: named, marked attachment, or not text."""
    if part.is_multipart() or inside:
        return not part.is_multipart()
    if part.get_content_disposition() == "attachment" or part.get_param("name"):
        return True
    if part.get_filename():
        return True
    return part.get_content_type() not in ("text/plain", "text/html")


def _redecode_texts(msg: Message, defects: list[str]) -> tuple[list[str], list[str]]:
    plain: list[str] = []
    html: list[str] = []
    for index, (part, inside) in enumerate(_walk(msg)):
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html") or _is_attachment(part, inside):
            continue
        data = part.get_payload(decode=True) or b""
        text, note = decode_text_bytes(data, part.get_content_charset())
        if note:
            defects.append(f"{ctype} part {index}: {note}")
        (html if ctype == "text/html" else plain).append(text)
    return plain, html


def _attachments(msg: Message, defects: list[str]) -> list[MailAttachment]:
    result = []
    for part, inside in _walk(msg):
        if part is msg and not msg.is_multipart() and not _is_attachment(part, False):
            continue
        if (
            not _is_attachment(part, inside)
            or part.get_content_type() == "message/rfc822"
        ):
            continue
        index = len(result) + 1
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001 - a broken part must not cost the message
            defects.append(_clip(f"attachment {index}: payload unreadable ({exc})"))
            data = None
        ctype = part.get_content_type()
        cid = str(part.get("content-id") or "").strip().strip("<>").strip() or None
        disposition = part.get_content_disposition()
        # Inline means "shown inside the HTML via cid:", not "no filename".
        inline = bool(cid) and disposition != "attachment"
        result.append(
            MailAttachment(
                _attachment_name(part, ctype, index, defects),
                ctype[:255],
                data if isinstance(data, bytes) else b"",
                cid,
                inline,
            )
        )
    return result


def _attachment_name(part: Message, ctype: str, index: int, defects: list[str]) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:  # noqa: BLE001 - an unreadable RFC 2231 parameter names nothing
        name = ""
    if isinstance(name, tuple):  # an RFC 2231 value get_param left undecoded
        name = str(name[2])
    if "\ufffd" in name:  # raw 8-bit bytes in the header: read it as text first
        name = _filename_of_8bit_header(part) or name
    if "=?" in name:  # Outlook writes RFC 2047 words into the filename
        name, notes = decode_header_value(name, "filename")
        defects += notes
    subtype = ctype.partition("/")[2]
    ext = mimetypes.guess_extension(ctype, strict=False) or (
        f".{subtype}" if subtype.isalnum() and len(subtype) <= 8 else ""
    )
    return sanitize_filename(str(name), fallback=f"attachment-{index}{ext}")


def _filename_of_8bit_header(part: Message) -> str:
    """The filename of a header written in raw UTF-8 (or a legacy charset), decoded."""
    decoded = Message()
    for header, raw in part.raw_items():  # get() would wrap 8-bit values in a Header
        if header.lower() in ("content-disposition", "content-type"):
            decoded[header] = text_from_8bit(str(raw), part.get_content_charset())[0]
    try:
        return decoded.get_filename() or str(decoded.get_param("name") or "")
    except Exception:  # noqa: BLE001 - an unreadable parameter names nothing
        return ""


def _parser_defects(msg: Message) -> list[str]:
    """What the stdlib noticed about the structure (a missing boundary ...)."""
    found = []
    for part, _ in _walk(msg):
        found += [
            f"{part.get_content_type()}: {type(d).__name__}" for d in part.defects
        ]
    return [_clip(d) for d in dict.fromkeys(found)]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_date(value: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(single_line(unfold(value))))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _clip(text: str) -> str:
    # Evidence quoted from the wire may hold lone surrogates (raw 8-bit bytes).
    text = single_line(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return (
        text[: _MAX_DEFECT_LENGTH - 1] + "…" if len(text) > _MAX_DEFECT_LENGTH else text
    )
