"""Reading the `rules:` list and each rule's actions (`then`), with file:line errors.

Conditions (`when`) are read by rules.conditions.
"""

from __future__ import annotations

import re
from typing import Any

from tierdesk.rules.conditions import (
    CONDITION_KEYS,
    Names,
    parse_condition,
    read_bool,
    read_strings,
)
from tierdesk.rules.model import PRIORITIES, TIERS, Actions, Rule
from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    entries,
    is_mapping,
    is_sequence,
    items,
    suggest,
)

ACTION_KEYS = (
    "tier",
    "queue",
    "priority",
    "assign",
    "tags",
    "language",
    "template",
    "sla",
    "no_ack",
    "drop",
    "quarantine",
)
RULE_KEYS = ("name", "description", "when", "then", "continue")


def parse_rules(node: Located, names: Names, problems: list[Problem]) -> list[Rule]:
    """The `rules:` list, in order."""
    if not is_sequence(node.value):
        problems.append(node.problem("'rules' must be a list of rules"))
        return []
    rules = []
    seen: dict[str, int | None] = {}
    for item in items(node):
        rule = parse_rule(item, names, problems)
        if rule is None:
            continue
        if rule.name in seen:
            problems.append(
                item.problem(
                    f"rule name {rule.name!r} is used twice (first at line {seen[rule.name]})"
                )
            )
        seen[rule.name] = rule.line
        rules.append(rule)
    return rules


def parse_rule(node: Located, names: Names, problems: list[Problem]) -> Rule | None:
    """One rule: `name`, `when`, `then`, `continue`."""
    if not is_mapping(node.value):
        problems.append(
            node.problem("a rule must be a mapping with name, when and then")
        )
        return None
    before = len(problems)
    fields = dict(entries(node))
    for key, value in fields.items():
        if key not in RULE_KEYS:
            hint = suggest(key, RULE_KEYS + ACTION_KEYS + CONDITION_KEYS)
            extra = (
                " (tests go under 'when:', actions under 'then:')" if not hint else ""
            )
            problems.append(
                value.problem(f"unknown key '{key}' in a rule{hint}{extra}")
            )
    name_node = fields.get("name")
    name = (
        str(name_node.value).strip()
        if name_node is not None and name_node.value is not None
        else ""
    )
    if not name:
        problems.append(node.problem("a rule needs a 'name'"))
    when = (
        parse_condition(fields["when"], names, problems) if "when" in fields else None
    )
    if "then" not in fields:
        problems.append(
            node.problem(f"rule {name!r} has no 'then' (what should it do?)")
        )
        then = Actions()
    else:
        then = parse_actions(fields["then"], names, problems)
    keep_going = (
        read_bool(fields["continue"], "continue", problems)
        if "continue" in fields
        else False
    )
    if len(problems) > before:
        return None
    return Rule(name, node.line, when, then, bool(keep_going))


def parse_actions(node: Located, names: Names, problems: list[Problem]) -> Actions:
    """A `then` (or `default`) mapping."""
    if not is_mapping(node.value):
        problems.append(
            node.problem("'then' must be a mapping of actions, e.g. {tier: 2}")
        )
        return Actions()
    values: dict[str, Any] = {}
    for key, value in entries(node):
        if key not in ACTION_KEYS:
            hint = suggest(key, ACTION_KEYS)
            problems.append(value.problem(f"unknown key '{key}'{hint}"))
            continue
        parsed = _action(key, value, names, problems)
        if parsed is not None:
            values.update(parsed)
    return Actions(**values)


def _action(
    key: str, node: Located, names: Names, problems: list[Problem]
) -> dict[str, Any] | None:
    value = node.value
    if key == "tier":
        if isinstance(value, bool) or value not in TIERS:
            problems.append(node.problem(f"'tier' must be 1, 2, 3 or 4, not {value!r}"))
            return None
        return {"tier": value}
    if key in ("no_ack", "drop", "quarantine"):
        flag = read_bool(node, key, problems)
        return None if flag is None else {key: flag}
    if key == "tags":
        tags = read_strings(node, key, problems)
        return {"tags": tuple(t.lower() for t in tags)} if tags else None
    if key == "assign":
        return _assign(node, names, problems)
    choices = {
        "queue": names.queues,
        "priority": set(PRIORITIES),
        "language": names.languages,
        "sla": names.sla,
    }
    if key in choices:
        if not isinstance(value, str) or value not in choices[key]:
            known = ", ".join(sorted(choices[key])) or "none are defined"
            what = "queue" if key == "queue" else key
            problems.append(
                node.problem(
                    f"unknown {what} {value!r}{suggest(str(value), choices[key])}; known: {known}"
                )
            )
            return None
        return {key: value}
    if key == "template":
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9_-]+", value):
            problems.append(
                node.problem(
                    f"'template' must be a template name such as ack, not {value!r}"
                )
            )
            return None
        return {"template": value}
    return None


def _assign(
    node: Located, names: Names, problems: list[Problem]
) -> dict[str, Any] | None:
    value = node.value
    if is_mapping(value) and set(value) == {"group"}:
        group = str(value["group"])
        if group not in names.groups:
            problems.append(
                node.problem(f"unknown group {group!r}{suggest(group, names.groups)}")
            )
            return None
        return {"assign_group": group}
    if isinstance(value, str) and value in names.agents:
        return {"assign": value}
    hint = suggest(str(value), names.agents)
    problems.append(
        node.problem(
            f"'assign' takes an agent name or {{group: NAME}}; unknown agent {value!r}{hint}"
        )
    )
    return None
