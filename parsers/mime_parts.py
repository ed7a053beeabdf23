"""The body of a parsed message: its parts walked once, its texts and attachments decoded.

`parse_mail` parses with the standard library's compat32 parser; what is
here reads that tree within the `ParseLimits`: how many parts, how deep, and
how many decoded bytes. Whatever lies past a cap is left out and named in a
note; nothing here raises for a broken part.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from tierdesk.parsers.filenames import sanitize_filename
from tierdesk.parsers.headers import (
    clip_note,
    decode_header_value,
    decode_text_bytes,
    text_from_8bit,
)
from tierdesk.parsers.parsed import MailAttachment, ParseLimits

_NOT_BASE64_RE = re.compile(r"[^A-Za-z0-9+/=\r\n]")


@dataclass(frozen=True)
class Part:
    """One MIME part in walk order, and whether it sits inside an attachment."""

    message: Message
    inside_attachment: bool
    is_file: bool  # `is_attachment`, decided once: its header lookups cost


@dataclass
class Budget:
    """The decoded bytes still allowed (`ParseLimits.decoded_size`)."""

    left: int
    left_out: list[str] = field(default_factory=list)  # attachments past the cap

    def take(self, size: int) -> bool:
        """Spend `size` bytes if they fit; False leaves the budget as it was."""
        if size > self.left:
            return False
        self.left -= size
        return True


def walk_parts(msg: Message, limits: ParseLimits, notes: list[str]) -> list[Part]:
    """Every part depth-first (the message first), without recursion, within the caps."""
    found: list[Part] = []
    stack: list[tuple[Message, bool, int]] = [(msg, False, 0)]
    too_deep = False
    while stack:
        if len(found) >= limits.parts:
            notes.append(f"more than {limits.parts} MIME parts; the rest left out")
            break
        part, inside, depth = stack.pop()
        found.append(Part(part, inside, is_attachment(part, inside)))
        # is_multipart() first: get_payload() on a leaf decodes its charset.
        if not part.is_multipart():
            continue
        if depth >= limits.depth:
            too_deep = True
            continue
        inside = inside or part.get_content_disposition() == "attachment"
        stack.extend((p, inside, depth + 1) for p in reversed(part.get_payload()))
    if too_deep:
        notes.append(
            f"MIME nesting deeper than {limits.depth} levels; the deeper parts left out"
        )
    return found


def first_text_charset(parts: list[Part]) -> str | None:
    """The charset of the first text part: the best guess for raw 8-bit headers."""
    for part in parts:
        if part.message.get_content_maintype() == "text":
            return part.message.get_content_charset()
    return None


def is_attachment(part: Message, inside: bool) -> bool:
    """A file rather than the message's text: named, marked attachment, or not text."""
    if part.is_multipart() or inside:
        return not part.is_multipart()
    if part.get_content_disposition() == "attachment" or part.get_param("name"):
        return True
    if part.get_param("filename", header="content-disposition"):
        return True
    return part.get_content_type() not in ("text/plain", "text/html")


def texts(
    parts: list[Part], budget: Budget, defects: list[str], notes: list[str]
) -> tuple[list[str], list[str]]:
    """The plain and the HTML texts of the message, decoded, within the budget."""
    plain: list[str] = []
    html: list[str] = []
    for index, part in enumerate(parts):
        msg = part.message
        ctype = msg.get_content_type()
        if ctype not in ("text/plain", "text/html") or part.is_file:
            continue
        data = decoded_payload(msg)
        if not budget.take(len(data)):
            notes.append(
                f"{ctype} part {index}: {len(data)} bytes decoded; "
                f"cut at the decoded size limit ({budget.left} bytes were left)"
            )
            data = data[: budget.left]
            budget.take(len(data))
        text, note = decode_text_bytes(data, msg.get_content_charset())
        if note:
            defects.append(f"{ctype} part {index}: {note}")
        (html if ctype == "text/html" else plain).append(text)
    return plain, html


def attachments(
    parts: list[Part], budget: Budget, defects: list[str]
) -> list[MailAttachment]:
    """The files the message carries, each decoded once, within the budget."""
    result = []
    for part in parts:
        current = part.message
        if not part.is_file or current.get_content_type() == "message/rfc822":
            continue
        index = len(result) + len(budget.left_out) + 1
        try:
            data = decoded_payload(current)
        except Exception as exc:  # noqa: BLE001 - a broken part must not cost the message
            defects.append(clip_note(f"attachment {index}: payload unreadable ({exc})"))
            data = b""
        ctype = current.get_content_type()
        name = _attachment_name(current, ctype, index, defects)
        if not budget.take(len(data)):
            budget.left_out.append(f"{name} ({len(data)} bytes)")
            continue
        # Its decoded bytes are all we need: let the encoded text go now, so
        # two big attachments are never held twice over.
        current.set_payload(None)
        cid = str(current.get("content-id") or "").strip().strip("<>").strip() or None
        disposition = current.get_content_disposition()
        # Inline means "shown inside the HTML via cid:", not "no filename".
        inline = bool(cid) and disposition != "attachment"
        result.append(MailAttachment(name, ctype[:255], data, cid, inline))
    return result


def left_out_note(budget: Budget, limit: int) -> list[str]:
    """The note for attachments that did not fit in the decoded size limit."""
    if not budget.left_out:
        return []
    count = len(budget.left_out)
    first = budget.left_out[0]
    return [
        clip_note(
            f"{count} attachment(s) left out past the decoded size limit "
            f"({limit} bytes), the first: {first}"
        )
    ]


def decoded_payload(part: Message) -> bytes:
    """The part's body with its transfer encoding undone, as get_payload(decode=True).

    A clean base64 body (nearly every attachment) is decoded straight from
    the text compat32 keeps; the standard library would first make three
    copies of it (UTF-8, ASCII, the joined lines), about 4x its size.
    """
    body = (
        part._payload
    )  # get_payload() encodes all of it once just to check for raw bytes
    cte = str(part.get("content-transfer-encoding", "")).lower()
    if cte == "base64" and isinstance(body, str):
        fast = _clean_base64(body)
        if fast is not None:
            return fast
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _clean_base64(body: str) -> bytes | None:
    """Decode base64 that the standard library would decode without a defect; else None.

    Only the alphabet, line breaks, and at most two '=' at the very end, in
    whole groups of four: exactly what base64.b64decode(validate=True)
    accepts once the line breaks are gone, so the bytes are the same.
    """
    if not body.isascii() or _NOT_BASE64_RE.search(body):
        return None
    pad = body.find("=")
    if pad != -1 and (
        len(body) - pad > 8 or body[pad:].strip("=\r\n") or body.count("=", pad) > 2
    ):
        return None
    if (len(body) - body.count("\n") - body.count("\r")) % 4:
        return None
    try:
        return binascii.a2b_base64(body)
    except (binascii.Error, ValueError):
        return None


def parser_defects(parts: list[Part]) -> list[str]:
    """What the stdlib noticed about the structure (a missing boundary ...)."""
    found = []
    for part in parts:
        msg = part.message
        found += [f"{msg.get_content_type()}: {type(d).__name__}" for d in msg.defects]
    return [clip_note(d) for d in dict.fromkeys(found)]


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
