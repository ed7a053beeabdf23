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
