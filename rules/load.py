"""Loading a rules file (and the files it includes) into a checked RuleSet.

Every mistake is reported with file:line and what to do, all of them at
once; a file whose examples (`tests:`) do not get the decisions they expect
is refused too. The caller keeps its previous rules when loading fails.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from rules.calendar import BusinessHours, parse_week
from rules.examples import parse_examples, run_examples
from rules.model import PRIORITIES, TIERS, Actions, Agent, RuleSet, SlaPolicy
from rules.parse_rules import Names, parse_actions, parse_rules
from rules.yamlschema import INVALID, Duration, convert_scalar
from rules.yamlsource import (
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
    calendars = _calendars(sections.get("business_hours", []), str(timezone), problems)
    queues = {"default"} | set(
        _string_list(sections.get("queues", []), "queues", problems)
    )
    agents = _agents(sections.get("agents", []), problems)
    groups = _groups(sections.get("groups", []), agents, problems)
    tier_groups = _tier_groups(sections.get("tiers", []), groups, problems)
    queue_vendors = _queue_vendors(
        sections.get("queue_vendors", []), queues, agents, problems
    )
    vip = _string_list(sections.get("vip", []), "vip", problems) + _vip_files(
        sections.get("vip_file", []), problems
    )
    sla = _sla(sections.get("sla", []), calendars, str(timezone), problems)
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


def _string_list(nodes: list[Located], key: str, problems: list[Problem]) -> list[str]:
    out = []
    for node in nodes:
        values = node.value if is_sequence(node.value) else [node.value]
        for value in values:
            if not isinstance(value, str) or not value.strip():
                problems.append(node.problem(f"'{key}' takes a list of texts"))
                continue
            out.append(value.strip())
    return out


def _mappings(
    nodes: list[Located], key: str, problems: list[Problem]
) -> list[tuple[str, Located]]:
    out: list[tuple[str, Located]] = []
    seen: set[str] = set()
    for node in nodes:
        if not is_mapping(node.value):
            problems.append(node.problem(f"'{key}' must be a mapping of names"))
            continue
        for name, value in entries(node):
            if name in seen:
                problems.append(value.problem(f"{key} {name!r} is defined twice"))
            seen.add(name)
            out.append((name, value))
    return out


def _calendars(
    nodes: list[Located], timezone: str, problems: list[Problem]
) -> dict[str, BusinessHours]:
    calendars = {"24x7": BusinessHours.always(timezone)}
    for name, node in _mappings(nodes, "business_hours", problems):
        if not is_mapping(node.value):
            problems.append(
                node.problem(
                    f"business_hours {name!r}: give days, e.g. mon-fri: '09:00-17:00'"
                )
            )
            continue
        spec = {k: v.value for k, v in entries(node) if k != "holidays"}
        holidays: set[date] = set()
        for item in (
            items(dict(entries(node))["holidays"]) if "holidays" in node.value else []
        ):
            day = item.value
            if isinstance(day, str):
                with contextlib.suppress(ValueError):
                    day = date.fromisoformat(day)
            if not isinstance(day, date):
                problems.append(
                    item.problem(
                        f"holiday {item.value!r} is not a date like 2026-12-25"
                    )
                )
                continue
            holidays.add(day)
        try:
            week = parse_week(spec)
            calendars[name] = BusinessHours(timezone, week, frozenset(holidays))
        except (ValueError, KeyError) as exc:
            problems.append(node.problem(f"business_hours {name!r}: {exc}"))
    return calendars


def _agents(nodes: list[Located], problems: list[Problem]) -> dict[str, Agent]:
    agents = {}
    for name, node in _mappings(nodes, "agents", problems):
        fields = dict(entries(node)) if is_mapping(node.value) else {}
        for key, value in fields.items():
            if key not in ("address", "name", "tier"):
                problems.append(
                    value.problem(
                        f"unknown key '{key}'{suggest(key, ('address', 'name', 'tier'))}"
                    )
                )
        if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
            problems.append(
                node.problem(
                    f"agent name {name!r}: use lower-case letters, digits, - and _"
                )
            )
            continue
        address = fields.get("address")
        if address is None or "@" not in str(address.value):
            problems.append(node.problem(f"agent {name!r} needs an address"))
            continue
        tier = fields["tier"].value if "tier" in fields else 1
        if isinstance(tier, bool) or tier not in TIERS:
            problems.append(
                fields["tier"].problem(
                    f"agent {name!r}: tier must be 1-4, not {tier!r}"
                )
            )
            continue
        display = str(fields["name"].value) if "name" in fields else ""
        agents[name] = Agent(name, str(address.value).strip().lower(), display, tier)
    return agents


def _groups(
    nodes: list[Located], agents: dict[str, Agent], problems: list[Problem]
) -> dict[str, tuple[str, ...]]:
    groups = {}
    for name, node in _mappings(nodes, "groups", problems):
        members = _string_list([node], f"groups.{name}", problems)
        for member in members:
            if member not in agents:
                problems.append(
                    node.problem(
                        f"group {name!r}: unknown agent {member!r}{suggest(member, agents)}"
                    )
                )
        groups[name] = tuple(m for m in members if m in agents)
    return groups


def _tier_groups(
    nodes: list[Located], groups: dict[str, tuple[str, ...]], problems: list[Problem]
) -> dict[int, str]:
    tiers = {}
    for node in nodes:
        if not is_mapping(node.value):
            problems.append(
                node.problem(
                    "'tiers' maps a tier number to a group, e.g. {2: specialists}"
                )
            )
            continue
        for key, value in entries(node):
            tier = int(key) if str(key).isdigit() else None
            if tier not in TIERS:
                problems.append(value.problem(f"'tiers': {key!r} is not a tier (1-4)"))
            elif value.value not in groups:
                problems.append(
                    value.problem(
                        f"'tiers': unknown group {value.value!r}{suggest(str(value.value), groups)}"
                    )
                )
            else:
                tiers[tier] = str(value.value)
    return tiers


def _queue_vendors(
    nodes: list[Located],
    queues: set[str],
    agents: dict[str, Agent],
    problems: list[Problem],
) -> dict[str, str]:
    """Which vendor (a tier-4 agent) a queue's tickets go to on '#tier 4'."""
    out = {}
    vendors = {name for name, agent in agents.items() if agent.tier == 4}
    for queue, node in _mappings(nodes, "queue_vendors", problems):
        if queue not in queues:
            problems.append(
                node.problem(
                    f"queue_vendors: unknown queue {queue!r}{suggest(queue, queues)}"
                )
            )
        elif node.value not in vendors:
            hint = suggest(str(node.value), vendors)
            problems.append(
                node.problem(
                    f"queue_vendors: {node.value!r} is not a vendor (an agent with tier 4){hint}"
                )
            )
        else:
            out[queue] = str(node.value)
    return out


def _vip_files(nodes: list[Located], problems: list[Problem]) -> list[str]:
    out = []
    for node in nodes:
        path = Path(node.path).parent / str(node.value)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            problems.append(node.problem(f"vip_file {path}: {exc.strerror}"))
            continue
        out += [
            line.split("#", 1)[0].strip()
            for line in lines
            if line.split("#", 1)[0].strip()
        ]
    return out


def _sla(
    nodes: list[Located],
    calendars: dict[str, BusinessHours],
    timezone: str,
    problems: list[Problem],
) -> dict[str, SlaPolicy]:
    policies = {}
    keys = ("business_hours", "first_response", "resolution", "warn_at")
    for name, node in _mappings(nodes, "sla", problems):
        fields = dict(entries(node)) if is_mapping(node.value) else {}
        for key, value in fields.items():
            if key not in keys:
                problems.append(
                    value.problem(f"unknown key '{key}'{suggest(key, keys)}")
                )
        calendar_name = (
            str(fields["business_hours"].value)
            if "business_hours" in fields
            else "24x7"
        )
        if calendar_name not in calendars:
            problems.append(
                fields["business_hours"].problem(
                    f"sla {name!r}: unknown business_hours {calendar_name!r}{suggest(calendar_name, calendars)}"
                )
            )
            continue
        targets = {
            k: _targets(fields[k], name, k, problems) if k in fields else {}
            for k in ("first_response", "resolution")
        }
        warn_at = None
        if "warn_at" in fields:
            warn_at = fields["warn_at"].value
            if (
                isinstance(warn_at, bool)
                or not isinstance(warn_at, int | float)
                or not 0 < warn_at < 1
            ):
                problems.append(
                    fields["warn_at"].problem(
                        f"sla {name!r}: warn_at is a fraction such as 0.8"
                    )
                )
                warn_at = None
        policies[name] = SlaPolicy(
            name,
            targets["first_response"],
            targets["resolution"],
            calendars[calendar_name],
            warn_at,
        )
    return policies


def _targets(
    node: Located, policy: str, key: str, problems: list[Problem]
) -> dict[str, float]:
    if not is_mapping(node.value):
        problems.append(
            node.problem(
                f"sla {policy!r}: {key} maps priorities to durations, e.g. {{high: 2h}}"
            )
        )
        return {}
    out = {}
    for priority, value in entries(node):
        if priority not in PRIORITIES:
            problems.append(
                value.problem(
                    f"sla {policy!r}: unknown priority {priority!r}{suggest(priority, PRIORITIES)}"
                )
            )
            continue
        seconds = convert_scalar(Duration, value, f"{key}.{priority}", problems)
        if seconds is not INVALID:
            out[priority] = float(seconds)
    return out


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
