"""When the message is routed: `business_hours`, `weekday`, `time_between`.

Times are in the rules' time zone; a business-hours calendar carries its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

from tierdesk.rules.calendar import BusinessHours, is_open
from tierdesk.rules.conditions.base import Condition, Facts, Names
from tierdesk.rules.yamlsource import Located, Problem, is_sequence, suggest

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class InBusinessHours(Condition):
    """`business_hours: office`: the desk is open by the named calendar."""

    key = "business_hours"
    calendar: str
    hours: BusinessHours

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """The name of a calendar defined under `business_hours:`."""
        name = node.value
        if not isinstance(name, str) or name not in names.calendars:
            known = ", ".join(sorted(names.calendars)) or "none are defined"
            problems.append(
                node.problem(
                    f"'business_hours': unknown calendar {name!r}{suggest(str(name), names.calendars)}; known: {known}"
                )
            )
            return None
        return cls(name, names.calendars[name], line=node.line)

    def check(self, facts: Facts) -> bool:
        """Whether the calendar is open at the evaluation time."""
        return is_open(self.hours, facts.inp.now)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The local time, and whether it is within the calendar's hours."""
        passed = self.check(facts)
        where = "within" if passed else "outside"
        return (
            passed,
            f"{facts.local:%a %H:%M} is {where} business_hours {self.calendar}",
        )


@dataclass(frozen=True, slots=True)
class Weekday(Condition):
    """`weekday: mon-fri` or `weekday: [sat, sun]`: the local day of the week."""

    key = "weekday"
    days: frozenset[int]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """Days and ranges of days, one text (`mon,wed`) or a list."""
        days = _read_days(node, problems)
        return cls(days, line=node.line) if days else None

    def check(self, facts: Facts) -> bool:
        """Whether today is one of the days."""
        return facts.local.weekday() in self.days

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Which day it is."""
        return self.check(facts), f"weekday is {DAYS[facts.local.weekday()]}"


def _read_days(node: Located, problems: list[Problem]) -> frozenset[int]:
    """Monday 0 to Sunday 6; empty after adding a problem."""
    specs = node.value if is_sequence(node.value) else [node.value]
    days: set[int] = set()
    for spec in specs:
        for part in str(spec).lower().replace(" ", "").split(","):
            first, _, last = part.partition("-")
            if first not in DAYS or (last and last not in DAYS):
                bad = first if first not in DAYS else last
                problems.append(
                    node.problem(f"'weekday': unknown day {bad!r}{suggest(bad, DAYS)}")
                )
                return frozenset()
            start, end = DAYS.index(first), DAYS.index(last or first)
            if end < start:
                problems.append(
                    node.problem(
                        f"'weekday': {part!r} runs backwards; write e.g. 'mon-fri'"
                    )
                )
                return frozenset()
            days.update(range(start, end + 1))
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class TimeBetween(Condition):
    """`time_between: '09:00-17:00'`: the local time; '22:00-06:00' spans midnight."""

    key = "time_between"
    # (start, end) in minutes since local midnight; the end is exclusive and may be 24:00
    minutes: tuple[int, int]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """'HH:MM-HH:MM'."""
        match = re.fullmatch(
            r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(node.value)
        )
        if match is None:
            problems.append(
                node.problem(f"'time_between' takes 'HH:MM-HH:MM', not {node.value!r}")
            )
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
            problems.append(
                node.problem(f"'time_between': {node.value!r} is not a time of day")
            )
            return None
        return cls((start, end), line=node.line)

    def check(self, facts: Facts) -> bool:
        """Whether the local time falls in the span."""
        start, end = self.minutes
        minute = facts.local.hour * 60 + facts.local.minute
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The local time, and whether it is within the span."""
        passed = self.check(facts)
        start, end = self.minutes
        span = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
        where = "within" if passed else "outside"
        return passed, f"time {facts.local:%H:%M} is {where} {span}"
