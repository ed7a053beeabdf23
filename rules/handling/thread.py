"""The thread stage's policies: which ticket a message really joins, and whether it is routed.

Threading by token, headers or signed address only says which ticket a mail
*names*. Whether it may join it depends on who wrote it (a participant, or
a stranger holding a token) and on how long ago the ticket was resolved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tierdesk.parsers.classify import is_own_address
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.parsers.subject import is_status_request
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import Inbound, ThreadMatch, TicketFacts
from tierdesk.rules.handling.settings import Settings

CLOSED_STATUSES = ("resolved", "closed")
# Where anyone can have an address, a shared domain says nothing about a colleague.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "rambler.ru",
        "qq.com",
        "163.com",
        "126.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "t-online.de",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
    }
)


def too_late_to_reopen(
    msg: Inbound,
    match: ThreadMatch,
    resolved_at: datetime | None,
    now: datetime,
    settings: Settings,
) -> ThreadMatch:
    """A person's reply to a ticket resolved before the reopen window opens a new ticket."""
    ticket = match.ticket
    if (
        ticket is None
        or match.duplicate
        or not msg.classification.is_person
        or ticket.status not in CLOSED_STATUSES
        or resolved_at is None
        or resolved_at >= now - timedelta(seconds=settings.reopen_within)
    ):
        return match
    return ThreadMatch(None, match.via, follows=ticket)


def is_participant(
    sender: str, ticket: TicketFacts, participants: frozenset[str], settings: Settings
) -> bool:
    """The requester, someone copied on the ticket, its agents and vendor (and, if so
    configured, anyone at the requester's domain)."""
    key = address_key(sender)
    if key in participants or key == address_key(ticket.requester_email):
        return True
    domain = key.rpartition("@")[2]
    return (
        settings.participants_domain
        and domain not in PUBLIC_MAIL_DOMAINS
        and domain == address_key(ticket.requester_email).rpartition("@")[2]
    )


def strangers_stay_out(
    msg: Inbound, match: ThreadMatch, participants: frozenset[str], settings: Settings
) -> ThreadMatch:
    """A person who is not a participant does not join the ticket they name.

    With the default policy their mail opens a new ticket that refers to the
    one it named; `hold` and `append` keep the match, marked, for the plan.
    """
    ticket = match.ticket
    if (
        ticket is None
        or match.duplicate
        or not msg.classification.is_person
        or not msg.sender
        or is_participant(msg.sender, ticket, participants, settings)
    ):
        return match
    if settings.strangers == "new_ticket":
        return ThreadMatch(None, match.via, follows=ticket, stranger=True)
    return ThreadMatch(ticket, match.via, stranger=True)


def is_a_status_request(msg: Inbound, match: ThreadMatch, settings: Settings) -> bool:
    """A person's new mail whose subject (or first line) is just a status word."""
    return (
        msg.classification.is_person
        and match.ticket is None
        and not match.duplicate
        and is_status_request(msg.mail.subject, msg.mail.text, settings.status_words)
    )


def needs_routing(msg: Inbound, match: ThreadMatch, settings: Settings) -> bool:
    """Only a message that would open a ticket is routed; a reply joins its ticket as it is."""
    return (
        match.ticket is None
        and msg.classification.may_open_ticket
        and not is_a_status_request(msg, match, settings)
    )


def copied(mail: ParsedMail, settings: Settings) -> tuple[str, ...]:
    """The people a mail was also sent to (To and Cc, not us, not its author)."""
    author = address_key(mail.from_.key) if mail.from_ else ""
    keys = {
        address_key(a.key)
        for a in (*mail.to, *mail.cc)
        if a.key and "@" in a.key and not is_own_address(a.key, settings.own_addresses)
    }
    return tuple(sorted(keys - {author}))
