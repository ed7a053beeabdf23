"""The people and robots we exchange mail with, and how their mail fares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tierdesk.rules.guard import address_key
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql


@dataclass(frozen=True)
class ContactRow:
    """One address: its name, its tickets, and its bounce record."""

    address: str
    name: str
    tickets: int
    bounce_score: float = 0.0
    last_bounce_on: date | None = None
    suppressed_at: datetime | None = None
    diagnostic: str = ""


def contact_rows(sql: Sql, bouncing_only: bool, limit: int | None) -> list[ContactRow]:
    """Contacts with their ticket counts and bounce state; with `bouncing_only`, only
    addresses that bounced (also ones we only ever sent to)."""
    bounces = {
        row[0]: row[1:]
        for row in sql.all(
            "SELECT address, score, last_bounce_on, suppressed_at, diagnostic"
            " FROM bounce_state ORDER BY address"
        )
    }
    people = sql.all(
        "SELECT c.email, c.name, COUNT(t.id) FROM contact c"
        " LEFT JOIN ticket t ON t.requester_id = c.id"
        " GROUP BY c.id, c.email, c.name ORDER BY c.email"
    )
    rows: list[ContactRow] = []
    seen: set[str] = set()
    for email, name, tickets in people:
        key = address_key(email)
        seen.add(key)
        if bouncing_only and key not in bounces:
            continue
        rows.append(
            _with_bounces(ContactRow(email, name or "", int(tickets)), bounces.get(key))
        )
    for key, record in bounces.items():
        if key not in seen:
            rows.append(_with_bounces(ContactRow(key, "", 0), record))
    if bouncing_only:
        rows.sort(key=lambda r: (-r.bounce_score, r.address))
    return rows[:limit] if limit else rows


def _with_bounces(row: ContactRow, record: tuple | None) -> ContactRow:
    if record is None:
        return row
    score, last, suppressed_at, diagnostic = record
    day = (
        last
        if isinstance(last, date) or last is None
        else date.fromisoformat(str(last)[:10])
    )
    return ContactRow(
        row.address,
        row.name,
        row.tickets,
        float(score),
        day,
        as_aware_utc(suppressed_at),
        diagnostic or "",
    )
