"""The thread stage's look-ups: which ticket does a message belong to?

Order: a Message-ID we have already stored makes the message a duplicate;
then the subject token; then In-Reply-To and References (newest first)
against every stored Message-ID, our own outgoing mail included.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.sql import Sql
from storage.tickets import TicketFacts, ticket_by_id, ticket_by_number

MAX_REFERENCES_LOOKED_UP = 50


@dataclass(frozen=True)
class ThreadMatch:
    """Where a message belongs: a ticket (or none) and how we know."""

    ticket: TicketFacts | None
    via: str
    duplicate: bool = False


NO_MATCH = ThreadMatch(None, "")


def find_thread(
    sql: Sql,
    message_id: str,
    token_number: int | None,
    in_reply_to: list[str],
    references: list[str],
) -> ThreadMatch:
    """Find the ticket of an incoming message (see the module docstring for the order)."""
    seen = sql.one("SELECT ticket_id FROM message WHERE message_id = ?", message_id)
    if seen is not None:
        return ThreadMatch(ticket_by_id(sql, seen[0]), "duplicate", duplicate=True)
    if token_number is not None:
        ticket = ticket_by_number(sql, token_number)
        if ticket is not None:
            return ThreadMatch(ticket, f"subject token #{token_number}")
    for header, ids in (
        ("In-Reply-To", in_reply_to),
        ("References", list(reversed(references))),
    ):
        ticket_id = _ticket_of_first_known(sql, ids)
        if ticket_id is not None:
            return ThreadMatch(ticket_by_id(sql, ticket_id), header)
    return NO_MATCH


def _ticket_of_first_known(sql: Sql, ids: list[str]) -> int | None:
    ids = [i for i in dict.fromkeys(ids) if i][:MAX_REFERENCES_LOOKED_UP]
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
