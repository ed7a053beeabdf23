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
import io
import re
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from itertools import islice

from tierdesk.parsers.address_fields import parse_addresses
from tierdesk.parsers.headers import (
    clip_note,
    decode_header_value,
    extract_message_id,
    extract_message_ids,
    single_line,
    unfold,
)
from tierdesk.parsers.html_text import MAX_HTML_CHARS, html_to_text
from tierdesk.parsers.mime_parts import (
    Budget,
    attachments,
    first_text_charset,
    left_out_note,
    parser_defects,
    texts,
    walk_parts,
)
from tierdesk.parsers.parsed import Address, ParsedMail, ParseLimits
from tierdesk.parsers.quotes import text_fingerprint

DEFAULT_LIMITS = ParseLimits()
_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
_MAX_DEFECTS = 50
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
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")


def parse_mail(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedMail:
    """Parse one raw RFC 5322 message into a `ParsedMail`; never raises.

    Anything malformed is recorded in `defects` and replaced by a fallback
    value; whatever lies past one of the `limits` is left out, with a defect.
    """
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    try:
        return _parse(raw, limits)
    except Exception as exc:  # noqa: BLE001
        # Last resort: the pipeline needs a ParsedMail for every spool item.
        return _empty(raw, clip_note(f"parser failed: {type(exc).__name__}: {exc}"))


def _parse(raw: bytes, limits: ParseLimits) -> ParsedMail:
    digest = hashlib.sha256(raw).hexdigest()
    # Caps that trip go first, so the 50 kept defects always name them.
    capped: list[str] = []
    defects: list[str] = []
    msg = _stdlib_only(raw, defects)

    first, trace = _read_headers(msg, limits, capped, defects)
    parts = walk_parts(msg, limits, capped)
    # The first text part's charset is the best guess for raw 8-bit headers;
    # only look for it when some header actually has 8-bit bytes.
    fallback = (
        None if all(v.isascii() for v in first.values()) else first_text_charset(parts)
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

    budget = Budget(limits.decoded_size)
    text_parts, html_parts = texts(parts, budget, defects, capped)
    files = attachments(parts, budget, defects)
    capped += left_out_note(budget, limits.decoded_size)
    date = _parse_date(first.get("date", ""))
    if date is None and first.get("date", "").strip():
        defects.append(clip_note(f"Date unusable: {single_line(first['date'])!r}"))
    defects += parser_defects(parts)

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
        attachments=files,
        defects=(capped + defects)[:_MAX_DEFECTS],
        size=len(raw),
        sha256=digest,
        trace=trace,
        text_fingerprint=text_fingerprint(text),
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
    # parse() on a stream, not parsebytes(): that one first makes the whole
    # message a str and then a StringIO (4 bytes a character): 185 MB for 25 MB.
    try:
        return BytesParser(policy=compat32).parse(io.BytesIO(raw))
    except RecursionError:
        defects.append("MIME nesting too deep; headers only, no body or attachments")
    except Exception as exc:  # noqa: BLE001 - the headers are all we can still get
        defects.append(
            clip_note(f"MIME structure unreadable ({type(exc).__name__}); headers only")
        )
    return _headers_only(raw)


def _headers_only(raw: bytes) -> Message:
    # headersonly never descends into the body, so it cannot recurse.
    blank = _BLANK_LINE_RE.search(raw)
    head = raw[: blank.end()] if blank else raw
    return BytesParser(policy=compat32).parse(io.BytesIO(head), headersonly=True)


def _read_headers(
    msg: Message, limits: ParseLimits, capped: list[str], defects: list[str]
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """The first raw value of each header (lower-cased name -> surrogateescape str),
    and the trace headers (TRACE_HEADERS), every copy, topmost first, unfolded.

    Only the first `limits.header_fields` fields are read, each cut to
    `limits.header_length` characters.
    """
    if len(msg) > limits.header_fields:
        capped.append(
            f"{len(msg)} header fields; the first {limits.header_fields} read"
        )
    first: dict[str, str] = {}
    trace: list[tuple[str, str]] = []
    long_fields: list[str] = []
    for name, raw_value in islice(msg.raw_items(), limits.header_fields):
        if not name.isascii():
            defects.append(clip_note(f"header name with 8-bit bytes ignored: {name!r}"))
            continue
        lowered = name.lower()
        value = raw_value if isinstance(raw_value, str) else str(raw_value)
        if len(value) > limits.header_length:
            long_fields.append(f"{name} ({len(value)})")
            value = _cut(value, limits.header_length, lowered in _ADDRESS_HEADERS)
        first.setdefault(lowered, value)
        if lowered in TRACE_HEADERS and len(trace) < _MAX_TRACE:
            trace.append((lowered, single_line(unfold(value))))
    if long_fields:
        capped.append(
            clip_note(
                f"{len(long_fields)} header field(s) over {limits.header_length} "
                f"characters cut: {', '.join(long_fields[:5])}"
            )
        )
    return first, tuple(trace)


def _cut(value: str, limit: int, addresses: bool) -> str:
    """`value` cut to `limit` characters: after the last whole address of a list,
    else at a space, so an encoded word is not split in two."""
    cut = value[:limit]
    end = cut.rfind(",") if addresses else max(cut.rfind(" "), cut.rfind("\t"))
    return cut[:end] if end > limit // 2 else cut


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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_date(value: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(single_line(unfold(value))))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
