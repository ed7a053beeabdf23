"""Opening hours as admins write them: `{mon-fri: '09:00-17:00', sat: []}` read into a week.

Days are `mon`..`sun` (or full names), single, in ranges or separated by
commas; hours are `HH:MM-HH:MM`, several separated by commas, `24:00` for the
end of the day, `[]` or `closed` for closed. Every mistake is a ValueError
that names the key and says how to write it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import time
from itertools import pairwise

Interval = tuple[time, time]
Week = dict[int, tuple[Interval, ...]]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_week(spec: Mapping[str, str | list[str]]) -> Week:
    """Read admin-friendly hours such as {"mon-fri": "09:00-17:00", "sat": []}.

    A later key for the same day replaces the earlier one; "24:00" becomes `time.max`.
    """
    week: Week = {}
    for key, value in spec.items():
        intervals = _parse_intervals(key, value)
        for day in _parse_days(key):
            week[day] = intervals
    return {day: week[day] for day in sorted(week) if week[day]}


def _parse_days(key: str) -> list[int]:
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"{key!r}: expected day names such as 'mon' or 'mon-fri'")
    days: list[int] = []
    for part in key.split(","):
        ends = part.split("-")
        if len(ends) > 2:
            raise ValueError(f"{key!r}: {part.strip()!r} has more than one '-'")
        first, last = _day(key, ends[0]), _day(key, ends[-1])
        if last < first:
            raise ValueError(
                f"{key!r}: the range {part.strip()!r} wraps past Sunday; "
                f"weeks run mon-sun, so write '{_range_text(first, 6)}, "
                f"{_range_text(0, last)}'"
            )
        days.extend(range(first, last + 1))
    return days


def _day(key: str, word: str) -> int:
    name = word.strip().lower()
    if name in DAYS:
        return DAYS.index(name)
    if name in _FULL_DAYS:
        return _FULL_DAYS.index(name)
    if not name:
        raise ValueError(f"{key!r}: a day name is missing; write e.g. 'mon-fri'")
    close = difflib.get_close_matches(name, DAYS + _FULL_DAYS, n=1, cutoff=0.6)
    hint = ""
    if close:
        index = (DAYS + _FULL_DAYS).index(close[0]) % 7
        hint = f" (did you mean '{DAYS[index]}'?)"
    raise ValueError(f"{key!r}: unknown day {word.strip()!r}{hint}")


def _range_text(first: int, last: int) -> str:
    return DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"


def _parse_intervals(key: str, value: object) -> tuple[Interval, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        pieces = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        pieces = [piece for item in value for piece in item.split(",")]
    else:
        raise ValueError(
            f"{key!r}: expected hours such as '09:00-17:00' or a list of them, "
            f"not {value!r}"
        )
    pieces = [piece.strip() for piece in pieces if piece.strip()]
    if [piece.lower() for piece in pieces] == ["closed"]:
        return ()
    intervals = sorted(_parse_interval(key, piece) for piece in pieces)
    for a, b in pairwise(intervals):
        if b[0] < a[1]:
            raise ValueError(
                f"{key!r}: {span_text(a)} overlaps {span_text(b)}; "
                "merge them into one interval"
            )
    return tuple(intervals)


def _parse_interval(key: str, piece: str) -> Interval:
    match = _HOURS.match(piece)
    if match is None:
        raise ValueError(
            f"{key!r}: {piece!r} is not opening hours; write HH:MM-HH:MM, "
            "e.g. '09:00-17:00', several separated by commas, or [] for closed"
        )
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    for hour, minute in ((start_h, start_m), (end_h, end_m)):
        if hour > 24 or minute > 59 or (hour == 24 and minute):
            raise ValueError(f"{key!r}: {piece!r}: hours must be 00:00-24:00")
    start, end = _clock(start_h, start_m), _clock(end_h, end_m)
    if end <= start:
        hint = ""
        if end < start:
            hint = (
                "; for hours past midnight, end the day at 24:00 and "
                "start the next day at 00:00"
            )
        raise ValueError(f"{key!r}: {piece!r}: the end must be after the start{hint}")
    return start, end


def _clock(hour: int, minute: int) -> time:
    return time.max if hour == 24 else time(hour, minute)


def span_text(interval: tuple[time, ...]) -> str:
    """An interval as admins write it: '09:00-17:00'."""
    return "-".join(_time_text(t) for t in interval)


def _time_text(moment: time) -> str:
    if moment == time.max:
        return "24:00"
    spec = "minutes" if not (moment.second or moment.microsecond) else "auto"
    return moment.isoformat(timespec=spec)
