"""The plain rows the supervisor's report and digest are computed from.

Three reads, nothing written: the tickets opened in a window, the tickets
open now, and the status, tier and breach events of a set of tickets. The
arithmetic is in `daemon/report_figures.py`; this module only fetches.
Merged tickets are left out: their history lives on in the one they joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql

OPEN_STATUSES = ("new", "open", "pending")
HISTORY_KINDS = ("status", "tier", "sla_breached")
# ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
CHUNK = 500

_COLUMNS = (
    "t.id, t.number, t.subject, t.status, t.tier, t.queue, t.assignee, t.priority,"
    " t.sla, t.created_at, t.first_response_at, t.resolved_at,"
    " t.first_response_due_at, t.resolution_due_at, c.email"
    " FROM ticket t JOIN contact c ON c.id = t.requester_id"
)


@dataclass(frozen=True)
class TicketRow:
    """What the report needs of one ticket; times are aware UTC."""

    id: int
    number: int
    subject: str
    status: str
    tier: int
    queue: str
    assignee: str | None
    priority: str
    sla: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    requester: str


@dataclass(frozen=True)
class EventRow:
    """One status change, tier change or SLA breach of a ticket."""

    ticket_id: int
    at: datetime
    kind: str
    old: str
    new: str


def _ticket(row: tuple[Any, ...]) -> TicketRow:
    times = [as_aware_utc(v) for v in row[9:14]]
    created = times[0]
    assert created is not None
    return TicketRow(
        int(row[0]),
        int(row[1]),
        row[2] or "",
        row[3],
        int(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        created,
        *times[1:],
        row[14],
    )


def opened_between(sql: Sql, since: datetime, until: datetime) -> list[TicketRow]:
    """Tickets opened in [since, until), oldest first (merged ones left out)."""
    rows = sql.all(
        f"SELECT {_COLUMNS} WHERE t.created_at >= ? AND t.created_at < ?"
        " AND t.merged_into IS NULL ORDER BY t.created_at, t.id",
        since,
        until,
    )
    return [_ticket(r) for r in rows]


def open_now(sql: Sql) -> list[TicketRow]:
    """Every ticket still new, open or pending, oldest first."""
    rows = sql.all(
        f"SELECT {_COLUMNS} WHERE t.status IN (?, ?, ?) AND t.merged_into IS NULL"
        " ORDER BY t.created_at, t.id",
        *OPEN_STATUSES,
    )
    return [_ticket(r) for r in rows]


def history_of(sql: Sql, ticket_ids: Iterable[int]) -> dict[int, list[EventRow]]:
    """The status, tier and breach events of these tickets, each ticket's oldest first."""
    ids = sorted(set(ticket_ids))
    history: dict[int, list[EventRow]] = {i: [] for i in ids}
    kinds = ", ".join("?" * len(HISTORY_KINDS))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = sql.all(
            "SELECT ticket_id, created_at, kind, old_value, new_value FROM event"
            f" WHERE ticket_id IN ({marks}) AND kind IN ({kinds}) ORDER BY id",
            *chunk,
            *HISTORY_KINDS,
        )
        for ticket_id, at, kind, old, new in rows:
            moment = as_aware_utc(at)
            assert moment is not None
            history[int(ticket_id)].append(
                EventRow(int(ticket_id), moment, kind, old or "", new or "")
            )
    return history
