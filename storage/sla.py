"""What the SLA sweep looks for: overdue first responses, due warnings, quiet resolved tickets.

The database is the only state: deadlines live on the ticket, so a restart
(or a second daemon on PostgreSQL, which skips rows another one holds)
loses nothing and repeats nothing.
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.storage.clock import to_naive_utc
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import TICKET_COLUMNS, TicketFacts

_OPEN = "t.status IN ('new', 'open') AND t.first_response_at IS NULL AND t.sla_paused_at IS NULL"


def _locked(sql: Sql, query: str) -> str:
    return query if sql.sqlite else query + " FOR UPDATE OF t SKIP LOCKED"


def overdue_first_response(
    sql: Sql, now: datetime, limit: int = 100
) -> list[TicketFacts]:
    """Tickets whose first-response deadline has passed with no agent reply."""
    rows = sql.all(
        _locked(
            sql,
            f"SELECT {TICKET_COLUMNS} WHERE t.first_response_due_at <= ? AND {_OPEN} ORDER BY t.id LIMIT ?",
        ),
        to_naive_utc(now),
        limit,
    )
    return [TicketFacts(*row) for row in rows]


def due_warnings(sql: Sql, now: datetime, limit: int = 100) -> list[TicketFacts]:
    """Tickets that reached their warning time, were not warned yet and are not overdue.

    An overdue ticket is escalated instead: with several daemons sweeping at
    once, one may reach a ticket's warning while another escalates it.
    """
    rows = sql.all(
        _locked(
            sql,
            f"SELECT {TICKET_COLUMNS} WHERE t.sla_warn_at <= ? AND t.sla_warned_at IS NULL"
            f" AND t.first_response_due_at > ? AND {_OPEN} ORDER BY t.id LIMIT ?",
        ),
        to_naive_utc(now),
        to_naive_utc(now),
        limit,
    )
    return [TicketFacts(*row) for row in rows]


def quiet_resolved(sql: Sql, before: datetime, limit: int = 100) -> list[TicketFacts]:
    """Resolved tickets with no change since `before` (the customer did not reply)."""
    rows = sql.all(
        _locked(
            sql,
            f"SELECT {TICKET_COLUMNS} WHERE t.status = 'resolved' AND t.resolved_at <= ? ORDER BY t.id LIMIT ?",
        ),
        to_naive_utc(before),
        limit,
    )
    return [TicketFacts(*row) for row in rows]


def restart_first_response(
    sql: Sql,
    ticket_id: int,
    due: datetime | None,
    warn: datetime | None,
    escalated: bool,
) -> None:
    """A new first-response deadline (after an escalation), or none at the ceiling."""
    sql.run(
        "UPDATE ticket SET first_response_due_at = ?, sla_warn_at = ?, sla_warned_at = NULL,"
        " escalations = escalations + ? WHERE id = ?",
        to_naive_utc(due),
        to_naive_utc(warn),
        1 if escalated else 0,
        ticket_id,
    )


def mark_warned(sql: Sql, ticket_id: int, now: datetime) -> None:
    """The warning went out; it is not sent again for this deadline."""
    sql.run(
        "UPDATE ticket SET sla_warned_at = ? WHERE id = ?", to_naive_utc(now), ticket_id
    )


def thread_root(sql: Sql, ticket_id: int) -> str | None:
    """The Message-ID of the ticket's first message, so notices thread per ticket."""
    return sql.scalar(
        "SELECT message_id FROM message WHERE ticket_id = ? ORDER BY id LIMIT 1",
        ticket_id,
    )
