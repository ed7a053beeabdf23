"""Business-hours arithmetic for SLA deadlines: is the desk open, and when is it due.

Opening hours are wall-clock times in the calendar's zone, so 09:00-17:00 is eight
hours on DST-change days too. Business time itself is real elapsed time: a desk
open round the clock has a 23-hour day when the clocks spring forward.
"""

from __future__ import annotations

import difflib
import math
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from tierdesk.rules.week import DAYS, Interval, Week, span_text

_Edge = tuple[int, time, time]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BusinessHours:
    """When a desk is open: weekly wall-clock intervals in one zone, minus holidays.

    `week` maps weekday (0=Monday..6=Sunday) to sorted, non-overlapping (start, end)
    intervals; an end of `time.max` means midnight at the end of that day (24:00).
    Days missing from `week` are closed; empty days are dropped so equal calendars
    compare equal. A wall time skipped by spring-forward counts as the moment the
    clocks jump. On a fall-back night an interval runs from the first time the
    clock shows its start to the last time the clock shows its end.
    """

    timezone: str
    week: Week
    holidays: frozenset[date] = frozenset()
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    _edges: dict[int, tuple[tuple[_Edge, _Edge], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        week = _checked_week(self.week)
        edges = {
            day: tuple((_edge(start), _edge(end)) for start, end in spans)
            for day, spans in week.items()
        }
        object.__setattr__(self, "_zone", _load_zone(self.timezone))
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "holidays", _checked_holidays(self.holidays))
        object.__setattr__(self, "_edges", edges)

    def __hash__(self) -> int:
        # The generated hash would choke on the dict; hash what equality compares.
        return hash((self.timezone, tuple(sorted(self.week.items())), self.holidays))

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessHours:
        """A desk that never closes: every day 00:00-24:00."""
        return cls(timezone, {day: ((time(0), time.max),) for day in range(7)})


def is_open(hours: BusinessHours, at: datetime) -> bool:
    """True if the desk is open at the aware instant `at`."""
    instant = _utc(at, "at")
    day = _local_date(hours, instant)
    for opens, closes in _spans(hours, _day_before(day), _day_after(day)):
        if opens > instant:
            return False
        if instant < closes:
            return True
    return False


def add_business_time(
    hours: BusinessHours, start: datetime, seconds: float
) -> datetime:
    """The aware UTC instant when `seconds` of open time have passed since `start`.

    A start outside opening hours starts the clock at the next opening.
    """
    remaining = _duration(seconds)
    if not hours.week:
        raise ValueError(
            "the business hours have no open time (every day is closed), "
            "so no deadline can ever be reached"
        )
    cursor = _utc(start, "start")
    for opens, closes in _spans(hours, _day_before(_local_date(hours, cursor))):
        if closes <= cursor:
            continue
        opens = max(opens, cursor)
        # `<=` so that work ending exactly at closing time is due that day.
        if remaining <= closes - opens:
            return (opens + remaining).replace(tzinfo=UTC)
        remaining -= closes - opens
    raise AssertionError("unreachable: an open week has spans forever")


def business_seconds_between(
    hours: BusinessHours, start: datetime, end: datetime
) -> float:
    """Seconds of open time between two aware instants; 0 if `end` <= `start`."""
    begin, finish = _utc(start, "start"), _utc(end, "end")
    if finish <= begin or not hours.week:
        return 0.0
    first = _day_before(_local_date(hours, begin))
    last = _day_after(_local_date(hours, finish))
    total = timedelta()
    for opens, closes in _spans(hours, first, last):
        if opens >= finish:
            break
        overlap = min(closes, finish) - max(opens, begin)
        if overlap > timedelta():
            total += overlap
    return total.total_seconds()


def _spans(
    hours: BusinessHours, first: date, last: date | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """Open spans as naive UTC (opens, closes), sorted and disjoint, from day `first`.

    Closed days and holidays cost a dict and a set lookup, no zone arithmetic.
    """
    zone, edges, holidays = hours._zone, hours._edges, hours.holidays
    previous_close = datetime.min
    day = first
    try:
        while last is None or day <= last:
            intervals = edges.get(day.weekday())
            if intervals and day not in holidays:
                days = (day, day + _DAY)
                for (_, start, start_fold), (next_day, end, end_fold) in intervals:
                    # Clipping keeps spans disjoint where fall-back repeats the
                    # hour one interval ends in and the next one starts in.
                    opens = _resolve(day, start, start_fold, zone, last=False)
                    opens = max(opens, previous_close)
                    closes = _resolve(days[next_day], end, end_fold, zone, last=True)
                    if opens < closes:
                        yield opens, closes
                        previous_close = closes
            day += _DAY
    except OverflowError:
        # Questions about a bounded stretch just end at the calendar's edge; only an
        # open-ended search for a deadline has nowhere left to go.
        if last is None:
            raise ValueError(
                "business time runs past the end of the year 9999"
            ) from None


def _resolve(
    day: date, clock: time, clock_fold: time, zone: zoneinfo.ZoneInfo, *, last: bool
) -> datetime:
    """The naive UTC instant the local clock shows `clock` on `day` (first or last).

    `clock_fold` is `clock` with fold=1, made once per calendar: combining is
    several times cheaper than `datetime.replace(fold=1)` on every step.
    """
    wall = datetime.combine(day, clock)
    before = zone.utcoffset(wall)
    after = zone.utcoffset(datetime.combine(day, clock_fold))
    if before == after:
        return wall - before
    if before > after:
        # Fall-back repeats this wall time: fold=0 is its first showing.
        return wall - (after if last else before)
    return _jump(wall - after, wall - before, zone, after)


def _jump(
    low: datetime, high: datetime, zone: zoneinfo.ZoneInfo, new_offset: timedelta
) -> datetime:
    """The UTC instant in (low, high] where the offset becomes `new_offset`.

    Only wall times inside a spring-forward gap get here; tzdata transitions fall
    on whole seconds, so bisecting over seconds finds the exact instant.
    """
    base = low.replace(microsecond=0)
    lo, hi = 0, math.ceil((high - base).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        probe = (base + timedelta(seconds=mid)).replace(tzinfo=UTC)
        if probe.astimezone(zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid + 1
    return base + timedelta(seconds=lo)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not the naive {value}")
    return value.astimezone(UTC).replace(tzinfo=None)


def _local_date(hours: BusinessHours, instant: datetime) -> date:
    return instant.replace(tzinfo=UTC).astimezone(hours._zone).date()


def _day_before(day: date) -> date:
    return day if day == date.min else day - _DAY


def _day_after(day: date) -> date:
    return day if day == date.max else day + _DAY


def _duration(seconds: float) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"business time must be zero or more seconds, not {seconds!r}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"business time of {seconds!r} seconds is too long") from None


def _edge(moment: time) -> _Edge:
    """(1 if on the next day, clock, clock with fold=1) for one end of an interval."""
    if moment == time.max:
        return 1, time(0), time(0, fold=1)
    return 0, moment.replace(fold=0), moment.replace(fold=1)


def _load_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        # Listing every zone reads the tz database; only worth it on this error path.
        close = difflib.get_close_matches(str(name), zoneinfo.available_timezones(), 1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(
            f"unknown time zone {name!r}{hint}; use an IANA name such as 'Europe/Berlin'"
        ) from None


def _checked_week(week: Mapping[int, Iterable[Interval]]) -> Week:
    checked: Week = {}
    for day, intervals in week.items():
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"weekday {day!r} must be 0 (Monday) to 6 (Sunday)")
        name = DAYS[day]
        spans: list[Interval] = []
        for interval in intervals:
            pair = tuple(interval)
            if len(pair) != 2 or not all(isinstance(t, time) for t in pair):
                raise ValueError(
                    f"{name}: {interval!r} must be a (start, end) of times"
                )
            start, end = pair
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(
                    f"{name}: opening times are wall-clock times in the calendar's "
                    "zone and must not carry a tzinfo"
                )
            if end <= start:
                raise ValueError(
                    f"{name}: {span_text(pair)}: the end must be after the start"
                )
            spans.append((start, end))
        for a, b in pairwise(spans):
            if b[0] < a[1]:
                raise ValueError(
                    f"{name}: {span_text(a)} and {span_text(b)} must be sorted "
                    "and must not overlap"
                )
        if spans:
            checked[day] = tuple(spans)
    return checked


def _checked_holidays(holidays: Iterable[date]) -> frozenset[date]:
    days = frozenset(holidays)
    for day in days:
        # A datetime never equals a date, so it would silently never match. A
        # ValueError, like every other admin mistake here, so loaders report it.
        if isinstance(day, datetime):
            raise ValueError(  # noqa: TRY004
                f"holiday {day} must be a whole day such as 2026-12-25, not a time"
            )
        if not isinstance(day, date):
            raise TypeError(f"holiday {day!r} must be a date, not {type(day).__name__}")
    return days
