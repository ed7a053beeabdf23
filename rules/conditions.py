"""Reading a rule's `when`: tests of a message, combined with all, any and not.

A condition is a mapping of tests that must all hold, or `all: [...]`,
`any: [...]`, `not: {...}`. Every value is checked here (regexes compiled,
calendars and days looked up), so a rule that loads can always be evaluated.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.model import Condition, TextTest
from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    entries,
    is_mapping,
    is_sequence,
    items,
    suggest,
)

ADDRESS_TESTS = ("sender", "sender_domain", "recipient")
LIST_TESTS = ("mailbox", "language", "attachment_type", "classification")
TEXT_TESTS = ("subject", "body")
FLAG_TESTS = ("has_attachment", "known_customer", "vip")
OTHER_TESTS = ("header", "business_hours", "weekday", "time_between")
COMBINATORS = ("all", "any", "not")
GLOB_TESTS = ("sender", "sender_domain", "recipient", "attachment_type")
CONDITION_KEYS = (
    ADDRESS_TESTS + LIST_TESTS + TEXT_TESTS + FLAG_TESTS + OTHER_TESTS + COMBINATORS
)
CLASSIFICATIONS = ("human", "auto_generated", "auto_reply", "bounce", "list", "loop")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Names:
    """What conditions and actions may refer to: checked while parsing."""

    queues: set[str]
    agents: set[str]
    groups: set[str]
    sla: set[str]
    calendars: dict[str, BusinessHours]
    languages: set[str] = field(default_factory=lambda: {"en", "ru"})


def parse_condition(
    node: Located, names: Names, problems: list[Problem]
) -> Condition | None:
    """A `when` mapping: every key is a test, and all of them must hold."""
    if not is_mapping(node.value) or not node.value:
        problems.append(
            node.problem(
                "a condition must be a mapping of tests, e.g. {subject: invoice}"
            )
        )
        return None
    tests = [_parse_test(key, value, names, problems) for key, value in entries(node)]
    parsed = tuple(t for t in tests if t is not None)
    if len(parsed) == 1:
        return parsed[0]
    return Condition("all", node.line, children=parsed)


def _parse_test(
    key: str, node: Located, names: Names, problems: list[Problem]
) -> Condition | None:
    if key in ("all", "any"):
        if not is_sequence(node.value) or not node.value:
            problems.append(node.problem(f"'{key}' needs a list of conditions"))
            return None
        children = [parse_condition(item, names, problems) for item in items(node)]
        return Condition(
            key, node.line, children=tuple(c for c in children if c is not None)
        )
    if key == "not":
        child = parse_condition(node, names, problems)
        return Condition("not", node.line, children=(child,)) if child else None
    if key in ADDRESS_TESTS or key in LIST_TESTS:
        values = read_strings(node, key, problems)
        if key == "mailbox" or not values:
            return Condition(key, node.line, values=values) if values else None
        if key == "language":
            unknown = [v for v in values if v not in names.languages]
            if unknown:
                problems.append(
                    node.problem(
                        f"'language': {unknown[0]!r} is not one of {sorted(names.languages)}"
                    )
                )
        if key == "classification":
            for value in values:
                if value not in CLASSIFICATIONS:
                    problems.append(
                        node.problem(
                            f"'classification': {value!r} is not one of {', '.join(CLASSIFICATIONS)}"
                        )
                    )
        lowered = tuple(v.lower() for v in values)
        globs = (
            tuple(re.compile(fnmatch.translate(v)) for v in lowered)
            if key in GLOB_TESTS
            else ()
        )
        return Condition(key, node.line, values=lowered, patterns=globs)
    if key in TEXT_TESTS:
        text = _text_test(node, key, problems, allow_present=False)
        return Condition(key, node.line, text=text) if text else None
    if key in FLAG_TESTS:
        flag = read_bool(node, key, problems)
        return None if flag is None else Condition(key, node.line, flag=flag)
    if key == "header":
        return _header(node, problems)
    if key == "business_hours":
        calendar = _calendar_name(node, names, problems)
        return (
            Condition(key, node.line, hours=calendar, values=(str(node.value),))
            if calendar
            else None
        )
    if key == "weekday":
        days = _days(node, problems)
        return Condition(key, node.line, days=days) if days else None
    if key == "time_between":
        return _time_between(node, problems)
    problems.append(node.problem(f"unknown test '{key}'{suggest(key, CONDITION_KEYS)}"))
    return None


def read_strings(node: Located, key: str, problems: list[Problem]) -> tuple[str, ...]:
    values = node.value if is_sequence(node.value) else [node.value]
    if not values or any(not isinstance(v, str) or not v.strip() for v in values):
        problems.append(node.problem(f"'{key}' takes a text or a list of texts"))
        return ()
    return tuple(v.strip() for v in values)


def _text_test(
    node: Located, key: str, problems: list[Problem], allow_present: bool
) -> TextTest | None:
    value = node.value
    if isinstance(value, str):
        return TextTest("contains", value)
    modes = ("contains", "equals", "regex") + (("present",) if allow_present else ())
    if not is_mapping(value) or len(value) != 1:
        problems.append(
            node.problem(f"'{key}' takes a text, or one of {', '.join(modes)}: TEXT")
        )
        return None
    [(mode, inner)] = entries(node)
    if mode not in modes:
        problems.append(
            inner.problem(f"'{key}': unknown test '{mode}'{suggest(mode, modes)}")
        )
        return None
    if mode == "present":
        return TextTest("present")
    if not isinstance(inner.value, str):
        problems.append(inner.problem(f"'{key}': {mode} takes a text"))
        return None
    if mode == "regex":
        try:
            return TextTest(
                "regex", inner.value, re.compile(inner.value, re.IGNORECASE)
            )
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            problems.append(
                inner.problem(f"bad regex {inner.value!r}: {exc.msg}{where}")
            )
            return None
    return TextTest(mode, inner.value)


def _header(node: Located, problems: list[Problem]) -> Condition | None:
    if not is_mapping(node.value) or "name" not in node.value:
        problems.append(
            node.problem(
                "'header' takes {name: X-Header} plus one of present, equals, contains, regex"
            )
        )
        return None
    fields = dict(entries(node))
    name = str(fields.pop("name").value).strip().lower()
    if not fields:
        return Condition("header", node.line, header=name, text=TextTest("present"))
    if len(fields) > 1:
        problems.append(node.problem("'header' takes one test besides its name"))
        return None
    [(mode, inner)] = fields.items()
    sub = Located({mode: inner.value}, node.path, inner.line)
    test = _text_test(sub, "header", problems, allow_present=True)
    return Condition("header", node.line, header=name, text=test) if test else None


def _calendar_name(
    node: Located, names: Names, problems: list[Problem]
) -> BusinessHours | None:
    name = node.value
    if not isinstance(name, str) or name not in names.calendars:
        known = ", ".join(sorted(names.calendars)) or "none are defined"
        problems.append(
            node.problem(
                f"'business_hours': unknown calendar {name!r}{suggest(str(name), names.calendars)}; known: {known}"
            )
        )
        return None
    return names.calendars[name]


def _days(node: Located, problems: list[Problem]) -> frozenset[int]:
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


def _time_between(node: Located, problems: list[Problem]) -> Condition | None:
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
    # minutes of the day; an end before the start wraps past midnight (22:00-06:00)
    return Condition("time_between", node.line, values=(str(start), str(end)))


def read_bool(node: Located, key: str, problems: list[Problem]) -> bool | None:
    if isinstance(node.value, bool):
        return node.value
    problems.append(node.problem(f"'{key}' must be true or false, not {node.value!r}"))
    return None
