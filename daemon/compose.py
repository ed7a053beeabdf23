"""Building our outgoing mail: rendered templates plus headers that thread and never loop.

Every automatic mail carries `Auto-Submitted: auto-replied`,
`X-Auto-Response-Suppress: All` and `Precedence: bulk` so that well-behaved
robots do not answer it, and `X-Tierdesk-Loop` so that we recognise it if it
comes back. No customer-controlled text reaches a header with a line break in it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime

from daemon.config import SupportConfig
from daemon.mime import build_message, encode_words, fold, mailbox
from daemon.templating import Templates
from parsers.parsed import ParsedMail
from parsers.subject import format_subject, parse_subject
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


class Composer:
    """Renders and assembles our mails for one configuration."""

    def __init__(
        self, support: SupportConfig, templates: Templates, instance_id: str
    ) -> None:
        self.support = support
        self.templates = templates
        self.instance_id = instance_id

    def acknowledgement(
        self, ticket: TicketFacts, mail: ParsedMail, language: str
    ) -> OutgoingMail:
        """The acknowledgement of a new ticket, threaded under the customer's mail."""
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
            "message": {"subject": mail.subject, "excerpt": mail.text[:EXCERPT_CHARS]},
        }
        rendered = self.templates.render("ack", language, context)
        subject = self._subject_with_token(rendered.subject, ticket.number)
        # ids with non-ASCII text (RFC 6532) would need SMTPUTF8 all the way: leave them out
        references = tuple(
            r for r in [*mail.references, mail.message_id] if r.isascii()
        )[-MAX_REFERENCES:]
        message_id = self._message_id("ack", ticket.number, mail.message_id)
        raw = self._assemble(
            message_id=message_id,
            to=(ticket.requester_name, ticket.requester_email),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            in_reply_to=mail.message_id,
            references=references,
            language=rendered.language,
            ticket_number=ticket.number,
        )
        return OutgoingMail(
            kind="ack",
            message_id=message_id,
            mail_from=self.support.sender,
            rcpt_tos=(ticket.requester_email,),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            in_reply_to=mail.message_id,
            references=references,
            raw=raw,
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

    def _assemble(
        self,
        *,
        message_id: str,
        to: tuple[str, str],
        subject: str,
        text: str,
        html: str | None,
        in_reply_to: str,
        references: tuple[str, ...],
        language: str,
        ticket_number: int,
    ) -> bytes:
        support = self.support
        headers = [
            (
                "From",
                mailbox(
                    sanitize_header_text(support.display_name, 120), support.sender
                ),
            ),
            ("To", mailbox(sanitize_header_text(to[0], 120), to[1])),
            ("Subject", encode_words(subject)),
            ("Date", format_datetime(datetime.now(UTC))),
            ("Message-ID", f"<{message_id}>"),
            *([("In-Reply-To", f"<{in_reply_to}>")] if in_reply_to.isascii() else []),
            *(
                [("References", fold(" ".join(f"<{r}>" for r in references)))]
                if references
                else []
            ),
            ("Auto-Submitted", "auto-replied"),
            ("X-Auto-Response-Suppress", "All"),
            ("Precedence", "bulk"),
            ("X-Tierdesk-Loop", self.instance_id),
            ("X-Tierdesk-Ticket", str(ticket_number)),
            ("Content-Language", language),
        ]
        return build_message(headers, text, html)
