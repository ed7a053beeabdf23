"""Condition classes on their own: the registry, reading, checking, and explaining once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Self
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML
from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.conditions import (
    CONDITION_KEYS,
    CONDITION_TYPES,
    Condition,
    Facts,
    Names,
    parse_condition,
)
from tierdesk.rules.conditions.addresses import Recipient
from tierdesk.rules.conditions.clock import TimeBetween
from tierdesk.rules.conditions.combine import AllOf, AnyOf, Not
from tierdesk.rules.match import MatchInput, decide
from tierdesk.rules.model import Actions, Rule, RuleSet
from tierdesk.rules.week import parse_week
from tierdesk.rules.yamlsource import Located, Problem

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY_23_30 = datetime(2026, 1, 7, 23, 30, tzinfo=BERLIN)
OFFICE = BusinessHours("Europe/Berlin", parse_week({"mon-fri": "09:00-17:00"}))
NAMES = Names(set(), set(), set(), set(), {"office": OFFICE})

# one value of each kind of test, for the tests that go through all of them
SAMPLES = {
    "sender": "'*@customer.example'",
    "sender_domain": "[other.example, customer.example]",
    "recipient": "[billing, 'help@*']",
    "mailbox": "Vendor",
    "language": "ru",
    "attachment_type": "'*.pdf'",
    "classification": "[human, bounce]",
    "subject": "{regex: '^re:'}",
    "body": "refund",
    "has_attachment": "false",
    "known_customer": "true",
    "vip": "false",
    "header": "{name: X-Priority, equals: '1'}",
    "business_hours": "office",
    "weekday": "mon-fri",
    "time_between": "'22:00-06:00'",
    "all": "[{subject: invoice}, {vip: false}]",
    "any": "[{subject: invoice}, {body: refund}]",
    "not": "{subject: invoice}",
}


@dataclass(frozen=True, slots=True)
class Counted(Condition):
    """A test double: a fixed answer, and a log of how it was asked."""

    key = "counted"
    passes: bool
    calls: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """Never read from YAML."""
        return None

    def check(self, facts: Facts) -> bool:
        """The fixed answer, logged."""
        self.calls.append("check")
        return self.passes

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The fixed answer and a reason naming it, logged."""
        self.calls.append("explain")
        return self.passes, f"counted {self.passes}"


def facts(
    raw: bytes = b"From: a@customer.example\r\nTo: support+billing@acme.example\r\n"
    b"Subject: Re: refund\r\n\r\nI want a refund.\r\n",
    now: datetime = WEDNESDAY_23_30,
) -> Facts:
    """Facts for a small message, evaluated at `now` with Berlin time rules."""
    mail = parse_mail(raw)
    inp = MatchInput(mail, classify(mail, None, frozenset(), ""), now=now)
    return Facts(inp, RuleSet(source="test", timezone="Europe/Berlin"))


def read(yaml_text: str) -> tuple[Condition | None, list[Problem]]:
    """A `when` mapping read from YAML text, and the problems found."""
    problems: list[Problem] = []
    node = Located(YAML(typ="rt").load(yaml_text), "rules.yaml", 1)
    return parse_condition(node, NAMES, problems), problems


def test_the_registry_has_one_class_for_every_documented_key() -> None:
    keys = [kind.key for kind in CONDITION_TYPES]

    assert sorted(keys) == sorted(CONDITION_KEYS)
    assert len(set(keys)) == len(keys)
    assert set(SAMPLES) == set(CONDITION_KEYS)


@pytest.mark.parametrize("key", CONDITION_KEYS)
def test_each_key_reads_into_its_class_and_explains_what_it_checks(key: str) -> None:
    condition, problems = read(f"{{{key}: {SAMPLES[key]}}}")

    assert problems == []
    assert condition is not None and condition.key == key
    for message in (facts(), facts(now=datetime(2026, 1, 10, 12, 0, tzinfo=BERLIN))):
        passed, reason = condition.explain(message)
        assert passed == condition.check(message)
        assert reason


def test_any_explains_from_its_childrens_answers_without_checking_again() -> None:
    children = (Counted(False), Counted(True), Counted(True))

    passed, reason = AnyOf(children).explain(facts())

    assert (passed, reason) == (True, "counted True")
    assert [child.calls for child in children] == [["explain"], ["explain"], []]


def test_any_that_fails_lists_every_reason_once() -> None:
    children = (Counted(False), Counted(False))

    assert AnyOf(children).explain(facts()) == (
        False,
        "none of: counted False; counted False",
    )
    assert [child.calls for child in children] == [["explain"], ["explain"]]


def test_all_stops_at_the_first_failing_child_and_gives_its_reason() -> None:
    children = (Counted(True), Counted(False), Counted(True))

    assert AllOf(children).explain(facts()) == (False, "counted False")
    assert [child.calls for child in children] == [["explain"], ["explain"], []]


def test_not_reverses_its_childs_answer_and_quotes_its_reason() -> None:
    child = Counted(True)

    assert Not(child).explain(facts()) == (False, "not: counted True")
    assert child.calls == ["explain"]


def test_the_pipeline_path_only_checks() -> None:
    child = Counted(False)
    rule = Rule("r", 1, AllOf((Counted(True), Not(child))), Actions(queue="billing"))
    ruleset = RuleSet(source="test", rules=(rule,), queues=frozenset({"billing"}))

    routing = decide(ruleset, facts().inp)

    assert routing.decision.queue == "billing"
    assert routing.trace[0].reason == ""
    assert child.calls == ["check"]


def test_time_between_wraps_past_midnight() -> None:
    night = TimeBetween((22 * 60, 6 * 60))

    assert night.explain(facts()) == (True, "time 23:30 is within 22:00-06:00")
    assert not night.check(facts(now=datetime(2026, 1, 7, 12, 0, tzinfo=BERLIN)))


def test_time_between_refuses_a_time_that_is_not_a_time_of_day() -> None:
    problems: list[Problem] = []

    got = TimeBetween.read(Located("10:00-24:30", "rules.yaml", 7), NAMES, problems)

    assert got is None
    assert [str(p) for p in problems] == [
        "rules.yaml:7: 'time_between': '10:00-24:30' is not a time of day"
    ]


def test_recipient_names_the_address_a_plus_tag_matched() -> None:
    problems: list[Problem] = []
    recipient = Recipient.read(
        Located(["sales", "billing"], "rules.yaml", 3), NAMES, problems
    )

    assert recipient is not None and problems == []
    assert recipient.explain(facts()) == (
        True,
        "recipient 'support+billing@acme.example' matches sales, billing",
    )


def test_several_tests_in_one_mapping_all_have_to_hold() -> None:
    condition, problems = read("{subject: refund, vip: true}")

    assert problems == []
    assert isinstance(condition, AllOf)
    assert condition.explain(facts()) == (False, "a@customer.example is not a VIP")


def test_an_unknown_key_is_refused_with_a_suggestion() -> None:
    _, problems = read("{subjekt: refund}")

    assert [p.message for p in problems] == [
        "unknown test 'subjekt' (did you mean 'subject'?)"
    ]
