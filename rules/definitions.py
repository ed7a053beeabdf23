"""The definitions of a rules file: calendars, agents, groups, tiers, vendors, VIPs, SLA policies.

Each function reads one section (from the file and its includes) and
reports every mistake with file:line; `rules.load` puts them together.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date
from pathlib import Path

from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.model import PRIORITIES, TIERS, Agent, SlaPolicy
from tierdesk.rules.week import parse_week
from tierdesk.rules.yamlschema import INVALID, Duration, convert_scalar
from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    entries,
    is_mapping,
    is_sequence,
    items,
    suggest,
)


def string_list(nodes: list[Located], key: str, problems: list[Problem]) -> list[str]:
    """Texts from one or more YAML values (a text or a list of texts)."""
    out = []
    for node in nodes:
        values = node.value if is_sequence(node.value) else [node.value]
        for value in values:
            if not isinstance(value, str) or not value.strip():
                problems.append(node.problem(f"'{key}' takes a list of texts"))
                continue
            out.append(value.strip())
    return out


def mappings(
    nodes: list[Located], key: str, problems: list[Problem]
) -> list[tuple[str, Located]]:
    """The (name, value) entries of one or more mappings; a name defined twice is a problem."""
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


def calendars(
    nodes: list[Located], timezone: str, problems: list[Problem]
) -> dict[str, BusinessHours]:
    """The `business_hours:` calendars by name, with the always-open `24x7`."""
    calendars = {"24x7": BusinessHours.always(timezone)}
    for name, node in mappings(nodes, "business_hours", problems):
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


def agents(nodes: list[Located], problems: list[Problem]) -> dict[str, Agent]:
    """The `agents:` by name, each with address, display name and tier."""
    agents = {}
    for name, node in mappings(nodes, "agents", problems):
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


def groups(
    nodes: list[Located], agents: dict[str, Agent], problems: list[Problem]
) -> dict[str, tuple[str, ...]]:
    """The `groups:` of agents by name; unknown members are problems."""
    groups = {}
    for name, node in mappings(nodes, "groups", problems):
        members = string_list([node], f"groups.{name}", problems)
        for member in members:
            if member not in agents:
                problems.append(
                    node.problem(
                        f"group {name!r}: unknown agent {member!r}{suggest(member, agents)}"
                    )
                )
        groups[name] = tuple(m for m in members if m in agents)
    return groups


def tier_groups(
    nodes: list[Located], groups: dict[str, tuple[str, ...]], problems: list[Problem]
) -> dict[int, str]:
    """Which group hears about each tier (`tiers: {2: specialists}`)."""
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


def queue_vendors(
    nodes: list[Located],
    queues: set[str],
    agents: dict[str, Agent],
    problems: list[Problem],
) -> dict[str, str]:
    """Which vendor (a tier-4 agent) a queue's tickets go to on '#tier 4'."""
    vendors = {name for name, agent in agents.items() if agent.tier == 4}
    return _queue_map(
        nodes,
        "queue_vendors",
        queues,
        vendors,
        "vendor (an agent with tier 4)",
        problems,
    )


def vip_files(nodes: list[Located], problems: list[Problem]) -> list[str]:
    """The addresses listed in `vip_file:` files, one per line, # comments allowed."""
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


def sla(
    nodes: list[Located],
    calendars: dict[str, BusinessHours],
    timezone: str,
    problems: list[Problem],
) -> dict[str, SlaPolicy]:
    """The `sla:` policies by name: targets per priority in a calendar."""
    policies = {}
    keys = ("business_hours", "first_response", "resolution", "warn_at")
    for name, node in mappings(nodes, "sla", problems):
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
            k: sla_targets(fields[k], name, k, problems) if k in fields else {}
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


def sla_targets(
    node: Located, policy: str, key: str, problems: list[Problem]
) -> dict[str, float]:
    """The durations per priority of one SLA target (first_response or resolution)."""
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


def queue_groups(
    nodes: list[Located],
    queues: set[str],
    groups: dict[str, tuple[str, ...]],
    problems: list[Problem],
) -> dict[str, str]:
    """Which group hears about a queue's tickets (instead of the whole tier)."""
    return _queue_map(nodes, "queue_groups", queues, set(groups), "group", problems)


def _queue_map(
    nodes: list[Located],
    key: str,
    queues: set[str],
    allowed: set[str],
    what: str,
    problems: list[Problem],
) -> dict[str, str]:
    """A mapping of queue names to names of one kind, both checked."""
    out = {}
    for queue, node in mappings(nodes, key, problems):
        if queue not in queues:
            problems.append(
                node.problem(f"{key}: unknown queue {queue!r}{suggest(queue, queues)}")
            )
        elif node.value not in allowed:
            hint = suggest(str(node.value), allowed)
            problems.append(
                node.problem(f"{key}: {node.value!r} is not a {what}{hint}")
            )
        else:
            out[queue] = str(node.value)
    return out
