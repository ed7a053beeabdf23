"""Loading a rules file: every mistake named with file:line and a fix, includes, the VIP file, YAML quirks."""

from __future__ import annotations

import pytest
from tierdesk.rules.load import load_rules
from tierdesk.rules.yamlsource import SourceError

from tests.support.routing import BASE, message, route, rules_file


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


def test_yes_is_a_string_where_text_is_expected(tmp_path):
    path = rules_file(
        tmp_path, "- name: r\n  when: {subject: yes}\n  then: {tier: 2}\n"
    )

    assert route(path, message(subject="Yes, please")).decision.tier == 2
