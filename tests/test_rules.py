"""Routing rules: every condition and action, `continue`, the default, and the checks admins rely on."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.load import load_rules
from tierdesk.rules.match import MatchInput, decide
from tierdesk.rules.yamlsource import SourceError

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY_10 = datetime(2026, 1, 7, 10, 0, tzinfo=BERLIN)

BASE = """
timezone: Europe/Berlin
business_hours:
  office: {mon-fri: "09:00-17:00"}
queues: [billing, network]
agents:
  alice: {address: alice@acme.example, tier: 1}
  bob: {address: bob@acme.example, tier: 1}
  carol: {address: carol@acme.example, tier: 2}
groups:
  first-line: [alice, bob]
vip: ["boss@big.example", "*@partner.example"]
sla:
  standard: {business_hours: office, first_response: {normal: 4h}, resolution: {normal: 2d}}
"""


def rules_file(tmp_path: Path, rules: str, extra: str = "") -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        BASE + extra + "rules:\n" + textwrap.indent(textwrap.dedent(rules), "  "),
        encoding="utf-8",
    )
    return path


def message(
    subject: str = "Hello",
    body: str = "Some text.",
    sender: str = "customer@customer.example",
    to: str = "support@acme.example",
    headers: str = "",
    attachment: str | None = None,
) -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <m@customer.example>\r\n{headers}"
    if attachment is None:
        return (
            head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
        ).encode()
    return (
        head
        + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        f"{body}\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{attachment}"\r\n\r\nxx\r\n--b--\r\n'
    ).encode()


def route(
    path: Path,
    raw: bytes,
    *,
    now: datetime = WEDNESDAY_10,
    mailbox: str = "",
    known: bool = False,
    language: str = "en",
):
    ruleset = load_rules(path)
    mail = parse_mail(raw)
    inp = MatchInput(
        mail,
        classify(mail, None, frozenset(), ""),
        now,
        mailbox=mailbox,
        known_customer=known,
        language=language,
    )
    return decide(ruleset, inp, explain=True)


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


@pytest.mark.parametrize(
    ("rules", "line", "error"),
    [
        (
            "- name: r\n  when: {subject: x}\n  then: {teir: 2}\n",
            3,
            "unknown key 'teir' (did you mean 'tier'?)",
        ),
        (
            "- name: r\n  when: {subjct: x}\n  then: {tier: 2}\n",
            2,
            "unknown test 'subjct' (did you mean 'subject'?)",
        ),
        (
            "- name: r\n  when: {subject: {regex: 'a(b'}}\n  then: {tier: 2}\n",
            2,
            "bad regex 'a(b': missing ), unterminated subpattern at position 1",
        ),
        (
            "- name: r\n  when: {subject: x}\n  then: {queue: biling}\n",
            3,
            "unknown queue 'biling' (did you mean 'billing'?)",
        ),
        (
            "- name: r\n  when: {subject: x}\n  then: {assign: alise}\n",
            3,
            "unknown agent 'alise' (did you mean 'alice'?)",
        ),
        (
            "- name: r\n  when: {subject: x}\n  then: {tier: 5}\n",
            3,
            "'tier' must be 1, 2, 3 or 4, not 5",
        ),
        (
            "- name: r\n  when: {has_attachment: yes}\n  then: {tier: 2}\n",
            2,
            "'has_attachment' must be true or false, not 'yes'",
        ),
        (
            "- name: r\n  when: {business_hours: ofice}\n  then: {tier: 2}\n",
            2,
            "unknown calendar 'ofice' (did you mean 'office'?)",
        ),
        (
            "- name: r\n  when: {weekday: mon-fry}\n  then: {tier: 2}\n",
            2,
            "unknown day 'fry' (did you mean 'fri'?)",
        ),
        (
            "- name: r\n  when: {subject: x}\n  then: {sla: gold}\n",
            3,
            "unknown sla 'gold'",
        ),
        ("- name: r\n  when: {subject: x}\n", 1, "rule 'r' has no 'then'"),
        (
            "- name: r\n  then: {tier: 2}\n- name: r\n  then: {tier: 3}\n",
            3,
            "rule name 'r' is used twice",
        ),
    ],
)
def test_every_mistake_names_file_line_and_fix(tmp_path, rules, line, error):
    path = rules_file(tmp_path, rules)
    rules_start = BASE.count("\n") + 1  # the 'rules:' line

    with pytest.raises(SourceError) as refused:
        load_rules(path)

    lines = str(refused.value).splitlines()
    assert any(
        ln.startswith(f"{path}:{rules_start + line}: ") and error in ln for ln in lines
    ), lines


def test_duplicate_keys_and_syntax_errors_name_the_line(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("queues: [a]\nqueues: [b]\n")

    with pytest.raises(SourceError, match=rf"{path}:\d+: .*duplicate key"):
        load_rules(path)


def test_definitions_are_checked_too(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "agents:\n  alice: {adress: a@x.example}\n"
        "groups:\n  team: [alice, mallory]\n"
        "sla:\n  std: {first_response: {normall: 4h}}\n"
        "business_hours:\n  office: {mon-fry: '09:00-17:00'}\n"
        "escalation: {ceiling: 7}\n"
        "rules: []\n"
    )

    with pytest.raises(SourceError) as refused:
        load_rules(path)

    text = str(refused.value)
    assert f"{path}:2: unknown key 'adress' (did you mean 'address'?)" in text
    assert f"{path}:2: agent 'alice' needs an address" in text
    assert f"{path}:4: group 'team': unknown agent 'mallory'" in text
    assert (
        f"{path}:6: sla 'std': unknown priority 'normall' (did you mean 'normal'?)"
        in text
    )
    assert f"{path}:8: business_hours 'office':" in text and "fry" in text
    assert "escalation.ceiling must be 1-4" in text


def test_included_file_errors_name_the_included_file(tmp_path):
    (tmp_path / "more.yaml").write_text(
        "rules:\n  - name: extra\n    then: {tier: 9}\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(
        "include: [more.yaml]\nrules:\n  - name: main\n    then: {tier: 2}\n"
    )

    with pytest.raises(
        SourceError, match=rf"{tmp_path / 'more.yaml'}:3: 'tier' must be 1, 2, 3 or 4"
    ):
        load_rules(path)


def test_vip_list_file_is_read_beside_the_rules(tmp_path):
    (tmp_path / "vip.txt").write_text(
        "# our big customers\nceo@big.example\n\n*@gold.example  # all of them\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(
        "vip_file: vip.txt\nrules:\n  - name: vip\n    when: {vip: true}\n    then: {tier: 2}\n"
    )

    assert route(path, message(sender="x@gold.example")).decision.tier == 2
    assert route(path, message(sender="ceo@big.example")).decision.tier == 2
    assert route(path, message()).decision.tier == 1


def test_a_file_whose_examples_fail_is_not_loaded(tmp_path):
    path = rules_file(
        tmp_path,
        "- name: billing\n  when: {subject: invoice}\n  then: {queue: billing}\n",
        extra="tests:\n  - name: invoices to billing\n    subject: My invoice\n    expect: {queue: network}\n",
    )

    with pytest.raises(SourceError) as refused:
        load_rules(path)

    assert (
        "example 'invoices to billing': expected queue 'network', got 'billing'"
        in str(refused.value)
    )


def test_the_shipped_example_rules_load_and_their_examples_pass():
    ruleset = load_rules(Path(__file__).parents[1] / "rules" / "example-rules.yaml")

    assert len(ruleset.rules) >= 8 and len(ruleset.examples) >= 8
    assert {a.name for a in ruleset.agents_of_tier(2)} == {"carol"}


def test_yes_is_a_string_where_text_is_expected(tmp_path):
    path = rules_file(
        tmp_path, "- name: r\n  when: {subject: yes}\n  then: {tier: 2}\n"
    )

    assert route(path, message(subject="Yes, please")).decision.tier == 2
