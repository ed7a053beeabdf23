"""An agent's command lines against the rules and the ticket: the checks, and the changes they make.

`parsers.commands` checks each line on its own; here come the mistakes only
the rules and the ticket can show (unknown agents, queues, vendors, tickets),
then the plan's changes for a checked block, and the ticket as it will be
after them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from tierdesk.parsers.commands import Command
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import Change, ChangeTags, MergeInto, SetField
from tierdesk.rules.model import Agent, RuleSet

FIELD_COMMANDS = ("tier", "priority", "queue")


def merge_targets(commands: tuple[Command, ...]) -> set[int]:
    """The ticket numbers `#merge` lines name (the pipeline looks them up)."""
    return {int(c.args[0]) for c in commands if c.name == "merge" and c.args}


def check_commands(
    commands: tuple[Command, ...],
    rules: RuleSet,
    ticket: TicketFacts,
    known: Mapping[int, TicketFacts],
) -> list[str]:
    """Mistakes only the rules and the ticket can show; `known` holds the tickets named."""
    errors = []
    by_name = {c.name: c for c in commands}
    vendors = vendors_of(rules)
    for command in commands:
        where = _where(command)
        value = command.args[0] if command.args else ""
        if (
            command.name == "assign"
            and value not in ("me", "none")
            and value not in rules.agents
        ):
            errors.append(
                f"{where}: #assign: unknown agent {value!r}; agents: {', '.join(sorted(rules.agents))}"
            )
        if command.name == "queue" and value not in rules.queues:
            errors.append(
                f"{where}: #queue: unknown queue {value!r}; queues: {', '.join(sorted(rules.queues))}"
            )
        if command.name == "vendor" and value not in vendors:
            errors.append(
                f"{where}: #vendor: unknown vendor {value!r}; vendors: {', '.join(sorted(vendors)) or 'none'}"
            )
        if command.name == "merge":
            if int(value) == ticket.number:
                errors.append(f"{where}: #merge: a ticket cannot be merged into itself")
            elif int(value) not in known:
                errors.append(f"{where}: #merge: there is no ticket {value}")
    tier = by_name.get("tier")
    if (
        tier
        and tier.args[0] == "4"
        and vendor_for(rules, ticket.queue, by_name.get("vendor")) is None
    ):
        errors.append(
            f"{_where(tier)}: #tier 4 needs a vendor: add '#vendor <name>' or give queue {ticket.queue!r} one"
        )
    return errors


def _where(command: Command) -> str:
    return f"line {command.line}" if command.line else "subject"


def vendors_of(rules: RuleSet) -> dict[str, Agent]:
    """The vendors: agents on tier 4."""
    return {name: agent for name, agent in rules.agents.items() if agent.tier == 4}


def vendor_for(rules: RuleSet, queue: str, command: Command | None) -> Agent | None:
    """The vendor a '#tier 4' goes to: the one '#vendor' names, else the queue's."""
    vendors = vendors_of(rules)
    if command is not None:
        return vendors.get(command.args[0])
    return vendors.get(rules.queue_vendors.get(queue, ""))


def assignee_named(command: Command, author: Agent) -> str | None:
    """Whom `#assign` means: `me` is the author, `none` nobody."""
    who = command.args[0]
    return {"me": author.name, "none": None}.get(who, who)


def command_changes(
    commands: Mapping[str, Command], author: Agent, actor: str
) -> list[Change]:
    """#tier, #priority, #queue, #assign, #tags and #merge as changes, in that order."""
    changes: list[Change] = []
    for name in FIELD_COMMANDS:
        if name in commands:
            value = commands[name].args[0]
            changes.append(
                SetField(name, int(value) if name == "tier" else value, actor)
            )
    if "assign" in commands:
        changes.append(
            SetField("assignee", assignee_named(commands["assign"], author), actor)
        )
    if "tags" in commands:
        changes.append(ChangeTags(commands["tags"].args, actor))
    if "merge" in commands:
        changes.append(MergeInto(int(commands["merge"].args[0]), actor))
    return changes


def ticket_after(
    ticket: TicketFacts,
    commands: Mapping[str, Command],
    author: Agent,
    known: Mapping[int, TicketFacts],
) -> TicketFacts:
    """The ticket as the commands leave it (after a merge: the ticket merged into)."""
    if "merge" in commands:
        return known[int(commands["merge"].args[0])]
    updates: dict[str, object] = {}
    for name in FIELD_COMMANDS:
        if name in commands:
            value = commands[name].args[0]
            updates[name] = int(value) if name == "tier" else value
    if "assign" in commands:
        updates["assignee"] = assignee_named(commands["assign"], author)
    return replace(ticket, **updates)
