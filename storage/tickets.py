"""Writing tickets, contacts, messages, attachments and events.

These run inside the caller's transaction; none of them commits on its own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from tierdesk.parsers.parsed import Address, MailAttachment, ParsedMail
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import NewTicket
from tierdesk.storage.migrations import TICKET_NUMBERS
from tierdesk.storage.search import index_message
from tierdesk.storage.sql import Sql
from tierdesk.storage.text import address_column, message_id_column, storable

TICKET_COLUMNS = (
    "t.id, t.number, t.subject, t.status, t.tier, t.queue, t.priority, t.language,"
    " c.email, c.name, t.assignee FROM ticket t JOIN contact c ON c.id = t.requester_id"
)


MAX_MERGE_CHAIN = 10


def ticket_by_number(sql: Sql, number: int) -> TicketFacts | None:
    """The ticket with this public number (or the one it was merged into), or None."""
    row = sql.one("SELECT id FROM ticket WHERE number = ?", number)
    return ticket_by_id(sql, row[0]) if row else None


def ticket_by_id(
    sql: Sql, ticket_id: int, follow_merges: bool = True
) -> TicketFacts | None:
    """The ticket with this row id (or the one it was merged into), or None."""
    for _ in range(MAX_MERGE_CHAIN):
        row = sql.one(
            f"SELECT t.merged_into, {TICKET_COLUMNS} WHERE t.id = ?", ticket_id
        )
        if row is None:
            return None
        if row[0] is None or not follow_merges:
            return TicketFacts(*row[1:])
        ticket_id = row[0]
    row = sql.one(f"SELECT {TICKET_COLUMNS} WHERE t.id = ?", ticket_id)
    return TicketFacts(*row) if row else None


def contact_for(sql: Sql, address: Address, now: datetime) -> tuple[int, str]:
    """The (id, name) of the contact for an address, created on first sight."""
    email = address_column(address.key)
    row = sql.one("SELECT id, name FROM contact WHERE email = ?", email)
    if row is None:
        new_id = sql.insert_ignore_returning_id(
            "contact",
            email=email,
            name=address.name,
            created_at=now,
            email_key=address_column(address_key(address.key)),
        )
        if new_id is not None:
            return new_id, storable(address.name)  # as stored
        # another daemon created it since our look-up
        row = sql.one("SELECT id, name FROM contact WHERE email = ?", email)
    elif address.name and not row[1]:
        sql.run("UPDATE contact SET name = ? WHERE id = ?", address.name, row[0])
        row = (row[0], address.name)
    return row[0], row[1]


def next_ticket_number(sql: Sql) -> int:
    """The next public ticket number: unique however many daemons ask at once.

    PostgreSQL takes it from a sequence, which no transaction holds (a
    rolled-back ticket leaves a gap); SQLite, one writer at a time, from the
    counter row, without gaps.
    """
    if not sql.sqlite:
        return sql.scalar(f"SELECT nextval('{TICKET_NUMBERS}')")
    return sql.scalar(
        "UPDATE counter SET value = value + 1 WHERE name = 'ticket' RETURNING value"
    )


def create_ticket(sql: Sql, new: NewTicket, now: datetime) -> TicketFacts:
    """A new ticket with the next number, status `new`, as routing decided."""
    decision, deadlines = new.decision, new.deadlines
    contact_id, name = contact_for(sql, new.requester, now)
    number = next_ticket_number(sql)
    ticket_id = sql.insert(
        "ticket",
        number=number,
        subject=new.title,
        status="new",
        tier=decision.tier,
        queue=decision.queue,
        priority=decision.priority,
        language=decision.language,
        requester_id=contact_id,
        assignee=decision.assignee,
        created_at=now,
        updated_at=now,
        tags=" ".join(decision.tags),
        sla=decision.sla,
        first_response_due_at=deadlines.first_response,
        resolution_due_at=deadlines.resolution,
        sla_warn_at=deadlines.warn,
        escalations=0,
    )
    return TicketFacts(
        ticket_id,
        number,
        new.title,
        "new",
        decision.tier,
        decision.queue,
        decision.priority,
        decision.language,
        address_column(new.requester.key),  # as it is stored, and read back
        name,
        decision.assignee,
    )


def store_incoming(
    sql: Sql,
    ticket_id: int,
    mail: ParsedMail,
    kind: str,
    spool_id: int | None,
    recipients: list[str],
    now: datetime,
) -> int | None:
    """Store an incoming message and its attachments; None if its Message-ID is taken."""
    sender = mail.from_ or Address("", "")
    message_id = _insert_message(
        sql,
        ticket_id=ticket_id,
        message_id=message_id_column(mail.message_id),
        in_reply_to=" ".join(mail.in_reply_to),
        references=" ".join(mail.references),
        direction="in",
        kind=kind,
        sender=address_column(sender.key),
        sender_name=sender.name,
        recipients=json.dumps(recipients),
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        sent_date=mail.date,
        spool_id=spool_id,
        defects="\n".join(mail.defects),
        created_at=now,
    )
    if message_id is not None:
        for attachment in mail.attachments:
            store_attachment(sql, message_id, attachment)
    return message_id


def store_outgoing(
    sql: Sql,
    ticket_id: int,
    *,
    message_id: str,
    kind: str,
    sender: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str | None,
    in_reply_to: str,
    references: list[str],
    now: datetime,
) -> int | None:
    """Store a mail we send, so replies to it thread; None if its Message-ID exists."""
    return _insert_message(
        sql,
        ticket_id=ticket_id,
        message_id=message_id_column(message_id),
        in_reply_to=in_reply_to,
        references=" ".join(references),
        direction="out",
        kind=kind,
        sender=address_column(sender),
        sender_name="",
        recipients=json.dumps(recipients),
        subject=subject,
        text=text,
        html=html,
        sent_date=now,
        spool_id=None,
        defects="",
        created_at=now,
    )


def _insert_message(sql: Sql, **values: object) -> int | None:
    """Insert a message row unless its Message-ID exists; returns the new row id."""
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" * len(values))
    row_id = sql.scalar(
        f"INSERT INTO message ({columns}) VALUES ({marks}) ON CONFLICT (message_id) DO NOTHING RETURNING id",
        *values.values(),
    )
    if row_id is not None and values["direction"] == "in":  # same transaction
        kind, subject, text = (
            str(values[k] or "") for k in ("kind", "subject", "text")
        )
        index_message(sql, row_id, kind, subject, text)
    return row_id


def store_attachment(sql: Sql, message_id: int, attachment: MailAttachment) -> None:
    """Store an attachment, its bytes once per distinct content."""
    digest = hashlib.sha256(attachment.data).hexdigest()
    sql.insert_ignore(
        "blob", sha256=digest, size=len(attachment.data), data=attachment.data
    )
    sql.insert(
        "attachment",
        message_id=message_id,
        filename=attachment.filename,
        content_type=attachment.content_type[:255],
        size=len(attachment.data),
        sha256=digest,
        content_id=attachment.content_id,
        inline=attachment.inline,
    )


def record_event(
    sql: Sql,
    ticket_id: int,
    actor: str,
    kind: str,
    *,
    field: str = "",
    old: object = "",
    new: object = "",
    detail: str = "",
    now: datetime,
) -> None:
    """Add a line to the ticket's history."""
    sql.insert(
        "event",
        ticket_id=ticket_id,
        created_at=now,
        actor=actor,
        kind=kind,
        field_name=field,
        old_value=str(old),
        new_value=str(new),
        detail=detail,
    )


def touch(sql: Sql, ticket_id: int, now: datetime) -> None:
    """Mark the ticket as updated now."""
    sql.run("UPDATE ticket SET updated_at = ? WHERE id = ?", now, ticket_id)
