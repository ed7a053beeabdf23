"""What is a fact about a mail, and what is only the sender's word.

Every header is written by the sender. Facts are: the envelope our own
MTA hands us (SMTP/LMTP, `inject --sender/--recipient`, or over IMAP the
topmost copy of a delivery header the site names as trusted), our own
signatures, and an Authentication-Results header from the authserv-id the
site trusts. This module turns those into an `Envelope` and answers the
questions built on them: is the sender's address verified, and may a
signed address still act.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta

from tierdesk.parsers.authres import sender_domain_passes, trusted_results
from tierdesk.parsers.classify import bare_address
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.parsers.reply_address import ReplyTarget
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import Envelope
from tierdesk.rules.handling.settings import IntakeTrust, Settings


def envelope_of(
    mail: ParsedMail,
    mail_from: str | None,
    rcpt_tos: tuple[str, ...],
    from_imap: bool,
    trust: IntakeTrust,
) -> Envelope:
    """The envelope a message arrived with, as far as it can be believed."""
    authentication = trusted_results(mail, trust.authserv_id)
    if not from_imap:
        return Envelope(mail_from, rcpt_tos, authentication)
    recipients: tuple[str, ...] = ()
    if trust.delivery_header:
        # the MTA adds its copy on top; copies below it came with the message
        values = mail.trace_values(trust.delivery_header)
        if values and bare_address(values[0]):
            recipients = (bare_address(values[0]),)
    sender = None
    if trust.trust_return_path:
        paths = mail.trace_values("return-path")
        if paths:
            sender = bare_address(paths[0])
    return Envelope(sender, recipients, authentication)


def sender_verification(
    mail: ParsedMail, envelope: Envelope, settings: Settings
) -> str | None:
    """How the From address is known to be the sender's, or None when it is not.

    Automatic mail to an unverified From would be backscatter: anyone can
    write a victim's address there.
    """
    if mail.from_ is None or not mail.from_.key:
        return None
    sender = mail.from_.key
    if envelope.sender and address_key(envelope.sender) == address_key(sender):
        return "the envelope sender is the From address"
    if envelope.sender and any(
        fnmatch.fnmatchcase(envelope.sender.lower(), pattern.lower())
        for pattern in settings.trusted_envelope_senders
    ):
        return f"the envelope sender {envelope.sender} is a trusted relay"
    method = sender_domain_passes(envelope.authentication, sender.rpartition("@")[2])
    if method is not None and envelope.authentication is not None:
        return f"{envelope.authentication.authserv_id} says {method}=pass"
    return None


def unverified_reason(mail: ParsedMail, envelope: Envelope) -> str:
    """Why the From address is not verified, for the ticket's history."""
    sender = mail.from_.key if mail.from_ else ""
    if envelope.sender is None:
        seen = "no envelope sender is known"
    else:
        seen = f"the envelope sender {envelope.sender or '<>'} differs"
    return f"the sender {sender or '(none)'} is not verified: {seen}, and no trusted DMARC/SPF pass"


def signed_address_problem(
    target: ReplyTarget, now: datetime, settings: Settings
) -> str | None:
    """Why a signed address may no longer act (too old, or its key retired), or None."""
    if target.issued is None:
        return "an old signed address without a date; answer from a newer notice"
    expires = target.issued + timedelta(seconds=settings.reply_address_max_age)
    if now.date() > expires:
        return f"the signed address expired on {expires.isoformat()}; answer from a newer notice"
    key = target.key
    if key is not None and key.retired_at is not None:
        ends = key.retired_at + timedelta(seconds=settings.key_grace)
        if now > ends:
            return f"the signed address's key {key.id} was retired; answer from a newer notice"
    return None
