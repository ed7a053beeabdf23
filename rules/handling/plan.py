"""The plan: everything one message (or one SLA sweep step) changes, decided before anything is written.

Storage carries a plan out in one transaction: the ticket (a new one, an
existing one, or none), the message to store, the changes in order (each
with its event), then every mail as a spec that the daemon renders and puts
in the outbox. A mail spec says what to send, to whom and why; rendering
it needs the ticket's number, which a new ticket only has once it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tierdesk.parsers.parsed import Address, MailAttachment, ParsedMail
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.sla import NO_DEADLINES, Deadlines

MAX_REFERENCES = 10


@dataclass(frozen=True)
class Thread:
    """Where a mail belongs in its recipient's client: the mail it answers and its ancestors."""

    in_reply_to: str | None
    references: tuple[str, ...]

    @staticmethod
    def under(mail: ParsedMail) -> Thread:
        """Threaded as a reply to `mail`."""
        # an id we made up for a mail without one means nothing to the sender's client
        own = [] if mail.message_id_synthesized else [mail.message_id]
        thread = Thread.of([*mail.references, *own])
        answered = own[0] if own and own[0].isascii() else None
        return Thread(answered, thread.references)

    @staticmethod
    def of(ids: Sequence[str]) -> Thread:
        """Threaded under the last of `ids` (oldest first)."""
        # ids with non-ASCII text (RFC 6532) would need SMTPUTF8 all the way: leave them out
        usable = tuple(i for i in ids if i and i.isascii())[-MAX_REFERENCES:]
        return Thread(usable[-1] if usable else None, usable)


@dataclass(frozen=True)
class ReplyAs:
    """Whose signed Reply-To a mail carries: a reply to it acts as that party."""

    role: str  # customer, agent or vendor
    name: str = ""  # the agent's or vendor's name
    mode: str = "reply"  # or "note": whatever answers it stays private


@dataclass(frozen=True)
class MailSpec:
    """One mail to send, before rendering: the template, the recipient, and why."""

    kind: str  # kept with the mail in the ticket's history and the outbox
    template: str
    to: Address
    why: str
    cause: str  # what caused the mail; its Message-ID is derived from it
    thread: Thread | None  # None: under the ticket's conversation when rendered
    language: str | None = None  # None: the ticket's language
    reply_as: ReplyAs | None = None  # None: the plain support address
    context: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[MailAttachment, ...] = ()
    limit_class: str = (
        "automatic"  # the limit it counts against: automatic, notice, relayed
    )
    auto_submitted: str | None = "auto-replied"
    from_name: str | None = None
    if_unrendered: str = "mail_failed"  # the event when no template renders
    # the sender's name and subject are shortened, links removed
    echo_safe: bool = False
    author: str = ""  # the agent whose answer this relays (told if it bounces)
    fallback: MailSpec | None = None  # told, with `reason`, when this cannot go
    cc: tuple[Address, ...] = ()  # the ticket's customer watchers, on the same mail


@dataclass(frozen=True)
class NewTicket:
    """Open a ticket for the requester, as routing decided."""

    title: str
    requester: Address
    decision: Decision
    deadlines: Deadlines = NO_DEADLINES


@dataclass(frozen=True)
class StoreMessage:
    """Keep the incoming message on the ticket."""

    kind: str  # customer, auto_reply ..., agent_reply, note, vendor_note
    text: str | None = None  # replaces the parsed text (quotes and commands removed)
    remember_sender: bool = False  # a contact for the sender, on first sight


@dataclass(frozen=True)
class RecordEvent:
    """A line in a ticket's history (the plan's ticket unless `ticket_id` names another)."""

    actor: str
    kind: str
    detail: str = ""
    ticket_id: int | None = None


@dataclass(frozen=True)
class FollowsUp:
    """The new ticket follows up on an old one: a history line on each, naming the other."""

    old: TicketFacts
    actor: str
    stranger: bool = False  # written by someone who is not a participant of `old`


@dataclass(frozen=True)
class AddParticipants:
    """People who belong on the ticket from now on (address keys)."""

    addresses: tuple[str, ...]
    role: str  # requester, cc, agent, vendor


@dataclass(frozen=True)
class SetWatchers:
    """An agent's `#cc`: customers copied on the ticket from now on (+), and no longer (-)."""

    add: tuple[str, ...]
    remove: tuple[str, ...]
    actor: str


@dataclass(frozen=True)
class MarkBounced:
    """A bounce came back for outbox row `outbox_id`."""

    outbox_id: int
    diagnostic: str


@dataclass(frozen=True)
class ScoreBounce:
    """One more bounce for an address (its score decides whether it still gets mail)."""

    address: str
    hard: bool
    diagnostic: str


@dataclass(frozen=True)
class ForgiveBounces:
    """The address wrote to us: whatever it bounced before is forgotten."""

    address: str


@dataclass(frozen=True)
class RememberText:
    """What the sender wrote, as a fingerprint, to notice a robot repeating itself."""

    address: str
    fingerprint: str


@dataclass(frozen=True)
class SetStatus:
    """A status change, with its event and SLA clock consequences."""

    status: str
    actor: str
    detail: str = ""


@dataclass(frozen=True)
class SetField:
    """Tier, queue, priority or assignee, with an event when it changes."""

    field: str
    value: object
    actor: str
    detail: str = ""


@dataclass(frozen=True)
class ChangeTags:
    """Add (+tag) and remove (-tag) tags, with one event."""

    changes: tuple[str, ...]
    actor: str


@dataclass(frozen=True)
class MergeInto:
    """Move the ticket's messages into another; this one closes and points there."""

    number: int
    actor: str


@dataclass(frozen=True)
class StopFirstResponseClock:
    """An agent answered: the first-response clock stops (once)."""

    actor: str


@dataclass(frozen=True)
class Touch:
    """The ticket was updated now (nothing else changed)."""


Change = (
    RecordEvent
    | FollowsUp
    | AddParticipants
    | SetWatchers
    | MarkBounced
    | ScoreBounce
    | ForgiveBounces
    | RememberText
    | SetStatus
    | SetField
    | ChangeTags
    | MergeInto
    | StopFirstResponseClock
    | Touch
)


@dataclass(frozen=True)
class Plan:
    """Everything one message changes, and what to call the result."""

    outcome: OutcomeKind
    reason: str = ""
    ticket: TicketFacts | NewTicket | None = None
    store: StoreMessage | None = None
    changes: tuple[Change, ...] = ()
    mails: tuple[MailSpec, ...] = ()
    quarantine: bool = False  # set the spooled message aside instead of marking it done
    if_unsent: str = (
        ""  # without a ticket: a mail that cannot be rendered makes it IGNORED
    )

    @property
    def existing(self) -> TicketFacts | None:
        """The ticket the plan works on when it exists already."""
        return self.ticket if isinstance(self.ticket, TicketFacts) else None


def ignore(reason: str, ticket: TicketFacts | None = None, *changes: Change) -> Plan:
    """Nothing is stored; `changes` (events) may still go on the ticket."""
    return Plan(OutcomeKind.IGNORED, reason, ticket, changes=changes)


def append(
    reason: str,
    ticket: TicketFacts,
    store: StoreMessage,
    changes: Sequence[Change],
    mails: Sequence[MailSpec],
) -> Plan:
    """The message joins `ticket`, with its changes and mails."""
    return Plan(
        OutcomeKind.APPENDED, reason, ticket, store, tuple(changes), tuple(mails)
    )
