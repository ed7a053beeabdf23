"""Reading a rule's `when`: a mapping of tests that must all hold.

Every value is checked here (regexes compiled, calendars and days looked up),
so a rule that loads can always be evaluated. CONDITION_TYPES is the registry:
a new kind of test is one Condition class, listed there.
"""

from __future__ import annotations

from tierdesk.rules.conditions.addresses import Recipient, Sender, SenderDomain
from tierdesk.rules.conditions.base import Condition, Names
from tierdesk.rules.conditions.clock import InBusinessHours, TimeBetween, Weekday
from tierdesk.rules.conditions.combine import AllOf, AnyOf, Not
from tierdesk.rules.conditions.content import (
    AttachmentType,
    Classification,
    HasAttachment,
    Language,
    Mailbox,
)
from tierdesk.rules.conditions.people import KnownCustomer, Vip
from tierdesk.rules.conditions.text import Body, Header, Subject
from tierdesk.rules.yamlsource import Located, Problem, entries, is_mapping, suggest

CONDITION_TYPES: tuple[type[Condition], ...] = (
    Sender,
    SenderDomain,
    Recipient,
    Mailbox,
    Language,
    AttachmentType,
    Classification,
    Subject,
    Body,
    HasAttachment,
    KnownCustomer,
    Vip,
    Header,
    InBusinessHours,
    Weekday,
    TimeBetween,
    AllOf,
    AnyOf,
    Not,
)
CONDITIONS: dict[str, type[Condition]] = {kind.key: kind for kind in CONDITION_TYPES}
# the documented keys; tests/test_conditions.py checks the registry has each one
CONDITION_KEYS = (
    "sender",
    "sender_domain",
    "recipient",
    "mailbox",
    "language",
    "attachment_type",
    "classification",
    "subject",
    "body",
    "has_attachment",
    "known_customer",
    "vip",
    "header",
    "business_hours",
    "weekday",
    "time_between",
    "all",
    "any",
    "not",
)


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
    parsed = tuple(test for test in tests if test is not None)
    if len(parsed) == 1:
        return parsed[0]
    return AllOf(parsed, line=node.line)


def _parse_test(
    key: str, node: Located, names: Names, problems: list[Problem]
) -> Condition | None:
    kind = CONDITIONS.get(key)
    if kind is None:
        problems.append(
            node.problem(f"unknown test '{key}'{suggest(key, CONDITION_KEYS)}")
        )
        return None
    return kind.read(node, names, problems)
