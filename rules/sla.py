"""SLA arithmetic: deadlines from a policy, warning times, pausing and resuming the clock.

Pure functions over rules.calendar; the database stores the results and the
scheduler's sweep acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tierdesk.rules.calendar import add_business_time, business_seconds_between
from tierdesk.rules.model import RuleSet, SlaPolicy


@dataclass(frozen=True)
class Deadlines:
    """When a ticket must be answered, resolved, and when to warn (None: no target)."""

    first_response: datetime | None = None
    resolution: datetime | None = None
    warn: datetime | None = None


NO_DEADLINES = Deadlines()


def deadlines(
    ruleset: RuleSet, sla: str | None, priority: str, start: datetime
) -> Deadlines:
    """The deadlines of a ticket that starts (or restarts its clock) at `start`."""
    policy = ruleset.sla.get(sla) if sla else None
    if policy is None:
        return NO_DEADLINES
    first = _after(policy, start, policy.first_response.get(priority))
    resolution = _after(policy, start, policy.resolution.get(priority))
    return Deadlines(first, resolution, warn_time(policy, start, first))


def warn_time(
    policy: SlaPolicy, start: datetime, due: datetime | None
) -> datetime | None:
    """`warn_at` of the way (in business time) from `start` to `due`."""
    if due is None or policy.warn_at is None:
        return None
    span = business_seconds_between(policy.hours, start, due)
    return add_business_time(policy.hours, start, span * policy.warn_at)


def _after(
    policy: SlaPolicy, start: datetime, seconds: float | None
) -> datetime | None:
    return None if seconds is None else add_business_time(policy.hours, start, seconds)


def time_left(policy: SlaPolicy, now: datetime, due: datetime | None) -> float | None:
    """Business seconds from `now` to `due` (negative if overdue); None without a deadline."""
    if due is None:
        return None
    if due <= now:
        return -business_seconds_between(policy.hours, due, now)
    return business_seconds_between(policy.hours, now, due)


def resume(policy: SlaPolicy, now: datetime, left: float | None) -> datetime | None:
    """The deadline again after a pause, with `left` business seconds still to go."""
    if left is None:
        return None
    return add_business_time(policy.hours, now, max(left, 0.0))


@dataclass(frozen=True)
class Clocks:
    """A ticket's status and SLA state as stored (aware UTC times)."""

    status: str
    sla: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_at: datetime | None
    first_response_left: float | None
    resolution_left: float | None


def status_change(
    clocks: Clocks, status: str, policy: SlaPolicy | None, now: datetime
) -> dict[str, object]:
    """The SLA columns a status change sets.

    `pending` (waiting on the customer) stops the clocks and keeps the
    business time that was left; leaving `pending` starts them again with
    that time. `resolved` records when, so auto-close can count quiet days.
    """
    sets: dict[str, object] = {}
    if status == "resolved":
        sets["resolved_at"] = now
    elif clocks.status in ("resolved", "closed") and status != "closed":
        sets["resolved_at"] = None
    if policy is None:
        return sets
    if status == "pending" and clocks.status != "pending":
        sets |= {
            "sla_paused_at": now,
            "first_response_left": time_left(policy, now, clocks.first_response_due_at),
            "resolution_left": time_left(policy, now, clocks.resolution_due_at),
            "first_response_due_at": None,
            "resolution_due_at": None,
        }
    elif clocks.status == "pending" and status != "pending":
        first_due = (
            resume(policy, now, clocks.first_response_left)
            if clocks.first_response_at is None
            else None
        )
        sets |= {
            "sla_paused_at": None,
            "first_response_due_at": first_due,
            "resolution_due_at": resume(policy, now, clocks.resolution_left),
            "first_response_left": None,
            "resolution_left": None,
        }
    return sets
