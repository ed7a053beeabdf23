"""The thread stage's look-ups: which ticket does a message belong to?

Order: a Message-ID we have already stored makes the message a duplicate;
then the subject token; then In-Reply-To and References (newest first)
against every stored Message-ID, our own outgoing mail included.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Message, Ticket


@dataclass(frozen=True)
class ThreadMatch:
    """Where a message belongs: a ticket (or none) and how we know."""

    ticket: Ticket | None
    via: str
    duplicate_of: Message | None = None

    @property
    def is_duplicate(self) -> bool:
        """True when this exact Message-ID was ingested before."""
        return self.duplicate_of is not None


NO_MATCH = ThreadMatch(None, "")


def find_thread(
    message_id: str,
    token_number: int | None,
    in_reply_to: list[str],
    references: list[str],
) -> ThreadMatch:
    """Find the ticket of an incoming message (see the module docstring for the order)."""
    seen = Message.get_or_none(Message.message_id == message_id)
    if seen is not None:
        return ThreadMatch(seen.ticket, "duplicate", duplicate_of=seen)
    if token_number is not None:
        ticket = Ticket.get_or_none(Ticket.number == token_number)
        if ticket is not None:
            return ThreadMatch(ticket, f"subject token #{token_number}")
    for header, ids in (
        ("In-Reply-To", in_reply_to),
        ("References", list(reversed(references))),
    ):
        ticket = _ticket_of_first_known(ids)
        if ticket is not None:
            return ThreadMatch(ticket, header)
    return NO_MATCH


def _ticket_of_first_known(ids: list[str]) -> Ticket | None:
    ids = [i for i in dict.fromkeys(ids) if i][:50]
    if not ids:
        return None
    rows = {
        m.message_id: m.ticket_id
        for m in Message.select(Message.message_id, Message.ticket).where(
            Message.message_id.in_(ids)
        )
    }
    for message_id in ids:
        if message_id in rows:
            return Ticket.get_by_id(rows[message_id])
    return None
