"""Routing rules matching a mail: every condition and action, `continue`, and the default."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.routing import BERLIN, WEDNESDAY_10, message, route, rules_file


@pytest.mark.parametrize(
    ("condition", "raw", "expected"),
    [
        ("sender: '*@customer.example'", message(), True),
        ("sender: [a@x.example, b@y.example]", message(), False),
        ("sender_domain: customer.example", message(), True),
        (
            "sender_domain: '*.customer.example'",
            message(sender="x@eu.customer.example"),
            True,
        ),
        ("recipient: billing", message(to="support+billing@acme.example"), True),
        ("recipient: billing", message(to="support@acme.example"), False),
        ("recipient: 'help@*'", message(to="help@acme.example"), True),
        ("subject: INVOICE", message(subject="my invoice is wrong"), True),
        ("subject: {equals: 'hello'}", message(subject="Hello"), True),
        ("subject: {regex: '^re:'}", message(subject="Hello"), False),
        ("body: {contains: refund}", message(body="I want a Refund please"), True),
        ("header: {name: X-Priority}", message(headers="X-Priority: 1\r\n"), True),
        (
            "header: {name: X-Priority, equals: '1'}",
            message(headers="X-Priority: 1\r\n"),
            True,
        ),
        (
            "header: {name: X-Priority, regex: '^[45]'}",
            message(headers="X-Priority: 1\r\n"),
            False,
        ),
        ("has_attachment: true", message(attachment="a.pdf"), True),
        ("has_attachment: true", message(), False),
        ("attachment_type: '*.pdf'", message(attachment="report.PDF"), True),
        (
            "attachment_type: application/octet-stream",
            message(attachment="x.bin"),
            True,
        ),
        ("vip: true", message(sender="boss@big.example"), True),
        ("vip: true", message(sender="anyone@partner.example"), True),
        ("vip: true", message(), False),
        (
            "classification: auto_generated",
            message(headers="Auto-Submitted: auto-generated\r\n"),
            True,
        ),
    ],
)
def test_each_condition(tmp_path, condition, raw, expected):
    path = rules_file(
        tmp_path, f"- name: r\n  when: {{{condition}}}\n  then: {{queue: billing}}\n"
    )

    routing = route(path, raw)

    assert (routing.decision.queue == "billing") is expected, routing.trace


def test_mailbox_language_and_known_customer(tmp_path):
    path = rules_file(
        tmp_path,
        """
        - name: from the vendor mailbox
          when: {mailbox: vendor}
          then: {tier: 4}
        - name: russian regulars
          when: {language: ru, known_customer: true}
          then: {queue: network}
        """,
    )

    assert route(path, message(), mailbox="vendor").decision.tier == 4
    assert route(path, message(), language="ru", known=True).decision.queue == "network"
    assert (
        route(path, message(), language="ru", known=False).decision.queue == "default"
    )


def test_business_hours_weekday_and_time_of_day(tmp_path):
    path = rules_file(
        tmp_path,
        """
        - name: night
          when: {time_between: "22:00-06:00"}
          then: {tags: [night]}
        - name: weekend
          when: {weekday: [sat, sun]}
          then: {tags: [weekend]}
        - name: closed
          when: {not: {business_hours: office}}
          then: {tags: [closed]}
        """,
    )

    assert route(
        path, message(), now=datetime(2026, 1, 7, 23, 30, tzinfo=BERLIN)
    ).decision.tags == ("night",)
    assert route(
        path, message(), now=datetime(2026, 1, 10, 12, 0, tzinfo=BERLIN)
    ).decision.tags == ("weekend",)
    assert route(
        path, message(), now=datetime(2026, 1, 7, 18, 0, tzinfo=BERLIN)
    ).decision.tags == ("closed",)
    assert route(path, message(), now=WEDNESDAY_10).decision.tags == ()


def test_all_any_not_combine(tmp_path):
    path = rules_file(
        tmp_path,
        """
        - name: combined
          when:
            all:
              - any: [{subject: vpn}, {subject: network}]
              - not: {sender_domain: partner.example}
          then: {queue: network}
        """,
    )

    assert route(path, message(subject="VPN down")).decision.queue == "network"
    assert (
        route(
            path, message(subject="VPN down", sender="x@partner.example")
        ).decision.queue
        == "default"
    )
    assert route(path, message(subject="printer")).decision.queue == "default"


def test_first_match_wins_unless_continue(tmp_path):
    path = rules_file(
        tmp_path,
        """
        - name: vip
          when: {vip: true}
          then: {tier: 2, priority: high, tags: [vip]}
          continue: true
        - name: billing
          when: {subject: invoice}
          then: {queue: billing, tags: [billing]}
        - name: never reached for invoices
          when: {subject: invoice}
          then: {queue: network}
        """,
    )

    routing = route(path, message(subject="invoice", sender="boss@big.example"))

    d = routing.decision
    assert (d.tier, d.priority, d.queue, d.tags) == (
        2,
        "high",
        "billing",
        ("vip", "billing"),
    )
    assert d.matched_rules == ("vip", "billing")
    assert [t.rule for t in routing.trace] == ["vip", "billing"]


def test_default_fills_what_no_rule_set(tmp_path):
    path = rules_file(
        tmp_path,
        "- name: billing\n  when: {subject: invoice}\n  then: {queue: billing}\n",
        extra="default: {priority: low, sla: standard, assign: {group: first-line}, tags: [triage]}\n",
    )

    d = route(path, message(subject="invoice")).decision

    assert (d.queue, d.priority, d.sla, d.assign_group, d.tags) == (
        "billing",
        "low",
        "standard",
        "first-line",
        ("triage",),
    )


@pytest.mark.parametrize(
    ("then", "field", "value"),
    [
        ("{tier: 3}", "tier", 3),
        ("{queue: network}", "queue", "network"),
        ("{priority: urgent}", "priority", "urgent"),
        ("{assign: carol}", "assignee", "carol"),
        ("{assign: {group: first-line}}", "assign_group", "first-line"),
        ("{tags: [a, B]}", "tags", ("a", "b")),
        ("{language: ru}", "language", "ru"),
        ("{template: ack-vip}", "template", "ack-vip"),
        ("{sla: standard}", "sla", "standard"),
        ("{no_ack: true}", "acknowledge", False),
        ("{drop: true}", "action", "drop"),
        ("{quarantine: true}", "action", "quarantine"),
    ],
)
def test_each_action(tmp_path, then, field, value):
    path = rules_file(tmp_path, f"- name: r\n  when: {{subject: x}}\n  then: {then}\n")

    assert getattr(route(path, message(subject="x")).decision, field) == value
