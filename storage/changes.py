"""Changing a ticket's status, tier, queue, priority or assignee: always with an event.

Status changes also run the SLA clocks: `pending` (waiting on the customer)
stops them and keeps the business time that was left; leaving `pending`
starts them again with that time. `resolved` records when, so auto-close
can count the quiet days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tierdesk.rules.model import SlaPolicy
from tierdesk.rules.sla import resume, time_left
from tierdesk.storage.clock import to_naive_utc, utcnow
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event

FIELDS = ("tier", "queue", "priority", "assignee")


@dataclass(frozen=True)
class Clocks:
    """A ticket's SLA state as stored."""

    status: str
    sla: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_at: datetime | None
    first_response_left: float | None
    resolution_left: float | None


def load_clocks(sql: Sql, ticket_id: int) -> Clocks:
    """The status and SLA columns of a ticket."""
    row = sql.one(
        "SELECT status, sla, first_response_due_at, resolution_due_at, first_response_at,"
        " first_response_left, resolution_left FROM ticket WHERE id = ?",
        ticket_id,
    )
    return Clocks(row[0], row[1], *(_dt(v) for v in row[2:5]), row[5], row[6])


def _dt(value: object) -> datetime | None:
    """A timestamp column as an aware UTC datetime (SQLite hands back text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)


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
    )
    sets: dict[str, object] = {"status": status, "updated_at": utcnow()}
    policy = policies.get(clocks.sla) if clocks.sla else None
    if status == "resolved":
        sets["resolved_at"] = to_naive_utc(now)
    elif clocks.status in ("resolved", "closed") and status != "closed":
        sets["resolved_at"] = None
    if status == "pending" and clocks.status != "pending" and policy is not None:
        sets |= {
            "sla_paused_at": to_naive_utc(now),
            "first_response_left": time_left(policy, now, clocks.first_response_due_at),
            "resolution_left": time_left(policy, now, clocks.resolution_due_at),
            "first_response_due_at": None,
            "resolution_due_at": None,
        }
    elif clocks.status == "pending" and status != "pending" and policy is not None:
        first_due = (
            resume(policy, now, clocks.first_response_left)
            if clocks.first_response_at is None
            else None
        )
        sets |= {
            "sla_paused_at": None,
            "first_response_due_at": to_naive_utc(first_due),
            "resolution_due_at": to_naive_utc(
                resume(policy, now, clocks.resolution_left)
            ),
            "first_response_left": None,
            "resolution_left": None,
        }
    _update(sql, ticket_id, sets)
    return True


def change_field(
    sql: Sql, ticket_id: int, field: str, value: object, actor: str, detail: str = ""
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
    )
    _update(sql, ticket_id, {field: value, "updated_at": utcnow()})
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
            "first_response_at": to_naive_utc(now),
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
    )
    return True


def _update(sql: Sql, ticket_id: int, sets: dict[str, object]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in sets)
    sql.run(f"UPDATE ticket SET {assignments} WHERE id = ?", *sets.values(), ticket_id)
