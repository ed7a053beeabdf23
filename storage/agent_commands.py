"""What an agent's command lines do to a ticket, and the checks that come first.

`check_commands` finds every mistake only the rules and the database can
see (unknown agents, queues, vendors, tickets); the others apply checked
commands inside the caller's transaction, each change with an event.
"""

from __future__ import annotations

from tierdesk.parsers.commands import Command
from tierdesk.rules.model import Agent, RuleSet
from tierdesk.storage.changes import change_field
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import TicketFacts, record_event, ticket_by_number


def check_commands(
    commands: tuple[Command, ...], rules: RuleSet, ticket: TicketFacts, sql: Sql
) -> list[str]:
    """Mistakes only the rules and the database can see: names, tickets, vendors."""
    errors = []
    where = lambda c: f"line {c.line}" if c.line else "subject"
    by_name = {c.name: c for c in commands}
    for command in commands:
        value = command.args[0] if command.args else ""
        if (
            command.name == "assign"
            and value not in ("me", "none")
            and value not in rules.agents
        ):
            errors.append(
                f"{where(command)}: #assign: unknown agent {value!r}; agents: {', '.join(sorted(rules.agents))}"
            )
        if command.name == "queue" and value not in rules.queues:
            errors.append(
                f"{where(command)}: #queue: unknown queue {value!r}; queues: {', '.join(sorted(rules.queues))}"
            )
        if command.name == "vendor" and value not in vendors_of(rules):
            errors.append(
                f"{where(command)}: #vendor: unknown vendor {value!r}; vendors: {', '.join(sorted(vendors_of(rules))) or 'none'}"
            )
        if command.name == "merge":
            if int(value) == ticket.number:
                errors.append(
                    f"{where(command)}: #merge: a ticket cannot be merged into itself"
                )
            elif ticket_by_number(sql, int(value)) is None:
                errors.append(f"{where(command)}: #merge: there is no ticket {value}")
    tier = by_name.get("tier")
    if (
        tier
        and tier.args[0] == "4"
        and vendor_for(rules, ticket.queue, by_name.get("vendor")) is None
    ):
        errors.append(
            f"{where(tier)}: #tier 4 needs a vendor: add '#vendor <name>' or give queue {ticket.queue!r} one"
        )
    return errors


def vendors_of(rules: RuleSet) -> dict[str, Agent]:
    """The vendors: agents on tier 4."""
    return {name: agent for name, agent in rules.agents.items() if agent.tier == 4}


def vendor_for(rules: RuleSet, queue: str, command: Command | None) -> Agent | None:
    """The vendor a '#tier 4' goes to: the one '#vendor' names, else the queue's."""
    vendors = vendors_of(rules)
    if command is not None:
        return vendors.get(command.args[0])
    return vendors.get(rules.queue_vendors.get(queue, ""))


def apply_field_commands(
    sql: Sql,
    ticket: TicketFacts,
    commands: dict[str, Command],
    agent: Agent,
    actor: str,
) -> None:
    """Apply #tier, #priority, #queue, #assign, #tags and #merge, an event each."""
    for name, field in (("tier", "tier"), ("priority", "priority"), ("queue", "queue")):
        if name in commands:
            value: object = commands[name].args[0]
            change_field(
                sql, ticket.id, field, int(value) if name == "tier" else value, actor
            )
    if "assign" in commands:
        who = commands["assign"].args[0]
        change_field(
            sql,
            ticket.id,
            "assignee",
            {"me": agent.name, "none": None}.get(who, who),
            actor,
        )
    if "tags" in commands:
        change_tags(sql, ticket.id, commands["tags"].args, actor)
    if "merge" in commands:
        merge(sql, ticket, int(commands["merge"].args[0]), actor)


def newly_assigned(sql: Sql, before: TicketFacts, author: Agent) -> str | None:
    """The agent a command just assigned the ticket to, unless it is the author."""
    now = sql.scalar("SELECT assignee FROM ticket WHERE id = ?", before.id)
    return now if now and now != before.assignee and now != author.name else None


def change_tags(sql: Sql, ticket_id: int, changes: tuple[str, ...], actor: str) -> None:
    """Add (+tag) and remove (-tag) tags, with one event."""
    old = (sql.scalar("SELECT tags FROM ticket WHERE id = ?", ticket_id) or "").split()
    tags = list(old)
    for change in changes:
        tag = change[1:].lower()
        if change.startswith("-"):
            tags = [t for t in tags if t != tag]
        elif tag not in tags:
            tags.append(tag)
    if tags != old:
        sql.run("UPDATE ticket SET tags = ? WHERE id = ?", " ".join(tags), ticket_id)
        record_event(
            sql,
            ticket_id,
            actor,
            "tags",
            field="tags",
            old=" ".join(old),
            new=" ".join(tags),
        )


def merge(sql: Sql, ticket: TicketFacts, into: int, actor: str) -> None:
    """Move this ticket's messages and history into `into`; this one closes and points there."""
    target = ticket_by_number(sql, into)
    assert target is not None
    sql.run(
        "UPDATE message SET ticket_id = ? WHERE ticket_id = ?", target.id, ticket.id
    )
    sql.run(
        "UPDATE ticket SET merged_into = ?, status = 'closed' WHERE id = ?",
        target.id,
        ticket.id,
    )
    record_event(
        sql,
        ticket.id,
        actor,
        "merged",
        field="merged_into",
        new=into,
        detail=f"merged into #{into}",
    )
    record_event(
        sql,
        target.id,
        actor,
        "merged",
        detail=f"ticket #{ticket.number} merged into this one",
    )
