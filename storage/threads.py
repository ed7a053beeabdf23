"""The thread stage's look-ups: which ticket does a message belong to?

Order: a Message-ID we have already stored makes the message a duplicate;
then the subject token; then In-Reply-To and References (newest first)
against every stored Message-ID, our own outgoing mail included.
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import NO_MATCH, ThreadMatch, TicketFacts
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql
from tierdesk.storage.text import address_column, message_id_column
from tierdesk.storage.tickets import TICKET_COLUMNS, ticket_by_id, ticket_by_number

MAX_REFERENCES_LOOKED_UP = 50


def find_thread(
    sql: Sql,
    message_id: str,
    token_number: int | None,
    in_reply_to: list[str],
    references: list[str],
) -> ThreadMatch:
    """Find the ticket of an incoming message (see the module docstring for the order)."""
    seen = sql.one(
        "SELECT ticket_id FROM message WHERE message_id = ?",
        message_id_column(message_id),
    )
    if seen is not None:
        return ThreadMatch(ticket_by_id(sql, seen[0]), "duplicate", duplicate=True)
    if token_number is not None:
        ticket = ticket_by_number(sql, token_number)
        if ticket is not None:
            return ThreadMatch(ticket, f"subject token #{token_number}")
    expected = sql.scalar(
        "SELECT ticket_id FROM expected_message WHERE message_id = ?",
        message_id_column(message_id),
    )
    if expected is not None:
        ticket = ticket_by_id(sql, expected)
        if ticket is not None:
            return ThreadMatch(ticket, "a follow-up that refers to it came first")
    for header, ids in (
        ("In-Reply-To", in_reply_to),
        ("References", list(reversed(references))),
    ):
        ticket_id = _ticket_of_first_known(sql, ids)
        if ticket_id is not None:
            return ThreadMatch(ticket_by_id(sql, ticket_id), header)
    return NO_MATCH


def expect_referred(
    sql: Sql,
    ticket_id: int,
    in_reply_to: list[str],
    references: list[str],
    now: datetime,
) -> None:
    """A new ticket's first message referred to these Message-IDs, none of them stored
    yet: when one of them comes, it joins this ticket."""
    wanted = [i for i in dict.fromkeys([*in_reply_to, *reversed(references)]) if i]
    for message_id in wanted[:MAX_REFERENCES_LOOKED_UP]:
        sql.insert_ignore(
            "expected_message",
            message_id=message_id_column(message_id),
            ticket_id=ticket_id,
            created_at=now,
        )


def _ticket_of_first_known(sql: Sql, ids: list[str]) -> int | None:
    wanted = [i for i in dict.fromkeys(ids) if i][:MAX_REFERENCES_LOOKED_UP]
    ids = list(dict.fromkeys(message_id_column(i) for i in wanted))
    if not ids:
        return None
    marks = ", ".join("?" * len(ids))
    rows = dict(
        sql.all(
            f"SELECT message_id, ticket_id FROM message WHERE message_id IN ({marks})",
            *ids,
        )
    )
    for message_id in ids:
        if message_id in rows:
            return rows[message_id]
    return None


# what the customer saw: their own mail and ours to them, not agent notices or notes
CONVERSATION_KINDS = ("customer", "ack", "reply", "resolved", "closed", "pending")


def conversation(sql: Sql, ticket_id: int, limit: int = 10) -> list[str]:
    """The Message-IDs of the customer's side of a ticket, oldest first (for References)."""
    marks = ", ".join("?" * len(CONVERSATION_KINDS))
    rows = sql.all(
        f"SELECT message_id FROM message WHERE ticket_id = ? AND kind IN ({marks}) ORDER BY id DESC LIMIT ?",
        ticket_id,
        *CONVERSATION_KINDS,
        limit,
    )
    return [row[0] for row in reversed(rows)]


def find_duplicate(sql: Sql, message_id: str) -> bool:
    """True when a message with this Message-ID is stored already."""
    found = sql.one(
        "SELECT 1 FROM message WHERE message_id = ?", message_id_column(message_id)
    )
    return found is not None


def thread_by_signature(sql: Sql, number: int) -> ThreadMatch:
    """The ticket a customer's signed reply address names (subject and headers aside)."""
    ticket = ticket_by_number(sql, number)
    return ThreadMatch(ticket, "signed reply address") if ticket else NO_MATCH


def resolved_at(sql: Sql, ticket: TicketFacts) -> datetime | None:
    """When a resolved or closed ticket was resolved (or last changed); None if it is not."""
    if ticket.status not in ("resolved", "closed"):
        return None
    row = sql.one("SELECT resolved_at, updated_at FROM ticket WHERE id = ?", ticket.id)
    return as_aware_utc(row[0] or row[1]) if row else None


def ticket_of_message(sql: Sql, message_id: str) -> TicketFacts | None:
    """The ticket a stored message belongs to, or None."""
    row = sql.one(
        "SELECT ticket_id FROM message WHERE message_id = ?",
        message_id_column(message_id),
    )
    return ticket_by_id(sql, row[0]) if row else None


def last_customer_text(sql: Sql, ticket_id: int) -> str:
    """The text of the customer's latest message on a ticket ('' if none)."""
    text = sql.scalar(
        "SELECT text FROM message WHERE ticket_id = ? AND kind = 'customer'"
        " ORDER BY id DESC LIMIT 1",
        ticket_id,
    )
    return text or ""


def recent_tickets_of(
    sql: Sql, address: str, since: datetime, latest_from: int = 0
) -> tuple[int, TicketFacts | None]:
    """How many tickets an address (any +tag of it) opened since `since`, and its latest
    ticket once that count reaches `latest_from` (the rate limit needs no more before)."""
    key = address_column(address_key(address))
    count = sql.scalar(
        "SELECT COUNT(*) FROM ticket t JOIN contact c ON c.id = t.requester_id"
        " WHERE c.email_key = ? AND t.created_at >= ?",
        key,
        since,
    )
    if int(count or 0) < latest_from:
        return int(count or 0), None
    row = sql.one(
        f"SELECT {TICKET_COLUMNS} WHERE c.email_key = ? AND t.merged_into IS NULL"
        " ORDER BY t.id DESC LIMIT 1",
        key,
    )
    return int(count or 0), TicketFacts(*row) if row else None


def notice_texts(sql: Sql, ticket_id: int, limit: int = 20) -> tuple[str, ...]:
    """What we told agents and vendors about a ticket (newest first): never for a customer."""
    marks = ", ".join("?" * len(CONVERSATION_KINDS))
    rows = sql.all(
        f"SELECT text FROM message WHERE ticket_id = ? AND direction = 'out'"
        f" AND kind NOT IN ({marks}) ORDER BY id DESC LIMIT ?",
        ticket_id,
        *CONVERSATION_KINDS,
        limit,
    )
    return tuple(row[0] or "" for row in rows)


def open_tickets_of(sql: Sql, email: str, limit: int = 20) -> list[TicketFacts]:
    """A customer's tickets that are not closed, newest first."""
    rows = sql.all(
        f"SELECT {TICKET_COLUMNS} WHERE c.email = ? AND t.status IN ('new', 'open', 'pending')"
        " AND t.merged_into IS NULL ORDER BY t.number DESC LIMIT ?",
        address_column(email.lower()),
        limit,
    )
    return [TicketFacts(*row) for row in rows]
