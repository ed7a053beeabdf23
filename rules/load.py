"""Loading a rules file (and the files it includes) into a checked RuleSet.

Every mistake is reported with file:line and what to do, all of them at
once; a file whose examples (`tests:`) do not get the decisions they expect
is refused too. The caller keeps its previous rules when loading fails.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from tierdesk.rules.conditions import Names
from tierdesk.rules.definitions import (
    agents as read_agents,
)
from tierdesk.rules.definitions import (
    calendars as read_calendars,
)
from tierdesk.rules.definitions import (
    groups as read_groups,
)
from tierdesk.rules.definitions import (
    queue_groups as read_queue_groups,
)
from tierdesk.rules.definitions import (
    queue_vendors as read_queue_vendors,
)
from tierdesk.rules.definitions import (
    sla as read_sla,
)
from tierdesk.rules.definitions import (
    string_list,
    vip_files,
)
from tierdesk.rules.definitions import (
    tier_groups as read_tier_groups,
)
from tierdesk.rules.examples import parse_examples, run_examples
from tierdesk.rules.model import TIERS, Actions, RuleSet
from tierdesk.rules.parse_rules import parse_actions, parse_rules
from tierdesk.rules.yamlschema import INVALID, Duration, convert_scalar
from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    SourceError,
    entries,
    is_mapping,
    is_sequence,
    items,
    load_yaml_file,
    suggest,
)

TOP_KEYS = (
    "timezone",
    "business_hours",
    "queues",
    "agents",
    "groups",
    "tiers",
    "queue_vendors",
    "queue_groups",
    "vip",
    "vip_file",
    "sla",
    "escalation",
    "auto_close",
    "include",
    "rules",
    "default",
    "tests",
)
MAX_INCLUDE_DEPTH = 5


def load_rules(
    path: Path | str, languages: tuple[str, ...] = ("en", "ru"), run_tests: bool = True
) -> RuleSet:
    """Load and check a rules file; raises SourceError listing every problem."""
    problems: list[Problem] = []
    sections = _collect(Path(path), problems, depth=0, seen=[])
    if problems:
        raise SourceError(problems)
    ruleset = _build(str(path), sections, languages, problems)
    if problems:
        raise SourceError(problems)
    if run_tests:
        problems.extend(run_examples(ruleset))
        if problems:
            raise SourceError(problems)
    return ruleset


def _collect(
    path: Path, problems: list[Problem], depth: int, seen: list[str]
) -> dict[str, list[Located]]:
    """Each top-level section of the file and its includes, in reading order."""
    node = load_yaml_file(path)
    sections: dict[str, list[Located]] = {}
    if node.value is None:
        return sections
    if not is_mapping(node.value):
        problems.append(
            node.problem("a rules file is a mapping (rules:, default:, agents: ...)")
        )
        return sections
    seen = [*seen, str(path.resolve())]
    for key, value in entries(node):
        if key not in TOP_KEYS:
            problems.append(
                value.problem(f"unknown key '{key}'{suggest(key, TOP_KEYS)}")
            )
            continue
        if key == "include":
            for item in items(value) if is_sequence(value.value) else [value]:
                included = path.parent / str(item.value)
                if str(included.resolve()) in seen or depth >= MAX_INCLUDE_DEPTH:
                    problems.append(
                        item.problem(
                            f"include of {included} loops back or nests too deep"
                        )
                    )
                    continue
                try:
                    nested = _collect(included, problems, depth + 1, seen)
                except SourceError as exc:
                    problems.extend(exc.problems)
                    continue
                for k, located in nested.items():
                    sections.setdefault(k, []).extend(located)
            continue
        sections.setdefault(key, []).append(value)
    return sections


def _build(
    source: str,
    sections: dict[str, list[Located]],
    languages: tuple[str, ...],
    problems: list[Problem],
) -> RuleSet:
    timezone = _single(sections, "timezone", problems) or "UTC"
    calendars = read_calendars(
        sections.get("business_hours", []), str(timezone), problems
    )
    queues = {"default"} | set(
        string_list(sections.get("queues", []), "queues", problems)
    )
    agents = read_agents(sections.get("agents", []), problems)
    groups = read_groups(sections.get("groups", []), agents, problems)
    tier_groups = read_tier_groups(sections.get("tiers", []), groups, problems)
    queue_groups = read_queue_groups(
        sections.get("queue_groups", []), queues, groups, problems
    )
    queue_vendors = read_queue_vendors(
        sections.get("queue_vendors", []), queues, agents, problems
    )
    vip = string_list(sections.get("vip", []), "vip", problems) + vip_files(
        sections.get("vip_file", []), problems
    )
    sla = read_sla(sections.get("sla", []), calendars, str(timezone), problems)
    names = Names(queues, set(agents), set(groups), set(sla), calendars, set(languages))
    rules = [
        rule
        for node in sections.get("rules", [])
        for rule in parse_rules(node, names, problems)
    ]
    default = Actions()
    for node in sections.get("default", []):
        default = parse_actions(node, names, problems)
    escalation = _options(sections.get("escalation", []), {"ceiling": int}, problems)
    ceiling = escalation.get("ceiling", 3)
    if ceiling not in TIERS:
        problems.append(
            Problem(source, None, f"escalation.ceiling must be 1-4, not {ceiling!r}")
        )
    auto_close = _options(
        sections.get("auto_close", []), {"resolved_after": Duration}, problems
    )
    examples = [
        example
        for node in sections.get("tests", [])
        for example in parse_examples(node, problems)
    ]
    files = sorted({n.path for located in sections.values() for n in located})
    return RuleSet(
        source=source,
        rules=tuple(rules),
        default=default,
        queues=frozenset(queues),
        agents=agents,
        groups=groups,
        tier_groups=tier_groups,
        queue_vendors=queue_vendors,
        queue_groups=queue_groups,
        vip=tuple(v.lower() for v in vip),
        vip_patterns=tuple(re.compile(fnmatch.translate(v.lower())) for v in vip),
        sla=sla,
        calendars=calendars,
        timezone=str(timezone),
        escalation_ceiling=ceiling if ceiling in TIERS else 3,
        auto_close_after=auto_close.get("resolved_after"),
        examples=tuple(examples),
        files=tuple(files) or (source,),
    )


def _single(
    sections: dict[str, list[Located]], key: str, problems: list[Problem]
) -> Any:
    nodes = sections.get(key, [])
    for extra in nodes[1:]:
        problems.append(
            extra.problem(f"'{key}' is set twice (again in an included file)")
        )
    return nodes[0].value if nodes else None


def _options(
    nodes: list[Located], schema: dict[str, type], problems: list[Problem]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in nodes:
        if not is_mapping(node.value):
            problems.append(
                node.problem(f"expected a mapping with {', '.join(schema)}")
            )
            continue
        for key, value in entries(node):
            if key not in schema:
                problems.append(
                    value.problem(f"unknown key '{key}'{suggest(key, schema)}")
                )
                continue
            converted = convert_scalar(schema[key], value, key, problems)
            if converted is not INVALID:
                out[key] = converted
    return out


def builtin_rules() -> RuleSet:
    """The rules when no file is configured: tier 1, queue default, normal priority."""
    return RuleSet(source="(built-in rules)")


def with_source(ruleset: RuleSet, source: str) -> RuleSet:
    """The same rules under another name (for messages)."""
    return replace(ruleset, source=source)
