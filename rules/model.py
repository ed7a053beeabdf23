"""The rules file as plain data: agents, groups, VIPs, SLA policies, rules and examples.

`rules.load` builds these from YAML (checking everything, with file:line in
every error); `rules.match` evaluates them. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.conditions import Condition

PRIORITIES = ("low", "normal", "high", "urgent")
TIERS = (1, 2, 3, 4)


@dataclass(frozen=True)
class Agent:
    """A person (or vendor) who answers tickets."""

    name: str
    address: str
    display_name: str = ""
    tier: int = 1


@dataclass(frozen=True)
class SlaPolicy:
    """First-response and resolution targets per priority, in seconds of (business) time."""

    name: str
    first_response: dict[str, float]
    resolution: dict[str, float]
    hours: BusinessHours
    warn_at: float | None = None


@dataclass(frozen=True)
class Actions:
    """What a rule decides; None means 'not set by this rule'."""

    tier: int | None = None
    queue: str | None = None
    priority: str | None = None
    assign: str | None = None
    assign_group: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    template: str | None = None
    sla: str | None = None
    no_ack: bool = False
    drop: bool = False
    quarantine: bool = False


@dataclass(frozen=True)
class Rule:
    """`when` this matches, `then` these actions; `continue` lets later rules add more."""

    name: str
    line: int | None
    when: Condition | None
    then: Actions
    keep_going: bool = False


@dataclass(frozen=True)
class Example:
    """A small message in the rules file with the decision it must get."""

    name: str
    line: int | None
    raw: bytes
    envelope_sender: str | None
    recipients: tuple[str, ...]
    mailbox: str
    known_customer: bool
    expect: dict[str, object]
    path: str = ""


@dataclass(frozen=True)
class RuleSet:
    """Everything one rules file (and what it includes) defines."""

    source: str
    rules: tuple[Rule, ...] = ()
    default: Actions = field(default_factory=Actions)
    queues: frozenset[str] = frozenset({"default"})
    agents: dict[str, Agent] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tier_groups: dict[int, str] = field(default_factory=dict)
    vip: tuple[str, ...] = ()
    vip_patterns: tuple[re.Pattern[str], ...] = ()
    queue_vendors: dict[str, str] = field(default_factory=dict)
    queue_groups: dict[str, str] = field(default_factory=dict)
    sla: dict[str, SlaPolicy] = field(default_factory=dict)
    calendars: dict[str, BusinessHours] = field(default_factory=dict)
    timezone: str = "UTC"
    escalation_ceiling: int = 3
    auto_close_after: float | None = None
    examples: tuple[Example, ...] = ()
    files: tuple[str, ...] = ()

    def agent_by_address(self, address: str) -> Agent | None:
        """The agent (not vendor) who writes from this address, if any."""
        address = address.lower()
        for agent in self.agents.values():
            if agent.address == address and agent.tier < 4:
                return agent
        return None

    def agents_for(self, tier: int, queue: str) -> list[Agent]:
        """Who hears about a ticket on `tier` in `queue`: the queue's group if it has one."""
        group = self.queue_groups.get(queue)
        if group is not None:
            return [self.agents[name] for name in self.groups.get(group, ())]
        return self.agents_of_tier(tier)

    def agents_of_tier(self, tier: int) -> list[Agent]:
        """The agents who are told about tickets on `tier`."""
        group = self.tier_groups.get(tier)
        if group is not None:
            return [self.agents[name] for name in self.groups.get(group, ())]
        return [agent for agent in self.agents.values() if agent.tier == tier]
