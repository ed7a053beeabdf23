"""Writing tickets, contacts, messages, attachments and events.

These run inside the caller's transaction; none of them commits on its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from parsers.parsed import Address, MailAttachment, ParsedMail
from storage.clock import to_naive_utc, utcnow
from storage.models import Attachment, Blob, Contact, Counter, Event, Message, Ticket


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as templates and reports see it: plain values only."""

    number: int
    subject: str
    status: str
    tier: int
    queue: str
    priority: str
    language: str
    requester_email: str
    requester_name: str
    assignee: str | None
    created_at: datetime

    def as_template_dict(self) -> dict[str, object]:
        """The `ticket` variable of templates."""
        return {
            "number": self.number,
            "subject": self.subject,
            "status": self.status,
            "tier": self.tier,
            "queue": self.queue,
            "priority": self.priority,
            "assignee": self.assignee or "",
        }


def facts(ticket: Ticket) -> TicketFacts:
    """Plain facts about a ticket (reads its requester)."""
    requester = ticket.requester
    return TicketFacts(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        tier=ticket.tier,
        queue=ticket.queue,
        priority=ticket.priority,
        language=ticket.language,
        requester_email=requester.email,
        requester_name=requester.name,
        assignee=ticket.assignee,
        created_at=ticket.created_at,
    )


def contact_for(address: Address) -> Contact:
    """The contact for an address, created on first sight; a missing name is filled in."""
    email = address.key
    Contact.insert(email=email, name=address.name).on_conflict_ignore().execute()
    contact = Contact.get(Contact.email == email)
    if address.name and not contact.name:
        contact.name = address.name
        contact.save(only=[Contact.name])
    return contact


def next_ticket_number() -> int:
    """The next public ticket number; the row lock serialises concurrent daemons."""
    Counter.update(value=Counter.value + 1).where(Counter.name == "ticket").execute()
    return Counter.get(Counter.name == "ticket").value


def create_ticket(
    subject: str,
    requester: Contact,
    *,
    tier: int,
    queue: str,
    priority: str,
    language: str,
    assignee: str | None,
) -> Ticket:
    """A new ticket with the next number, status `new`."""
    now = utcnow()
    return Ticket.create(
        number=next_ticket_number(),
        subject=subject,
        requester=requester,
        tier=tier,
        queue=queue,
        priority=priority,
        language=language,
        assignee=assignee,
        created_at=now,
        updated_at=now,
    )


def store_incoming(
    ticket: Ticket,
    mail: ParsedMail,
    kind: str,
    spool_id: int | None,
    recipients: list[str],
) -> Message | None:
    """Store an incoming message and its attachments; None if its Message-ID is taken."""
    sender = mail.from_ or Address("", "")
    inserted = (
        Message.insert(
            ticket=ticket,
            message_id=mail.message_id,
            in_reply_to=" ".join(mail.in_reply_to),
            references=" ".join(mail.references),
            direction="in",
            kind=kind,
            sender=sender.key,
            sender_name=sender.name,
            recipients=json.dumps(recipients),
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            sent_date=to_naive_utc(mail.date),
            spool=spool_id,
            defects="\n".join(mail.defects),
        )
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if not inserted:
        return None
    message = Message.get(Message.message_id == mail.message_id)
    for attachment in mail.attachments:
        store_attachment(message, attachment)
    return message


def store_outgoing(
    ticket: Ticket,
    *,
    message_id: str,
    kind: str,
    sender: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str | None,
    in_reply_to: str,
    references: list[str],
) -> Message | None:
    """Store a mail we send, so replies to it thread; None if its Message-ID exists."""
    inserted = (
        Message.insert(
            ticket=ticket,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=" ".join(references),
            direction="out",
            kind=kind,
            sender=sender,
            recipients=json.dumps(recipients),
            subject=subject,
            text=text,
            html=html,
            sent_date=utcnow(),
        )
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return Message.get(Message.message_id == message_id) if inserted else None


def store_attachment(message: Message, attachment: MailAttachment) -> Attachment:
    """Store an attachment, its bytes once per distinct content."""
    digest = hashlib.sha256(attachment.data).hexdigest()
    Blob.insert(
        sha256=digest, size=len(attachment.data), data=attachment.data
    ).on_conflict_ignore().execute()
    return Attachment.create(
        message=message,
        filename=attachment.filename,
        content_type=attachment.content_type[:255],
        size=len(attachment.data),
        sha256=digest,
        content_id=attachment.content_id,
        inline=attachment.inline,
    )


def record_event(
    ticket: Ticket,
    actor: str,
    kind: str,
    *,
    field: str = "",
    old: object = "",
    new: object = "",
    detail: str = "",
) -> Event:
    """Add a line to the ticket's history."""
    return Event.create(
        ticket=ticket,
        actor=actor,
        kind=kind,
        field_name=field,
        old_value=str(old),
        new_value=str(new),
        detail=detail,
    )


def set_status(ticket: Ticket, status: str, actor: str, detail: str = "") -> bool:
    """Change the status with an event; False when it already had that status."""
    if ticket.status == status:
        return False
    record_event(
        ticket,
        actor,
        "status",
        field="status",
        old=ticket.status,
        new=status,
        detail=detail,
    )
    ticket.status = status
    ticket.updated_at = utcnow()
    ticket.save(only=[Ticket.status, Ticket.updated_at])
    return True


def touch(ticket: Ticket) -> None:
    """Mark the ticket as updated now."""
    ticket.updated_at = utcnow()
    ticket.save(only=[Ticket.updated_at])
