"""Changing a ticket's status, fields and tags, or merging it: always with an event.

The SLA consequences of a status change are computed by `rules.sla`
(`status_change`); these functions load what it needs and write the result.
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.rules.model import SlaPolicy
from tierdesk.rules.sla import Clocks, status_change
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event, ticket_by_number

FIELDS = ("tier", "queue", "priority", "assignee")


def load_clocks(sql: Sql, ticket_id: int) -> Clocks:
    """The status and SLA columns of a ticket."""
    row = sql.one(
        "SELECT status, sla, first_response_due_at, resolution_due_at, first_response_at,"
        " first_response_left, resolution_left FROM ticket WHERE id = ?",
        ticket_id,
    )
    return Clocks(row[0], row[1], *(as_aware_utc(v) for v in row[2:5]), row[5], row[6])


def change_status(
    sql: Sql,
    ticket_id: int,
    status: str,
    actor: str,
    policies: dict[str, SlaPolicy],
    now: datetime,
    detail: str = "",
) -> bool:
    """Set the status with an event and the SLA consequences; False if unchanged."""
    clocks = load_clocks(sql, ticket_id)
    if clocks.status == status:
        return False
    record_event(
        sql,
        ticket_id,
        actor,
        "status",
        field="status",
        old=clocks.status,
        new=status,
        detail=detail,
        now=now,
    )
    policy = policies.get(clocks.sla) if clocks.sla else None
    sets = {"status": status, "updated_at": now}
    _update(sql, ticket_id, sets | status_change(clocks, status, policy, now))
    return True


def change_field(
    sql: Sql,
    ticket_id: int,
    field: str,
    value: object,
    actor: str,
    now: datetime,
    detail: str = "",
) -> bool:
    """Set tier, queue, priority or assignee with an event; False if unchanged."""
    assert field in FIELDS
    old = sql.scalar(f"SELECT {field} FROM ticket WHERE id = ?", ticket_id)
    if old == value:
        return False
    record_event(
        sql,
        ticket_id,
        actor,
        field,
        field=field,
        old=old if old is not None else "",
        new=value,
        detail=detail,
        now=now,
    )
    _update(sql, ticket_id, {field: value, "updated_at": now})
    return True


def record_first_response(sql: Sql, ticket_id: int, actor: str, now: datetime) -> bool:
    """An agent answered: the first-response clock stops (once)."""
    if (
        sql.scalar("SELECT first_response_at FROM ticket WHERE id = ?", ticket_id)
        is not None
    ):
        return False
    _update(
        sql,
        ticket_id,
        {
            "first_response_at": now,
            "first_response_due_at": None,
            "first_response_left": None,
        },
    )
    record_event(
        sql,
        ticket_id,
        actor,
        "first_response",
        detail="the first-response clock stopped",
        now=now,
    )
    return True


def change_tags(
    sql: Sql, ticket_id: int, changes: tuple[str, ...], actor: str, now: datetime
) -> None:
    """Add (+tag) and remove (-tag) tags, with one event."""
    old = (sql.scalar("SELECT tags FROM ticket WHERE id = ?", ticket_id) or "").split()
    tags = list(old)
    for change in changes:
        tag = change[1:].lower()
        if change.startswith("-"):
            tags = [t for t in tags if t != tag]
        elif tag not in tags:
            tags.append(tag)
    if tags != old:
        sql.run("UPDATE ticket SET tags = ? WHERE id = ?", " ".join(tags), ticket_id)
        record_event(
            sql,
            ticket_id,
            actor,
            "tags",
            field="tags",
            old=" ".join(old),
            new=" ".join(tags),
            now=now,
        )


def merge(
    sql: Sql, ticket_id: int, number: int, into: int, actor: str, now: datetime
) -> None:
    """Move a ticket's messages and history into `into`; it closes and points there."""
    target = ticket_by_number(sql, into)
    assert target is not None
    sql.run(
        "UPDATE message SET ticket_id = ? WHERE ticket_id = ?", target.id, ticket_id
    )
    sql.run(
        "UPDATE ticket SET merged_into = ?, status = 'closed' WHERE id = ?",
        target.id,
        ticket_id,
    )
    record_event(
        sql,
        ticket_id,
        actor,
        "merged",
        field="merged_into",
        new=into,
        detail=f"merged into #{into}",
        now=now,
    )
    record_event(
        sql,
        target.id,
        actor,
        "merged",
        detail=f"ticket #{number} merged into this one",
        now=now,
    )


def _update(sql: Sql, ticket_id: int, sets: dict[str, object]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in sets)
    sql.run(f"UPDATE ticket SET {assignments} WHERE id = ?", *sets.values(), ticket_id)
