"""The apply stage: everything one message changes, in the caller's transaction.

Ticket, message, attachments, events and every outgoing mail the message
causes are written together; if any step fails, none of it happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tierdesk.parsers.parsed import Classification, MailKind, ParsedMail
from tierdesk.rules.decision import Decision
from tierdesk.rules.model import SlaPolicy
from tierdesk.rules.sla import NO_DEADLINES, Deadlines
from tierdesk.storage import outbox
from tierdesk.storage.changes import change_status
from tierdesk.storage.clock import utcnow
from tierdesk.storage.outbox import OutgoingMail
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import ThreadMatch, open_tickets_of
from tierdesk.storage.tickets import (
    TicketFacts,
    contact_for,
    create_ticket,
    record_event,
    store_incoming,
    store_outgoing,
    touch,
)

REOPENING_STATUSES = ("pending", "resolved")


@dataclass(frozen=True)
class Outcome:
    """What happened to one message; `tierdesk inject` prints it as a JSON line."""

    outcome: str
    ticket: int | None
    message_id: str
    reason: str = ""
    ticket_id: int | None = field(default=None, compare=False)

    @staticmethod
    def duplicate(ticket: TicketFacts | None, message_id: str) -> Outcome:
        """The outcome for a Message-ID we stored before."""
        number = ticket.number if ticket else None
        return Outcome(
            "duplicate",
            number,
            message_id,
            "Message-ID already stored",
            ticket.id if ticket else None,
        )

    def as_json(self) -> str:
        """One JSON line: message_id, outcome, ticket, reason."""
        return json.dumps(
            {
                "message_id": self.message_id,
                "outcome": self.outcome,
                "ticket": self.ticket,
                "reason": self.reason,
            },
            ensure_ascii=False,
        )


class CannotCompose(Exception):
    """An acknowledgement could not be rendered; the ticket is kept without one."""


@dataclass(frozen=True)
class Incoming:
    """One message after the parse, classify, thread and route stages."""

    mail: ParsedMail
    title: str
    classification: Classification
    match: ThreadMatch
    decision: Decision
    spool_id: int | None
    recipients: list[str]
    deadlines: Deadlines = NO_DEADLINES
    policies: dict[str, SlaPolicy] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class Mailer(Protocol):
    """The mail the apply stage causes, composed by the daemon (see daemon.pipeline)."""

    def refusal(
        self, classification: Classification, address: str, sent_last_hour: int
    ) -> str | None:
        """Why no automatic mail may go to `address` now, or None."""

    def acknowledgement(
        self, ticket: TicketFacts, mail: ParsedMail, decision: Decision
    ) -> OutgoingMail:
        """The rendered acknowledgement; raises CannotCompose."""

    def agent_notices(
        self, ticket: TicketFacts, mail: ParsedMail, template: str
    ) -> list[OutgoingMail]:
        """Notices to the agents who should hear about this mail (may be none)."""

    def status_list(self, mail: ParsedMail, tickets: list[TicketFacts]) -> OutgoingMail:
        """The answer to a customer's status request; raises CannotCompose."""


def apply_incoming(sql: Sql, incoming: Incoming, mailer: Mailer) -> Outcome:
    """Store one classified, threaded, routed message; see the module docstring."""
    mail, kind, match, decision = (
        incoming.mail,
        incoming.classification,
        incoming.match,
        incoming.decision,
    )
    if match.duplicate:
        return Outcome.duplicate(match.ticket, mail.message_id)
    if decision.action == "drop":
        return Outcome("ignored", None, mail.message_id, "dropped by a rule")
    if kind.kind is MailKind.LOOP:
        return Outcome(
            "ignored", None, mail.message_id, f"our own mail came back ({kind.reason})"
        )
    ticket = match.ticket
    if ticket is None and not kind.may_open_ticket:
        return Outcome(
            "ignored", None, mail.message_id, f"{kind.kind.value}: {kind.reason}"
        )
    sender = mail.from_
    if sender is None or not sender.key:
        return Outcome("ignored", None, mail.message_id, "no usable From address")
    actor = (
        f"customer:{sender.key}"
        if not kind.is_automatic
        else f"{kind.kind.value}:{sender.key}"
    )
    created = ticket is None
    if ticket is None:
        ticket = create_ticket(
            sql, incoming.title, sender, decision, incoming.deadlines
        )
        record_event(
            sql,
            ticket.id,
            actor,
            "created",
            detail=_routing_summary(sender.key, decision),
        )
        if match.follows is not None:
            old = match.follows
            record_event(
                sql,
                ticket.id,
                actor,
                "follows_up",
                detail=f"follows up on #{old.number}",
            )
            record_event(
                sql,
                old.id,
                actor,
                "followed_up",
                detail=f"the customer wrote again: new ticket #{ticket.number}",
            )
    else:
        contact_for(sql, sender)
    message_kind = "customer" if kind.kind is MailKind.HUMAN else kind.kind.value
    stored = store_incoming(
        sql, ticket.id, mail, message_kind, incoming.spool_id, incoming.recipients
    )
    if stored is None:
        return Outcome.duplicate(ticket, mail.message_id)
    if not created:
        record_event(
            sql, ticket.id, actor, "message", detail=f"{message_kind} via {match.via}"
        )
        if not kind.is_automatic and ticket.status in REOPENING_STATUSES:
            change_status(
                sql,
                ticket.id,
                "open",
                actor,
                incoming.policies,
                incoming.now,
                "customer replied",
            )
        else:
            touch(sql, ticket.id)
        if not kind.is_automatic:
            _notify(sql, ticket, mail, mailer, "notify_reply")
        return Outcome(
            "appended",
            ticket.number,
            mail.message_id,
            f"threaded by {match.via}",
            ticket.id,
        )
    if decision.acknowledge:
        _acknowledge(sql, ticket, incoming, mailer)
    else:
        record_event(
            sql,
            ticket.id,
            "system",
            "ack_skipped",
            detail="routing says no acknowledgement",
        )
    _notify(sql, ticket, mail, mailer, "notify_new")
    return Outcome("new_ticket", ticket.number, mail.message_id, "", ticket.id)


def _notify(
    sql: Sql, ticket: TicketFacts, mail: ParsedMail, mailer: Mailer, template: str
) -> None:
    try:
        notices = mailer.agent_notices(ticket, mail, template)
    except CannotCompose as exc:
        record_event(sql, ticket.id, "system", "notice_failed", detail=str(exc))
        return
    for notice in notices:
        queue_mail(sql, ticket.id, notice)


def _routing_summary(sender: str, decision: Decision) -> str:
    parts = [
        f"from {sender}",
        f"tier {decision.tier}",
        f"queue {decision.queue}",
        f"priority {decision.priority}",
    ]
    if decision.assignee:
        parts.append(f"assigned to {decision.assignee}")
    if decision.sla:
        parts.append(f"sla {decision.sla}")
    if decision.tags:
        parts.append("tags " + " ".join(decision.tags))
    rules = ", ".join(decision.matched_rules) or "none matched, the default applies"
    return ", ".join(parts) + f"; rules: {rules}"


def _acknowledge(
    sql: Sql, ticket: TicketFacts, incoming: Incoming, mailer: Mailer
) -> None:
    address = ticket.requester_email
    recent = outbox.automatic_mails_since(sql, address, utcnow() - timedelta(hours=1))
    refusal = mailer.refusal(incoming.classification, address, recent)
    if refusal:
        record_event(sql, ticket.id, "system", "ack_skipped", detail=refusal)
        return
    try:
        mail = mailer.acknowledgement(ticket, incoming.mail, incoming.decision)
    except CannotCompose as exc:
        record_event(sql, ticket.id, "system", "ack_failed", detail=str(exc))
        return
    queue_mail(sql, ticket.id, mail)


def queue_mail(sql: Sql, ticket_id: int, mail: OutgoingMail) -> int | None:
    """Store an outgoing mail as a message of the ticket and put it in the outbox."""
    message_row_id = store_outgoing(
        sql,
        ticket_id,
        message_id=mail.message_id,
        kind=mail.kind,
        sender=mail.mail_from,
        recipients=list(mail.rcpt_tos),
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
    )
    if message_row_id is None:
        return None
    outbox.enqueue(sql, ticket_id, message_row_id, mail)
    record_event(
        sql,
        ticket_id,
        "system",
        f"{mail.kind}_queued",
        detail=f"to {', '.join(mail.rcpt_tos)}",
    )
    return message_row_id


def answer_status_request(sql: Sql, mail: ParsedMail, mailer: Mailer) -> Outcome:
    """A customer asked for the state of their tickets: only theirs, by their address."""
    sender = mail.from_.key if mail.from_ else ""
    human = Classification(MailKind.HUMAN)
    recent = outbox.automatic_mails_since(sql, sender, utcnow() - timedelta(hours=1))
    refusal = mailer.refusal(human, sender, recent)
    if refusal:
        return Outcome(
            "ignored", None, mail.message_id, f"status request not answered: {refusal}"
        )
    tickets = open_tickets_of(sql, sender)
    try:
        answer = mailer.status_list(mail, tickets)
    except CannotCompose as exc:
        return Outcome(
            "ignored", None, mail.message_id, f"status request not answered: {exc}"
        )
    outbox.enqueue(sql, None, None, answer)
    return Outcome(
        "answered",
        None,
        mail.message_id,
        f"status request: {len(tickets)} open ticket(s) listed",
    )
