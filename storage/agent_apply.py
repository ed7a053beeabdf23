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

from tierdesk.parsers.commands import Command, CommandBlock
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.parsers.quotes import strip_quoted
from tierdesk.parsers.reply_address import ReplyTarget
from tierdesk.rules.model import Agent, RuleSet
from tierdesk.storage.agent_commands import (
    apply_field_commands,
    check_commands,
    newly_assigned,
    vendor_for,
)
from tierdesk.storage.apply import CannotCompose, Outcome, queue_mail
from tierdesk.storage.changes import change_status, record_first_response
from tierdesk.storage.outbox import OutgoingMail
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import conversation
from tierdesk.storage.tickets import (
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
    errors = list(msg.commands.errors) + check_commands(
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
        return Outcome.duplicate(ticket, mail.message_id)
    record_event(
        sql,
        ticket.id,
        actor,
        kind,
        detail=f"{len(text)} characters, {len(mail.attachments)} attachment(s)",
    )
    status = commands.get("status")
    apply_field_commands(sql, ticket, commands, msg.sender, actor)
    assigned = newly_assigned(sql, ticket, msg.sender)
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
    vendor = vendor_for(rules, ticket.queue, commands.get("vendor"))
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
        return Outcome.duplicate(ticket, mail.message_id)
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
