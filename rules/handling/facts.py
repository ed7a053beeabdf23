"""What handling is given: the message, the party who sent it, and the facts storage knows.

Plain values only, gathered by the pipeline before a plan is made, so every
policy can be tested with an `.eml` file and a few hand-written facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tierdesk.parsers.authres import AuthResults
from tierdesk.parsers.bounces import BounceReport
from tierdesk.parsers.parsed import (
    Classification,
    MailAttachment,
    ParsedMail,
    SubjectInfo,
)
from tierdesk.parsers.reply_address import ReplyTarget
from tierdesk.rules.handling.answer_facts import SavedAnswers
from tierdesk.rules.model import Agent


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as handling, templates and reports see it."""

    id: int
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


@dataclass(frozen=True)
class ThreadMatch:
    """Where a message belongs: a ticket (or none) and how we know."""

    ticket: TicketFacts | None
    via: str
    duplicate: bool = False
    follows: TicketFacts | None = None
    stranger: bool = False  # the sender is not a participant of the ticket it names


NO_MATCH = ThreadMatch(None, "")


@dataclass(frozen=True)
class Envelope:
    """What our own servers say about a mail (None and () where they said nothing)."""

    sender: str | None = None  # "" is the null sender of a bounce
    recipients: tuple[str, ...] = ()
    authentication: AuthResults | None = None


@dataclass(frozen=True)
class Inbound:
    """One spooled message after the parse and classify stages."""

    spool_id: int
    mail: ParsedMail
    classification: Classification
    subject: SubjectInfo
    recipients: tuple[str, ...] = ()  # as spooled (routing tests them)
    mailbox: str = ""
    envelope: Envelope = field(default_factory=Envelope)  # only what is a fact
    verp: int | None = None  # the outbox row a (signed) bounce address names
    bounce: BounceReport | None = None  # what a bounce reports, when this is one

    @property
    def sender(self) -> str:
        """The From address as we compare it ('' when there is none)."""
        return self.mail.from_.key if self.mail.from_ else ""


@dataclass(frozen=True)
class SentMail:
    """One mail we sent, as a bounce names it."""

    id: int
    kind: str
    recipient: str
    ticket: TicketFacts | None
    author: str = ""  # the agent, for a relayed answer


@dataclass(frozen=True)
class Customer:
    """Anyone who is not acting as an agent: a customer, a robot, a stranger."""

    signed_ticket: int | None = None  # a valid signed customer address names it


@dataclass(frozen=True)
class ClaimedAgent:
    """Mail to an agent's or vendor's signed address: it claims to come from them."""

    target: ReplyTarget
    agent: Agent | None  # None: the signed name is no agent (any more)


@dataclass(frozen=True)
class UnsignedAgent:
    """An agent's address in From without a signed address: it proves nothing."""

    agent: Agent


Party = Customer | ClaimedAgent | UnsignedAgent


@dataclass(frozen=True)
class Facts:
    """What the database knows that a plan depends on."""

    match: ThreadMatch = NO_MATCH
    saved_answers: SavedAnswers | None = None  # for an agent's mail that names them
    resolved_at: datetime | None = None  # of the matched ticket, for the reopen window
    participants: frozenset[str] = frozenset()  # of the matched ticket (address keys)
    open_tickets: tuple[TicketFacts, ...] = ()  # the sender's, for a status request
    tickets_opened_last_hour: int = 0  # by the sender, for the creation limit
    latest_ticket: TicketFacts | None = None  # the sender's, where extra mail goes
    named_tickets: Mapping[int, TicketFacts] = field(default_factory=dict)
    last_customer_text: str = ""  # for a vendor hand-over
    sent_notices: tuple[str, ...] = ()  # texts of our notices on the ticket
    fingerprint: str = ""  # of what the sender wrote, to notice robots repeating it
    bounced: tuple[SentMail, ...] = ()  # the mails a bounce is about
    repeats: int = 0  # times the sender sent this same text within the repeat window
    search_hits: tuple[Mapping[str, object], ...] = ()  # what an agent's search found
    cc_watchers: tuple[str, ...] = ()  # customers copied on the ticket (address keys)
    # the customers' files on the ticket, when the plan sends them
    ticket_files: tuple[MailAttachment, ...] = ()
    # of the people a mail copied, those that bounce: never watchers
    bouncing: frozenset[str] = frozenset()
