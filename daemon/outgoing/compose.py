"""Building our outgoing mail: rendered templates plus headers that thread and never loop.

Automatic mail (acknowledgements, notices, status mails) carries
`Auto-Submitted`, `X-Auto-Response-Suppress: All` and `Precedence: bulk`, so
that well-behaved robots do not answer it; every mail carries
`X-Tierdesk-Loop`, so we recognise it if it comes back, and a signed
Reply-To, so a reply finds its ticket (and, for an agent, acts as that
agent). An agent's answer goes out from the support address: the agent's
name may show, their own address never. No customer-controlled text reaches
a header with a line break in it. Message-IDs are derived from what caused
the mail, so processing a cause twice can never mint two different mails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from tierdesk.daemon.config import SupportConfig
from tierdesk.daemon.outgoing.mime import build_message, encode_words, fold, mailbox
from tierdesk.daemon.outgoing.templating import Templates
from tierdesk.parsers.parsed import MailAttachment, ParsedMail
from tierdesk.parsers.reply_address import CUSTOMER, sign
from tierdesk.parsers.subject import format_subject, parse_subject
from tierdesk.rules.model import Agent
from tierdesk.storage.outbox import OutgoingMail
from tierdesk.storage.tickets import TicketFacts

_UNSAFE_HEADER_CHARS = re.compile(r"[\r\n\t\x00-\x1f\x7f\u2028\u2029\x85]+")
_MAILBOX = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
MAX_REFERENCES = 10
MAX_SUBJECT_CHARS = 250
EXCERPT_CHARS = 3000


def sanitize_header_text(value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """One safe header line: control characters and line breaks become spaces."""
    return " ".join(_UNSAFE_HEADER_CHARS.sub(" ", value).split())[:limit]


def is_deliverable_address(address: str) -> bool:
    """True for a plain addr-spec we are willing to put in To: and RCPT TO."""
    return address.isascii() and bool(_MAILBOX.match(address)) and len(address) <= 254


@dataclass(frozen=True)
class Thread:
    """Where a mail belongs in its recipient's client: the mail it answers and its ancestors."""

    in_reply_to: str | None
    references: tuple[str, ...]

    @staticmethod
    def under(mail: ParsedMail) -> Thread:
        """Threaded as a reply to `mail`."""
        # an id we made up for a mail without one means nothing to the customer's client
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
class Spec:
    """Everything that differs between our kinds of mail."""

    kind: str
    template: str
    language: str
    to: tuple[str, str]
    thread: Thread
    cause: str
    reply_to: str
    auto_submitted: str | None = "auto-replied"
    from_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[MailAttachment, ...] = ()
    rate_limited: bool = True


class Composer:
    """Renders and assembles our mails for one configuration."""

    def __init__(
        self,
        support: SupportConfig,
        templates: Templates,
        instance_id: str,
        secret: bytes,
    ) -> None:
        self.support = support
        self.templates = templates
        self.instance_id = instance_id
        self.secret = secret

    def reply_address(
        self, ticket: int, role: str, name: str = CUSTOMER, mode: str = "reply"
    ) -> str:
        """The signed address a reply to this mail should go to."""
        return sign(self.support.sender, self.secret, ticket, role, name, mode)

    def _customer(self, ticket: TicketFacts) -> tuple[str, str]:
        return (ticket.requester_name, ticket.requester_email)

    def acknowledgement(
        self,
        ticket: TicketFacts,
        mail: ParsedMail,
        language: str,
        template: str = "ack",
    ) -> OutgoingMail:
        """The acknowledgement of a new ticket, threaded under the customer's mail."""
        excerpt = mail.text[:EXCERPT_CHARS]
        return self.compose(
            ticket,
            Spec(
                kind="ack",
                template=template,
                language=language,
                to=self._customer(ticket),
                thread=Thread.under(mail),
                cause=mail.message_id,
                reply_to=self.reply_address(ticket.number, "customer"),
                extra={"message": {"subject": mail.subject, "excerpt": excerpt}},
            ),
        )

    def customer_status(
        self,
        ticket: TicketFacts,
        template: str,
        cause: str,
        thread: Thread,
        extra: dict[str, Any] | None = None,
    ) -> OutgoingMail:
        """A status mail to the customer (resolved, closed, the list of their tickets ...)."""
        return self.compose(
            ticket,
            Spec(
                kind=template,
                template=template,
                language=ticket.language,
                to=self._customer(ticket),
                thread=thread,
                cause=cause,
                reply_to=self.reply_address(ticket.number, "customer"),
                auto_submitted="auto-generated",
                extra=extra or {},
            ),
        )

    def agent_reply(
        self,
        ticket: TicketFacts,
        agent: Agent,
        text: str,
        attachments: tuple[MailAttachment, ...],
        thread: Thread,
        cause: str,
        status: str | None,
    ) -> OutgoingMail:
        """An agent's answer, sent to the customer from the support address."""
        name = agent.display_name or agent.name
        return self.compose(
            ticket,
            Spec(
                kind="reply",
                template="reply",
                language=ticket.language,
                to=self._customer(ticket),
                thread=thread,
                cause=cause,
                reply_to=self.reply_address(ticket.number, "customer"),
                auto_submitted=None,
                from_name=f"{name} ({self.support.display_name})",
                extra={
                    "text": text,
                    "agent": {"name": name},
                    "new_status": status or "",
                },
                attachments=attachments,
                rate_limited=False,
            ),
        )

    def agent_notice(
        self,
        ticket: TicketFacts,
        agent: Agent,
        template: str,
        cause: str,
        thread: Thread,
        extra: dict[str, Any],
    ) -> OutgoingMail:
        """A notification to one agent, threaded per ticket; replying to it acts as that agent."""
        reply = self.reply_address(ticket.number, "agent", agent.name)
        note = self.reply_address(ticket.number, "agent", agent.name, "note")
        return self.compose(
            ticket,
            Spec(
                kind=template,
                template=template,
                language=self.support.default_language,
                to=(agent.display_name, agent.address),
                thread=thread,
                cause=f"{cause}/{agent.name}",
                reply_to=reply,
                auto_submitted="auto-generated",
                extra={
                    "agent": {
                        "name": agent.display_name or agent.name,
                        "id": agent.name,
                    },
                    "reply_address": reply,
                    "note_address": note,
                    **extra,
                },
                rate_limited=False,
            ),
        )

    def status_list(
        self, mail: ParsedMail, tickets: list[TicketFacts], language: str
    ) -> OutgoingMail:
        """The answer to a status request: the sender's open tickets."""
        sender = mail.from_
        assert sender is not None
        tag = self.support.subject_tag
        rows = [
            {
                "token": f"[{tag} #{t.number}]",
                "subject": t.subject,
                "status": t.status,
                "tier": t.tier,
            }
            for t in tickets
        ]
        return self.compose(
            None,
            Spec(
                kind="status",
                template="status_list",
                language=language,
                to=(sender.name, sender.key),
                thread=Thread.under(mail),
                cause=mail.message_id,
                reply_to=self.support.sender,
                extra={"tickets": rows},
            ),
        )

    def vendor_forward(
        self,
        ticket: TicketFacts,
        vendor: Agent,
        cause: str,
        thread: Thread,
        extra: dict[str, Any],
    ) -> OutgoingMail:
        """The ticket handed to a vendor (tier 4); their answers come back as notes."""
        return self.compose(
            ticket,
            Spec(
                kind="vendor",
                template="vendor",
                language=self.support.default_language,
                to=(vendor.display_name, vendor.address),
                thread=thread,
                cause=f"{cause}/{vendor.name}",
                reply_to=self.reply_address(ticket.number, "vendor", vendor.name),
                auto_submitted=None,
                extra={"vendor": {"name": vendor.display_name or vendor.name}, **extra},
                rate_limited=False,
            ),
        )

    def compose(self, ticket: TicketFacts | None, spec: Spec) -> OutgoingMail:
        """Render a template (for a ticket, or for none) and assemble the mail."""
        number = ticket.number if ticket else 0
        context = {
            "ticket": ticket.as_template_dict() if ticket else {},
            "token": f"[{self.support.subject_tag} #{number}]" if ticket else "",
            "customer": {"name": spec.to[0], "email": spec.to[1]},
            "support": {
                "name": self.support.display_name,
                "address": self.support.sender,
            },
            **spec.extra,
        }
        rendered = self.templates.render(spec.template, spec.language, context)
        subject = sanitize_header_text(rendered.subject)
        if ticket is not None:
            subject = self._subject_with_token(subject, number)
        message_id = self._message_id(spec.kind, number, spec.cause)
        from_name = sanitize_header_text(
            spec.from_name or self.support.display_name, 120
        )
        thread = spec.thread
        headers = [
            ("From", mailbox(from_name, self.support.sender)),
            ("To", mailbox(sanitize_header_text(spec.to[0], 120), spec.to[1])),
            ("Reply-To", spec.reply_to),
            ("Subject", encode_words(subject)),
            ("Date", format_datetime(datetime.now(UTC))),
            ("Message-ID", f"<{message_id}>"),
        ]
        if thread.in_reply_to:
            headers.append(("In-Reply-To", f"<{thread.in_reply_to}>"))
        if thread.references:
            headers.append(
                ("References", fold(" ".join(f"<{r}>" for r in thread.references)))
            )
        if spec.auto_submitted:
            headers += [
                ("Auto-Submitted", spec.auto_submitted),
                ("X-Auto-Response-Suppress", "All"),
                ("Precedence", "bulk"),
            ]
        headers += [
            ("X-Tierdesk-Loop", self.instance_id),
            ("Content-Language", rendered.language),
        ]
        if ticket is not None:
            headers.append(("X-Tierdesk-Ticket", str(number)))
        files = [(a.filename, a.content_type, a.data) for a in spec.attachments]
        return OutgoingMail(
            kind=spec.kind,
            message_id=message_id,
            mail_from=self.support.sender,
            rcpt_tos=(spec.to[1],),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            in_reply_to=thread.in_reply_to or "",
            references=thread.references,
            raw=build_message(headers, rendered.text, rendered.html, files),
            automatic=spec.rate_limited,
        )

    def _subject_with_token(self, rendered: str, number: int) -> str:
        subject = sanitize_header_text(rendered)
        if parse_subject(subject, self.support.subject_tag).ticket != number:
            subject = format_subject(self.support.subject_tag, number, subject)
        return sanitize_header_text(subject)

    def _message_id(self, kind: str, number: int, cause: str) -> str:
        """Deterministic, so re-processing the same cause can never mint a second mail."""
        digest = hashlib.sha256(cause.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        return f"{kind}.{number}.{digest}@{self.support.message_id_domain}"
