"""Building our outgoing mail: rendered templates plus headers that thread and never loop.

Every automatic mail carries `Auto-Submitted`, `X-Auto-Response-Suppress: All`
and `Precedence: bulk` so that well-behaved robots do not answer it, and
`X-Tierdesk-Loop` so that we recognise it if it comes back. No
customer-controlled text reaches a header with a line break in it. Message-IDs
are derived from what caused the mail, so processing a cause twice can never
mint two different mails.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from daemon.config import SupportConfig
from daemon.mime import build_message, encode_words, fold, mailbox
from daemon.templating import Templates
from parsers.parsed import ParsedMail
from parsers.subject import format_subject, parse_subject
from rules.model import Agent
from storage.outbox import OutgoingMail
from storage.tickets import TicketFacts

_UNSAFE_HEADER_CHARS = re.compile(r"[\r\n\t\x00-\x1f\x7f\u2028\u2029\x85]+")
_MAILBOX = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
MAX_REFERENCES = 10
MAX_SUBJECT_CHARS = 250
EXCERPT_CHARS = 1500


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
        # ids with non-ASCII text (RFC 6532) would need SMTPUTF8 all the way: leave them out
        references = tuple(
            r for r in [*mail.references, mail.message_id] if r.isascii()
        )[-MAX_REFERENCES:]
        return Thread(
            mail.message_id if mail.message_id.isascii() else None, references
        )


class Composer:
    """Renders and assembles our mails for one configuration."""

    def __init__(
        self, support: SupportConfig, templates: Templates, instance_id: str
    ) -> None:
        self.support = support
        self.templates = templates
        self.instance_id = instance_id

    def acknowledgement(
        self,
        ticket: TicketFacts,
        mail: ParsedMail,
        language: str,
        template: str = "ack",
    ) -> OutgoingMail:
        """The acknowledgement of a new ticket, threaded under the customer's mail."""
        message = {"subject": mail.subject, "excerpt": mail.text[:EXCERPT_CHARS]}
        return self._compose(
            kind="ack",
            template=template,
            language=language,
            ticket=ticket,
            to=(ticket.requester_name, ticket.requester_email),
            extra={"message": message},
            thread=Thread.under(mail),
            cause=mail.message_id,
            auto_submitted="auto-replied",
        )

    def customer_status(
        self, ticket: TicketFacts, template: str, cause: str, thread: Thread
    ) -> OutgoingMail:
        """A status mail to the customer (e.g. closed after a quiet week)."""
        return self._compose(
            kind=template,
            template=template,
            language=ticket.language,
            ticket=ticket,
            to=(ticket.requester_name, ticket.requester_email),
            extra={},
            thread=thread,
            cause=cause,
            auto_submitted="auto-generated",
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
        """A notification to one agent (escalation, SLA warning ...), threaded per ticket."""
        mail = self._compose(
            kind=template,
            template=template,
            language=self.support.default_language,
            ticket=ticket,
            to=(agent.display_name, agent.address),
            extra={
                "agent": {"name": agent.display_name or agent.name, "id": agent.name},
                **extra,
            },
            thread=thread,
            cause=f"{cause}/{agent.name}",
            auto_submitted="auto-generated",
        )
        return _not_rate_limited(mail)

    def _compose(
        self,
        *,
        kind: str,
        template: str,
        language: str,
        ticket: TicketFacts,
        to: tuple[str, str],
        extra: dict[str, Any],
        thread: Thread,
        cause: str,
        auto_submitted: str,
    ) -> OutgoingMail:
        token = f"[{self.support.subject_tag} #{ticket.number}]"
        context = {
            "ticket": ticket.as_template_dict(),
            "token": token,
            "customer": {
                "name": ticket.requester_name,
                "email": ticket.requester_email,
            },
            "support": {
                "name": self.support.display_name,
                "address": self.support.sender,
            },
            **extra,
        }
        rendered = self.templates.render(template, language, context)
        subject = self._subject_with_token(rendered.subject, ticket.number)
        message_id = self._message_id(kind, ticket.number, cause)
        headers = [
            (
                "From",
                mailbox(
                    sanitize_header_text(self.support.display_name, 120),
                    self.support.sender,
                ),
            ),
            ("To", mailbox(sanitize_header_text(to[0], 120), to[1])),
            ("Subject", encode_words(subject)),
            ("Date", format_datetime(datetime.now(UTC))),
            ("Message-ID", f"<{message_id}>"),
            *(
                [("In-Reply-To", f"<{thread.in_reply_to}>")]
                if thread.in_reply_to
                else []
            ),
            *(
                [("References", fold(" ".join(f"<{r}>" for r in thread.references)))]
                if thread.references
                else []
            ),
            ("Auto-Submitted", auto_submitted),
            ("X-Auto-Response-Suppress", "All"),
            ("Precedence", "bulk"),
            ("X-Tierdesk-Loop", self.instance_id),
            ("X-Tierdesk-Ticket", str(ticket.number)),
            ("Content-Language", rendered.language),
        ]
        return OutgoingMail(
            kind=kind,
            message_id=message_id,
            mail_from=self.support.sender,
            rcpt_tos=(to[1],),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            in_reply_to=thread.in_reply_to or "",
            references=thread.references,
            raw=build_message(headers, rendered.text, rendered.html),
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


def _not_rate_limited(mail: OutgoingMail) -> OutgoingMail:
    """Notices to our own agents are not auto-replies to strangers: no per-address cap."""
    return replace(mail, automatic=False)
