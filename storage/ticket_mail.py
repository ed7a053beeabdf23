"""A ticket's whole mail history as the bytes that went in and out, oldest first.

Mail that came in is the spool's raw bytes, exactly as it arrived; mail we
sent is the outbox's rendered bytes. Where `tierdesk purge` emptied the raw
bytes, the message is rebuilt from what the ticket keeps (headers, text,
attachments still stored) and says so in a header, so an audit never takes
a rebuilt mail for the original.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from tierdesk.storage.sql import Sql

REBUILT_HEADER = "X-Tierdesk-Rebuilt"


@dataclass(frozen=True)
class TicketMail:
    """One mail of a ticket: who sent it, when, and its bytes."""

    sender: str
    when: datetime
    raw: bytes
    rebuilt: bool


def ticket_mails(sql: Sql, ticket_id: int) -> list[TicketMail]:
    """Every mail of a ticket, oldest first (merged tickets' mails are theirs, not this one's)."""
    rows = sql.all(
        "SELECT m.id, m.direction, m.sender, m.created_at, s.raw, s.purged_at,"
        " (SELECT o.raw FROM outbox o WHERE o.message_ref = m.id ORDER BY o.id LIMIT 1)"
        " FROM message m LEFT JOIN spool s ON s.id = m.spool_id"
        " WHERE m.ticket_id = ? ORDER BY m.created_at, m.id",
        ticket_id,
    )
    mails = []
    for message_id, direction, sender, created, spooled, purged, sent in rows:
        raw = bytes(sent if direction == "out" and sent else spooled or b"")
        rebuilt = not raw or purged is not None and direction != "out"
        if rebuilt:
            raw = _rebuild(sql, message_id)
        mails.append(
            TicketMail(sender or "MAILER-DAEMON", _aware(created), raw, rebuilt)
        )
    return mails


def _rebuild(sql: Sql, message_id: int) -> bytes:
    """A message whose raw bytes are gone, made again from the ticket's record of it."""
    row = sql.one(
        'SELECT message_id, in_reply_to, "references", sender, sender_name, recipients,'
        " subject, text, sent_date, created_at FROM message WHERE id = ?",
        message_id,
    )
    (
        mid,
        in_reply_to,
        references,
        sender,
        name,
        recipients,
        subject,
        text,
        sent,
        created,
    ) = row
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>" if name else sender or "unknown"
    to = [address for _, address in getaddresses(_json_list(recipients)) if address]
    if to:
        mail["To"] = ", ".join(to)
    mail["Subject"] = subject or ""
    mail["Date"] = format_datetime(_aware(sent or created))
    mail["Message-ID"] = _bracketed(mid)
    if in_reply_to:
        mail["In-Reply-To"] = " ".join(_bracketed(i) for i in in_reply_to.split())
    if references:
        mail["References"] = " ".join(_bracketed(r) for r in references.split())
    mail[REBUILT_HEADER] = (
        "the original bytes were purged; rebuilt from the ticket's record"
    )
    mail.set_content(text or "")
    for filename, content_type, data in sql.all(
        "SELECT a.filename, a.content_type, b.data FROM attachment a"
        " JOIN blob b ON b.sha256 = a.sha256 WHERE a.message_id = ? ORDER BY a.id",
        message_id,
    ):
        maintype, _, subtype = (content_type or "application/octet-stream").partition(
            "/"
        )
        mail.add_attachment(
            bytes(data),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    return mail.as_bytes()


def _bracketed(message_id: str) -> str:
    """Message-IDs are kept bare; a header wants them in angle brackets."""
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _json_list(text: str) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text for computed rows
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
