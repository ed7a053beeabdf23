"""The apply stage: everything one message changes, in the caller's transaction.

Ticket, message, attachments, events and every outgoing mail the message
causes are written together; if any step fails, none of it happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from parsers.parsed import Classification, MailKind, ParsedMail
from rules.decision import Decision
from storage import outbox
from storage.clock import utcnow
from storage.models import Message, Ticket
from storage.outbox import OutgoingMail
from storage.threads import ThreadMatch
from storage.tickets import (
    TicketFacts,
    contact_for,
    create_ticket,
    facts,
    record_event,
    set_status,
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


class Acknowledger(Protocol):
    """What the apply stage needs to acknowledge a new ticket (see daemon.pipeline)."""

    def refusal(
        self, classification: Classification, address: str, sent_last_hour: int
    ) -> str | None:
        """Why no automatic mail may go to `address` now, or None."""

    def compose(
        self, ticket: TicketFacts, mail: ParsedMail, language: str
    ) -> OutgoingMail:
        """The rendered acknowledgement; raises CannotCompose."""


def apply_incoming(incoming: Incoming, acknowledger: Acknowledger) -> Outcome:
    """Store one classified, threaded, routed message; see the module docstring."""
    mail, classification, match, decision = (
        incoming.mail,
        incoming.classification,
        incoming.match,
        incoming.decision,
    )
    if match.is_duplicate:
        number = match.ticket.number if match.ticket else None
        ticket_id = match.ticket.id if match.ticket else None
        return Outcome(
            "duplicate", number, mail.message_id, "Message-ID already stored", ticket_id
        )
    if decision.action == "drop":
        return Outcome("ignored", None, mail.message_id, "dropped by a rule")
    if classification.kind is MailKind.LOOP:
        return Outcome(
            "ignored",
            None,
            mail.message_id,
            f"our own mail came back ({classification.reason})",
        )
    ticket = match.ticket
    if ticket is None and not classification.may_open_ticket:
        return Outcome(
            "ignored",
            None,
            mail.message_id,
            f"{classification.kind.value}: {classification.reason}",
        )
    sender = mail.from_
    if sender is None or not sender.key:
        return Outcome("ignored", None, mail.message_id, "no usable From address")
    actor = f"customer:{sender.key}"
    if classification.is_automatic:
        actor = f"{classification.kind.value}:{sender.key}"
    created = ticket is None
    if ticket is None:
        ticket = create_ticket(
            incoming.title,
            contact_for(sender),
            tier=decision.tier,
            queue=decision.queue,
            priority=decision.priority,
            language=decision.language,
            assignee=decision.assignee,
        )
        record_event(
            ticket,
            actor,
            "created",
            detail=f"from {sender.key}, tier {decision.tier}, queue {decision.queue}",
        )
    else:
        contact_for(sender)
    message = store_incoming(
        ticket,
        mail,
        _message_kind(classification),
        incoming.spool_id,
        incoming.recipients,
    )
    if message is None:
        return Outcome(
            "duplicate",
            ticket.number,
            mail.message_id,
            "Message-ID already stored",
            ticket.id,
        )
    if not created:
        record_event(ticket, actor, "message", detail=f"{message.kind} via {match.via}")
        if not classification.is_automatic and ticket.status in REOPENING_STATUSES:
            set_status(ticket, "open", actor, detail="customer replied")
        else:
            touch(ticket)
        return Outcome(
            "appended",
            ticket.number,
            mail.message_id,
            f"threaded by {match.via}",
            ticket.id,
        )
    if decision.acknowledge:
        _acknowledge(ticket, incoming, acknowledger)
    else:
        record_event(
            ticket, "system", "ack_skipped", detail="routing says no acknowledgement"
        )
    return Outcome("new_ticket", ticket.number, mail.message_id, "", ticket.id)


def _message_kind(classification: Classification) -> str:
    return (
        "customer"
        if classification.kind is MailKind.HUMAN
        else classification.kind.value
    )


def _acknowledge(
    ticket: Ticket, incoming: Incoming, acknowledger: Acknowledger
) -> None:
    address = ticket.requester.email
    recent = outbox.automatic_mails_since(address, utcnow() - timedelta(hours=1))
    refusal = acknowledger.refusal(incoming.classification, address, recent)
    if refusal:
        record_event(ticket, "system", "ack_skipped", detail=refusal)
        return
    try:
        draft = acknowledger.compose(
            facts(ticket), incoming.mail, incoming.decision.language
        )
    except CannotCompose as exc:
        record_event(ticket, "system", "ack_failed", detail=str(exc))
        return
    queue_mail(ticket, draft)


def queue_mail(ticket: Ticket, draft: OutgoingMail) -> Message | None:
    """Store an outgoing mail as a message of the ticket and put it in the outbox."""
    message = store_outgoing(
        ticket,
        message_id=draft.message_id,
        kind=draft.kind,
        sender=draft.mail_from,
        recipients=list(draft.rcpt_tos),
        subject=draft.subject,
        text=draft.text,
        html=draft.html,
        in_reply_to=draft.in_reply_to,
        references=list(draft.references),
    )
    if message is None:
        return None
    outbox.enqueue(
        ticket=ticket,
        message=message,
        kind=draft.kind,
        mail_from=draft.mail_from,
        rcpt_tos=list(draft.rcpt_tos),
        message_id=draft.message_id,
        raw=draft.raw,
        automatic=draft.automatic,
    )
    record_event(
        ticket,
        "system",
        f"{draft.kind}_queued",
        detail=f"to {', '.join(draft.rcpt_tos)}",
    )
    return message
