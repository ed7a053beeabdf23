"""The supervisor's figures: pure arithmetic over plain ticket and event rows.

Times are measured as the SLA clocks measure them: in business time on the
calendar of the ticket's SLA (round the clock without one), and without the
time a ticket waited on the customer (`pending`). A target is met when that
time is at most the SLA's target for the ticket's priority; a ticket still
waiting past its target counts as missed, one still within it is not counted
yet. Percentiles: the median is the middle value (the mean of the two middle
ones), p90 the nearest rank (the value at ceil(0.9 n)).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tierdesk.rules.calendar import BusinessHours, business_seconds_between
from tierdesk.rules.model import SlaPolicy
from tierdesk.storage.report_rows import EventRow, TicketRow

DONE = ("resolved", "closed")
DAY = 86400.0
BACKLOG_BUCKETS = ("<1d", "1-3d", "3-7d", ">7d")
ESCALATION_STEPS = ((1, 2), (2, 3), (3, 4))
GROUPINGS = ("tier", "queue", "agent")


@dataclass(frozen=True)
class TicketClock:
    """One ticket's figures: its times, whether its targets were met, its path through tiers."""

    first_response: float | None  # business seconds to the first response
    first_response_met: bool | None  # None: no target, or not decided yet
    resolution: float | None
    resolution_met: bool | None
    resolved: bool
    started_tier: int
    escalated_from: frozenset[int]  # tiers it left upwards
    ever_resolved: bool
    reopened: bool


@dataclass(frozen=True)
class TimeFigures:
    """Median and p90 of one kind of time, and how often its target was met."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    met: int = 0
    missed: int = 0

    @property
    def met_pct(self) -> float | None:
        """Share of decided tickets that met the target, in percent (None: none decided)."""
        decided = self.met + self.missed
        return None if not decided else round(100.0 * self.met / decided, 1)


@dataclass(frozen=True)
class Figures:
    """Everything the report says about one group of tickets."""

    group: str
    opened: int = 0
    answered: int = 0
    resolved: int = 0
    first_response: TimeFigures = field(default_factory=TimeFigures)
    resolution: TimeFigures = field(default_factory=TimeFigures)
    tier1_alone: int = 0
    escalations: dict[str, int] = field(default_factory=dict)
    reopened: int = 0
    ever_resolved: int = 0
    backlog: dict[str, int] = field(default_factory=dict)

    @property
    def reopen_pct(self) -> float | None:
        """Reopened tickets per ticket ever resolved, in percent."""
        if not self.ever_resolved:
            return None
        return round(100.0 * self.reopened / self.ever_resolved, 1)


def percentile_nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The value at rank ceil(share * n) of the sorted values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones); None for none."""
    return float(statistics.median(values)) if values else None


def clock_of(
    ticket: TicketRow,
    events: Sequence[EventRow],
    policies: dict[str, SlaPolicy],
    now: datetime,
) -> TicketClock:
    """A ticket's figures from its row and its status/tier events, at `now`."""
    policy = policies.get(ticket.sla) if ticket.sla else None
    hours = policy.hours if policy else BusinessHours.always()
    paused = _pending_spans(ticket, events, now)

    def working(start: datetime, end: datetime) -> float:
        """Business time from start to end, less the time spent pending."""
        total = business_seconds_between(hours, start, end)
        for a, b in paused:
            total -= business_seconds_between(hours, max(a, start), min(b, end))
        return max(total, 0.0)

    target_first = policy.first_response.get(ticket.priority) if policy else None
    target_resolution = policy.resolution.get(ticket.priority) if policy else None
    first = (
        working(ticket.created_at, ticket.first_response_at)
        if ticket.first_response_at
        else None
    )
    done_at = _resolved_at(ticket, events)
    resolution = working(ticket.created_at, done_at) if done_at else None
    first_met = _met(first, target_first, lambda: working(ticket.created_at, now))
    resolution_met = _met(
        resolution, target_resolution, lambda: working(ticket.created_at, now)
    )
    tiers = [e for e in events if e.kind == "tier"]
    escalated: set[int] = set()
    for event in tiers:
        old, new = _tier(event.old), _tier(event.new)
        if old and new and new > old:
            escalated.update(range(old, new))
    statuses = [e for e in events if e.kind == "status"]
    return TicketClock(
        first_response=first,
        first_response_met=first_met,
        resolution=resolution,
        resolution_met=resolution_met,
        resolved=ticket.status in DONE,
        started_tier=(_tier(tiers[0].old) or ticket.tier) if tiers else ticket.tier,
        escalated_from=frozenset(escalated),
        ever_resolved=ticket.status in DONE or any(e.new in DONE for e in statuses),
        reopened=any(_reopens(e) for e in statuses),
    )


def _met(
    took: float | None, target: float | None, so_far: Callable[[], float]
) -> bool | None:
    """Met, missed, or None: no target, or still running within it."""
    if target is None:
        return None
    if took is not None:
        return took <= target
    return False if so_far() > target else None


def _tier(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _reopens(event: EventRow) -> bool:
    return event.old in DONE and event.new not in DONE


def _resolved_at(ticket: TicketRow, events: Sequence[EventRow]) -> datetime | None:
    """When a ticket resolved now got resolved: the first resolve after its last reopening."""
    if ticket.status not in DONE:
        return None
    moment = None
    for event in events:
        if event.kind != "status":
            continue
        if _reopens(event):
            moment = None
        elif event.new in DONE and event.old not in DONE and moment is None:
            moment = event.at
    return moment or ticket.resolved_at


def _pending_spans(
    ticket: TicketRow, events: Sequence[EventRow], now: datetime
) -> list[tuple[datetime, datetime]]:
    """The stretches the ticket spent waiting on the customer (its SLA clocks stood)."""
    spans, since = [], None
    for event in events:
        if event.kind != "status":
            continue
        if event.new == "pending" and since is None:
            since = event.at
        elif event.new != "pending" and since is not None:
            spans.append((since, event.at))
            since = None
    if since is not None:
        spans.append((since, now))
    return spans


def backlog_bucket(age_seconds: float) -> str:
    """The age bucket of an open ticket: <1d, 1-3d, 3-7d or >7d."""
    if age_seconds < DAY:
        return "<1d"
    if age_seconds < 3 * DAY:
        return "1-3d"
    if age_seconds < 7 * DAY:
        return "3-7d"
    return ">7d"


def group_key(ticket: TicketRow, by: str | None) -> str:
    """The group a ticket counts in: its tier, queue or assignee now (or `all`)."""
    if by == "tier":
        return f"tier {ticket.tier}"
    if by == "queue":
        return ticket.queue
    if by == "agent":
        return ticket.assignee or "(unassigned)"
    return "all"


def figures_of(
    group: str,
    clocks: Iterable[TicketClock],
    open_ages: Iterable[float],
) -> Figures:
    """Sum up the clocks of one group's tickets and the ages of its open ones."""
    clocks = list(clocks)
    firsts = [c.first_response for c in clocks if c.first_response is not None]
    resolutions = [c.resolution for c in clocks if c.resolution is not None]
    backlog = dict.fromkeys(BACKLOG_BUCKETS, 0)
    for age in open_ages:
        backlog[backlog_bucket(age)] += 1
    return Figures(
        group=group,
        opened=len(clocks),
        answered=len(firsts),
        resolved=sum(c.resolved for c in clocks),
        first_response=_times(firsts, [c.first_response_met for c in clocks]),
        resolution=_times(resolutions, [c.resolution_met for c in clocks]),
        tier1_alone=sum(
            c.resolved and c.started_tier == 1 and not c.escalated_from for c in clocks
        ),
        escalations={
            f"{a}>{b}": sum(a in c.escalated_from for c in clocks)
            for a, b in ESCALATION_STEPS
        },
        reopened=sum(c.reopened for c in clocks),
        ever_resolved=sum(c.ever_resolved for c in clocks),
        backlog=backlog,
    )


def _times(values: list[float], verdicts: list[bool | None]) -> TimeFigures:
    return TimeFigures(
        count=len(values),
        median=median(values),
        p90=percentile_nearest_rank(values, 0.9),
        met=sum(v is True for v in verdicts),
        missed=sum(v is False for v in verdicts),
    )


def report(
    opened: Sequence[TicketRow],
    open_tickets: Sequence[TicketRow],
    history: dict[int, list[EventRow]],
    policies: dict[str, SlaPolicy],
    now: datetime,
    by: str | None = None,
) -> tuple[Figures, list[Figures]]:
    """The figures of all tickets, and of each group when `by` is given (sorted by name)."""
    clocks = [(t, clock_of(t, history.get(t.id, []), policies, now)) for t in opened]
    ages = [(t, (now - t.created_at).total_seconds()) for t in open_tickets]
    total = figures_of("all", (c for _, c in clocks), (a for _, a in ages))
    if by is None:
        return total, []
    names = sorted(
        {group_key(t, by) for t, _ in clocks} | {group_key(t, by) for t, _ in ages}
    )
    groups = [
        figures_of(
            name,
            (c for t, c in clocks if group_key(t, by) == name),
            (a for t, a in ages if group_key(t, by) == name),
        )
        for name in names
    ]
    return total, groups
