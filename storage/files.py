"""The files customers sent on a ticket, with their bytes, for the agents who ask."""

from __future__ import annotations

from tierdesk.parsers.parsed import MailAttachment
from tierdesk.storage.sql import Sql

MAX_FILES = (
    50  # a ticket with more than this sends the first ones; the rest stay listed
)


def ticket_files(sql: Sql, ticket_id: int) -> tuple[MailAttachment, ...]:
    """The customers' attachments on a ticket (not inline images), oldest first,
    each distinct content once."""
    rows = sql.all(
        "SELECT a.filename, a.content_type, b.data, a.sha256 FROM attachment a"
        " JOIN message m ON m.id = a.message_id JOIN blob b ON b.sha256 = a.sha256"
        " WHERE m.ticket_id = ? AND m.kind = 'customer' AND a.inline = ?"
        " ORDER BY a.id LIMIT ?",
        ticket_id,
        False,
        MAX_FILES,
    )
    seen: set[str] = set()
    files = []
    for filename, content_type, data, digest in rows:
        if digest in seen:
            continue
        seen.add(digest)
        files.append(MailAttachment(filename, content_type, bytes(data)))
    return tuple(files)
