"""The examples (`tests:`) in a rules file: failing ones stop the load; the shipped ones pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from tierdesk.rules.load import load_rules
from tierdesk.rules.yamlsource import SourceError

from tests.support.routing import rules_file


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
