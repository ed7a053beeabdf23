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
The recipient goes out as the mail system carries it (parsers/idn.py): the
domain in IDNA A-labels, a UTF-8 local part as it is, in a mail that only
an SMTPUTF8 relay will take; an address that cannot be written at all is
CannotCompose, never an exception that would cost the message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date, datetime
from email.utils import format_datetime

from tierdesk.daemon.config import SupportConfig
from tierdesk.daemon.outgoing.mime import build_message, encode_words, fold, mailbox
from tierdesk.daemon.outgoing.templating import Templates
from tierdesk.parsers.bounce_address import verp_address
from tierdesk.parsers.idn import UnwritableAddress, wire_address
from tierdesk.parsers.reply_address import CUSTOMER, SigningKey, sign
from tierdesk.parsers.subject import format_subject, parse_subject
from tierdesk.rules.handling.echo import NAME_CHARS, SUBJECT_CHARS, safe_echo
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import MailSpec, ReplyAs, Thread
from tierdesk.storage.outbox import OutgoingMail

_UNSAFE_HEADER_CHARS = re.compile(r"[\r\n\t\x00-\x1f\x7f\u2028\u2029\x85]+")
MAX_SUBJECT_CHARS = 250
MAX_NAME_CHARS = 120


def sanitize_header_text(value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """One safe header line: control characters and line breaks become spaces."""
    return " ".join(_UNSAFE_HEADER_CHARS.sub(" ", value).split())[:limit]


class CannotCompose(Exception):
    """A mail that renders but cannot be put together (an address we cannot write)."""


def _recipient(address: str) -> tuple[str, bool]:
    """The recipient as we write it, and whether that takes SMTPUTF8; or CannotCompose."""
    try:
        wire = wire_address(address)
    except UnwritableAddress as exc:
        raise CannotCompose(str(exc)) from exc
    return wire.address, wire.smtputf8


def _copies(spec: MailSpec, recipient: str) -> tuple[list[str], bool]:
    """The spec's Cc addresses as we write them (any we cannot write left off),
    and whether one takes SMTPUTF8."""
    written, utf8 = [], False
    for copy in spec.cc:
        try:
            address, needs = _recipient(copy.key)
        except CannotCompose:
            continue
        if address != recipient and address not in written:
            written.append(address)
            utf8 = utf8 or needs
    return written, utf8


class Composer:
    """Renders and assembles our mails for one configuration."""

    def __init__(
        self,
        support: SupportConfig,
        templates: Templates,
        instance_id: str,
        key: SigningKey,
    ) -> None:
        self.support = support
        self.templates = templates
        self.instance_id = instance_id
        self.key = key

    def reply_address(
        self,
        ticket: int,
        role: str,
        name: str,
        mode: str,
        issued: date,
    ) -> str:
        """The signed address a reply to this mail should go to."""
        return sign(self.support.sender, self.key, ticket, role, name, mode, issued)

    def envelope_sender(self, outbox_id: int) -> str:
        """The VERP envelope sender of one outbox row: its bounce comes back to it."""
        return verp_address(self.support.sender, self.key, outbox_id)

    def compose(
        self,
        ticket: TicketFacts | None,
        spec: MailSpec,
        thread: Thread,
        now: datetime,
    ) -> OutgoingMail:
        """Render a spec's template (for a ticket, or for none) and assemble the mail.

        Raises TemplateFailure or CannotCompose; nothing else for any recipient.
        """
        recipient, smtputf8 = _recipient(spec.to.key)
        number = ticket.number if ticket else 0
        if spec.echo_safe and ticket is not None:
            ticket = replace(ticket, subject=safe_echo(ticket.subject, SUBJECT_CHARS))
        rendered = self.templates.render(
            spec.template,
            spec.language
            or (ticket.language if ticket else "")
            or self.support.default_language,
            self._context(ticket, spec, now.date()),
        )
        subject = sanitize_header_text(rendered.subject)
        if ticket is not None:
            subject = self._subject_with_token(subject, number)
        message_id = self._message_id(spec.kind, number, spec.cause)
        from_name = self.support.display_name
        if spec.from_name:
            from_name = f"{spec.from_name} ({from_name})"
        reply_to = self.support.sender
        if spec.reply_as is not None and ticket is not None:
            reply_to = self._signed(number, spec.reply_as, now.date())
        to_name = (
            safe_echo(spec.to.name, NAME_CHARS) if spec.echo_safe else spec.to.name
        )
        copies, copies_utf8 = _copies(spec, recipient)
        smtputf8 = smtputf8 or copies_utf8
        headers = [
            (
                "From",
                mailbox(
                    sanitize_header_text(from_name, MAX_NAME_CHARS), self.support.sender
                ),
            ),
            ("To", mailbox(sanitize_header_text(to_name, MAX_NAME_CHARS), recipient)),
            ("Reply-To", reply_to),
            ("Subject", encode_words(subject)),
            ("Date", format_datetime(now)),
            ("Message-ID", f"<{message_id}>"),
        ]
        if copies:  # the ticket's customer watchers: reply-all keeps them in
            headers.insert(2, ("Cc", fold(", ".join(copies))))
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
        try:
            raw = build_message(headers, rendered.text, rendered.html, files, smtputf8)
        except UnicodeEncodeError as exc:
            # only our own configuration can put other non-ASCII text in a header
            raise CannotCompose(
                f"a header would not be ASCII ({exc.object[exc.start : exc.end]!r}):"
                " write the support address and Message-ID domain in ASCII (xn--) form"
            ) from exc
        return OutgoingMail(
            kind=spec.kind,
            message_id=message_id,
            mail_from=self.support.sender,
            rcpt_tos=(recipient, *copies),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            in_reply_to=thread.in_reply_to or "",
            references=thread.references,
            raw=raw,
            limit_class=spec.limit_class,
            author=spec.author,
        )

    def _context(
        self, ticket: TicketFacts | None, spec: MailSpec, today: date
    ) -> dict[str, object]:
        """Template variables: the ticket and its customer, the recipient, us, the spec's own."""
        recipient = {"name": spec.to.name, "email": spec.to.key}
        context: dict[str, object] = {
            "ticket": ticket.as_template_dict() if ticket else {},
            "token": f"[{self.support.subject_tag} #{ticket.number}]" if ticket else "",
            # the ticket's requester, whoever the mail is to (the ack overrides
            # it with the name the customer just wrote with)
            "customer": (
                {"name": ticket.requester_name, "email": ticket.requester_email}
                if ticket
                else recipient
            ),
            "recipient": recipient,
            "support": {
                "name": self.support.display_name,
                "address": self.support.sender,
            },
        }
        reply_as = spec.reply_as
        if ticket is not None and reply_as is not None and reply_as.role == "agent":
            context["reply_address"] = self._signed(ticket.number, reply_as, today)
            note = ReplyAs(reply_as.role, reply_as.name, "note")
            context["note_address"] = self._signed(ticket.number, note, today)
        context |= dict(spec.context)
        if spec.echo_safe:
            for name in ("customer", "recipient"):
                person = dict(context[name])  # type: ignore[call-overload]
                person["name"] = safe_echo(str(person.get("name", "")), NAME_CHARS)
                context[name] = person
            if isinstance(context.get("message"), dict):
                message = dict(context["message"])  # type: ignore[arg-type]
                message["subject"] = safe_echo(str(message["subject"]), SUBJECT_CHARS)
                context["message"] = message
        return context

    def _signed(self, number: int, reply_as: ReplyAs, today: date) -> str:
        name = reply_as.name or CUSTOMER
        return self.reply_address(number, reply_as.role, name, reply_as.mode, today)

    def _subject_with_token(self, rendered: str, number: int) -> str:
        subject = sanitize_header_text(rendered)
        if parse_subject(subject, self.support.subject_tag).ticket != number:
            subject = format_subject(self.support.subject_tag, number, subject)
        return sanitize_header_text(subject)

    def _message_id(self, kind: str, number: int, cause: str) -> str:
        """Deterministic, so re-processing the same cause can never mint a second mail."""
        digest = hashlib.sha256(cause.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        return f"{kind}.{number}.{digest}@{self.support.message_id_domain}"
