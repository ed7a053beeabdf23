"""Apply stage for mail from agents and vendors (arriving at their signed reply addresses).

An agent's mail is checked whole before anything happens: every command
must be valid, or nothing is applied, nothing reaches the customer, and the
agent gets a short answer listing what was wrong. Then, in one transaction:
the message is stored (quoted history and signature removed; the raw mail
stays in the spool), the commands are applied with an event each, and the
mails they cause are queued: the answer to the customer (unless it is a
private note), a status mail, notices to the other agents, the hand-over to
a vendor. A vendor's answer is only ever a private note for the agents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from parsers.commands import Command, CommandBlock
from parsers.parsed import ParsedMail
from parsers.quotes import strip_quoted
from parsers.reply_address import ReplyTarget
from rules.model import Agent, RuleSet
from storage.apply import CannotCompose, Outcome, queue_mail
from storage.changes import change_field, change_status, record_first_response
from storage.outbox import OutgoingMail
from storage.sql import Sql
from storage.threads import conversation
from storage.tickets import (
    TicketFacts,
    record_event,
    store_incoming,
    ticket_by_id,
    ticket_by_number,
)

CUSTOMER_SHOULD_KNOW = (
    "resolved",
    "closed",
)  # and "pending" when the answer asks a question


class AgentMailer(Protocol):
    """What agent mail causes, composed by the daemon (see daemon.mailer)."""

    def command_errors(
        self, ticket: TicketFacts, agent: Agent, errors: list[str], cause: str
    ) -> OutgoingMail: ...
    def agent_reply(self, *args: object) -> OutgoingMail: ...
    def customer_status(self, *args: object) -> OutgoingMail: ...
    def note_notices(self, *args: object) -> list[OutgoingMail]: ...
    def vendor_forward(self, *args: object) -> OutgoingMail: ...
    def assignment_notices(self, *args: object) -> list[OutgoingMail]: ...


@dataclass(frozen=True)
class AgentMail:
    """A message that arrived at an agent's (or vendor's) signed address."""

    mail: ParsedMail
    target: ReplyTarget
    sender: Agent
    commands: CommandBlock
    spool_id: int | None
    recipients: list[str]
    now: datetime


def apply_agent_mail(
    sql: Sql, msg: AgentMail, rules: RuleSet, mailer: AgentMailer
) -> Outcome:
    """Store and act on an agent's (or vendor's) mail; see the module docstring."""
    mail = msg.mail
    ticket = ticket_by_number(sql, msg.target.ticket)
    if ticket is None:
        return Outcome(
            "ignored",
            None,
            mail.message_id,
            f"the signed address names ticket {msg.target.ticket}, which does not exist",
        )
    if msg.target.role == "vendor":
        return _vendor_note(sql, ticket, msg, mailer)
    errors = list(msg.commands.errors) + _check(
        msg.commands.commands, rules, ticket, sql
    )
    if errors:
        record_event(
            sql,
            ticket.id,
            f"agent:{msg.sender.name}",
            "agent_mail_refused",
            detail="; ".join(errors),
        )
        _queue(
            sql,
            ticket,
            lambda: mailer.command_errors(ticket, msg.sender, errors, mail.message_id),
        )
        return Outcome(
            "ignored",
            ticket.number,
            mail.message_id,
            "not applied: " + "; ".join(errors),
            ticket.id,
        )
    commands = {c.name: c for c in msg.commands.commands}
    note = msg.target.is_note or "comment" in commands
    text = strip_quoted(msg.commands.body).strip()
    actor = f"agent:{msg.sender.name}"
    kind = "note" if note else "agent_reply"
    stored = store_incoming(
        sql, ticket.id, _cleaned(mail, text), kind, msg.spool_id, msg.recipients
    )
    if stored is None:
        return Outcome(
            "duplicate",
            ticket.number,
            mail.message_id,
            "Message-ID already stored",
            ticket.id,
        )
    record_event(
        sql,
        ticket.id,
        actor,
        kind,
        detail=f"{len(text)} characters, {len(mail.attachments)} attachment(s)",
    )
    status = commands.get("status")
    _apply_fields(sql, ticket, commands, msg.sender, actor)
    assigned = _newly_assigned(sql, ticket, msg.sender)
    answered = not note and bool(text)
    if answered:
        record_first_response(sql, ticket.id, actor, msg.now)
    new_status = (
        status.args[0]
        if status
        else ("open" if answered and ticket.status == "new" else None)
    )
    if new_status:
        change_status(sql, ticket.id, new_status, actor, rules.sla, msg.now)
    ticket = ticket_by_id(sql, ticket.id) or ticket
    thread = conversation(sql, ticket.id)
    if answered:
        files = tuple(a for a in mail.attachments if not a.inline)
        _queue(
            sql,
            ticket,
            lambda: mailer.agent_reply(
                ticket, msg.sender, text, files, thread, mail.message_id, None
            ),
        )
        thread = conversation(sql, ticket.id)
    told = status.args[0] if status and not note else None
    if told in CUSTOMER_SHOULD_KNOW or (told == "pending" and answered):
        # a status reply of its own, after the answer (pending: only when the answer asks something)
        _queue(
            sql,
            ticket,
            lambda: mailer.customer_status(
                ticket, told, f"{mail.message_id}/status", thread
            ),
        )
    if note and text:
        names = [a.filename for a in mail.attachments if not a.inline]
        for notice in mailer.note_notices(
            ticket, msg.sender.name, text, names, mail.message_id, thread
        ):
            queue_mail(sql, ticket.id, notice)
    if assigned is not None:
        for notice in mailer.assignment_notices(
            ticket, assigned, msg.sender.name, mail.message_id, thread
        ):
            queue_mail(sql, ticket.id, notice)
    if "tier" in commands and ticket.tier == 4:
        _hand_to_vendor(sql, ticket, commands, rules, text, mail, mailer, actor)
    what = (
        "private note"
        if note
        else ("answer sent to the customer" if answered else "commands only")
    )
    return Outcome(
        "appended", ticket.number, mail.message_id, f"{actor}: {what}", ticket.id
    )


def _check(
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
        if command.name == "vendor" and value not in _vendors(rules):
            errors.append(
                f"{where(command)}: #vendor: unknown vendor {value!r}; vendors: {', '.join(sorted(_vendors(rules))) or 'none'}"
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
        and _vendor_for(rules, ticket.queue, by_name.get("vendor")) is None
    ):
        errors.append(
            f"{where(tier)}: #tier 4 needs a vendor: add '#vendor <name>' or give queue {ticket.queue!r} one"
        )
    return errors


def _vendors(rules: RuleSet) -> dict[str, Agent]:
    return {name: agent for name, agent in rules.agents.items() if agent.tier == 4}


def _vendor_for(rules: RuleSet, queue: str, command: Command | None) -> Agent | None:
    vendors = _vendors(rules)
    if command is not None:
        return vendors.get(command.args[0])
    return vendors.get(rules.queue_vendors.get(queue, ""))


def _apply_fields(
    sql: Sql,
    ticket: TicketFacts,
    commands: dict[str, Command],
    agent: Agent,
    actor: str,
) -> None:
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
        _change_tags(sql, ticket.id, commands["tags"].args, actor)
    if "merge" in commands:
        _merge(sql, ticket, int(commands["merge"].args[0]), actor)


def _newly_assigned(sql: Sql, before: TicketFacts, author: Agent) -> str | None:
    """The agent a command just assigned the ticket to, unless it is the author."""
    now = sql.scalar("SELECT assignee FROM ticket WHERE id = ?", before.id)
    return now if now and now != before.assignee and now != author.name else None


def _change_tags(
    sql: Sql, ticket_id: int, changes: tuple[str, ...], actor: str
) -> None:
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


def _merge(sql: Sql, ticket: TicketFacts, into: int, actor: str) -> None:
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


def _hand_to_vendor(
    sql: Sql,
    ticket: TicketFacts,
    commands: dict[str, Command],
    rules: RuleSet,
    note: str,
    mail: ParsedMail,
    mailer: AgentMailer,
    actor: str,
) -> None:
    vendor = _vendor_for(rules, ticket.queue, commands.get("vendor"))
    assert vendor is not None
    summary = sql.scalar(
        "SELECT text FROM message WHERE ticket_id = ? AND kind = 'customer' ORDER BY id DESC LIMIT 1",
        ticket.id,
    )
    _queue(
        sql,
        ticket,
        lambda: mailer.vendor_forward(
            ticket, vendor, summary or "", note, mail.message_id
        ),
    )
    record_event(
        sql,
        ticket.id,
        actor,
        "vendor",
        detail=f"handed to {vendor.name} <{vendor.address}>",
    )


def _vendor_note(
    sql: Sql, ticket: TicketFacts, msg: AgentMail, mailer: AgentMailer
) -> Outcome:
    mail = msg.mail
    text = strip_quoted(mail.text).strip()
    stored = store_incoming(
        sql,
        ticket.id,
        _cleaned(mail, text),
        "vendor_note",
        msg.spool_id,
        msg.recipients,
    )
    if stored is None:
        return Outcome(
            "duplicate",
            ticket.number,
            mail.message_id,
            "Message-ID already stored",
            ticket.id,
        )
    actor = f"vendor:{msg.sender.name}"
    record_event(
        sql,
        ticket.id,
        actor,
        "vendor_note",
        detail="kept for the agents; not sent to the customer",
    )
    names = [a.filename for a in mail.attachments if not a.inline]
    for notice in mailer.note_notices(
        ticket,
        msg.sender.name,
        text,
        names,
        mail.message_id,
        conversation(sql, ticket.id),
    ):
        queue_mail(sql, ticket.id, notice)
    return Outcome(
        "appended",
        ticket.number,
        mail.message_id,
        f"{actor}: note for the agents",
        ticket.id,
    )


def _cleaned(mail: ParsedMail, text: str) -> ParsedMail:
    """The message as stored: the new text only (the raw mail stays in the spool)."""
    return replace(mail, text=text)


def _queue(sql: Sql, ticket: TicketFacts, make: Callable[[], OutgoingMail]) -> None:
    try:
        queue_mail(sql, ticket.id, make())
    except CannotCompose as exc:
        record_event(sql, ticket.id, "system", "mail_failed", detail=str(exc))
