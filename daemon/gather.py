"""The thread stage: which ticket a message belongs to, and everything else its plan depends on.

This is where handling's questions meet the database. Each party needs
different facts: an agent's mail its ticket, the tickets its commands name
and what we told the agents; a customer's mail its thread, the ticket's
participants and how recently the sender opened tickets; a bounce the mails
it is about. The thread-stage policies (reopen window, strangers, robots
that repeat themselves) run here too, as soon as their facts are known.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tierdesk.daemon.search_mail import with_search_hits
from tierdesk.parsers.quotes import text_fingerprint
from tierdesk.rules.handling.agent import tickets_named_by
from tierdesk.rules.handling.bounces import (
    repeated_text_is_a_robot,
    sent_to_a_bounce_address,
)
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Customer,
    Facts,
    Inbound,
    Party,
    ThreadMatch,
    UnsignedAgent,
)
from tierdesk.rules.handling.files import wants_files
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.thread import (
    copied,
    is_a_status_request,
    strangers_stay_out,
    too_late_to_reopen,
)
from tierdesk.storage.bounces import latest_sent_to, sent_mail, times_written
from tierdesk.storage.files import ticket_files
from tierdesk.storage.participants import participants_of
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import (
    find_duplicate,
    find_thread,
    last_customer_text,
    notice_texts,
    open_tickets_of,
    recent_tickets_of,
    resolved_at,
    thread_by_signature,
)
from tierdesk.storage.tickets import ticket_by_number
from tierdesk.storage.watchers import bounced_copy, bouncing_among, watchers_of

HOUR = timedelta(hours=1)
BOUNCE_LOOKBACK = timedelta(days=30)  # a bounce without VERP is about a recent mail


def gather(
    sql: Sql, msg: Inbound, party: Party, settings: Settings, now: datetime
) -> tuple[Inbound, Facts]:
    """The facts of one message (and the message, reclassified if it is a repeating robot)."""
    if msg.bounce is not None:
        return msg, _bounce_facts(sql, msg, settings, now)
    text = ""
    if msg.sender:  # a ParsedMail made elsewhere than parse_mail has none yet
        text = msg.mail.text_fingerprint or text_fingerprint(msg.mail.text)
    repeats = 0
    if text:
        window = now - timedelta(seconds=settings.limits.repeat_window)
        repeats = times_written(sql, msg.sender, text, window)
        msg = repeated_text_is_a_robot(msg, repeats, settings)
    if isinstance(party, ClaimedAgent):
        facts = _agent_facts(sql, msg, party)
    else:
        facts = _customer_facts(sql, msg, party, settings, now)
    ticket = facts.match.ticket
    if ticket is not None and wants_files(msg, party, settings):
        facts = replace(facts, ticket_files=ticket_files(sql, ticket.id))
    if isinstance(party, Customer) and (copies := copied(msg.mail, settings)):
        facts = replace(facts, bouncing=bouncing_among(sql, copies))
    facts = with_search_hits(sql, msg, party, settings, facts)
    return msg, replace(facts, repeats=repeats, fingerprint=text)


def _agent_facts(sql: Sql, msg: Inbound, party: ClaimedAgent) -> Facts:
    """An agent's or vendor's mail: its ticket by the signed number, and what it refers to."""
    ticket = ticket_by_number(sql, party.target.ticket)
    named = {n: ticket_by_number(sql, n) for n in tickets_named_by(msg)}
    duplicate = find_duplicate(sql, msg.mail.message_id)
    return Facts(
        match=ThreadMatch(ticket, "signed address", duplicate=duplicate),
        named_tickets={n: t for n, t in named.items() if t is not None},
        last_customer_text=last_customer_text(sql, ticket.id) if ticket else "",
        sent_notices=notice_texts(sql, ticket.id) if ticket else (),
        cc_watchers=watchers_of(sql, ticket.id) if ticket else (),
    )


def _thread_of(sql: Sql, msg: Inbound, party: Party) -> ThreadMatch:
    """The ticket a message names: by a signed customer address, token or headers."""
    mail = msg.mail
    signed = party.signed_ticket if isinstance(party, Customer) else None
    if signed is not None and not find_duplicate(sql, mail.message_id):
        return thread_by_signature(sql, signed)
    return find_thread(
        sql, mail.message_id, msg.subject.ticket, mail.in_reply_to, mail.references
    )


def _customer_facts(
    sql: Sql, msg: Inbound, party: Party, settings: Settings, now: datetime
) -> Facts:
    """Anyone else's mail: its thread (after the reopen and stranger policies)."""
    match = _thread_of(sql, msg, party)
    if isinstance(party, UnsignedAgent):
        return Facts(match=match)
    when_resolved = resolved_at(sql, match.ticket) if match.ticket else None
    match = too_late_to_reopen(msg, match, when_resolved, now, settings)
    participants = (
        participants_of(sql, match.ticket.id) if match.ticket else frozenset()
    )
    match = strangers_stay_out(msg, match, participants, settings)
    if match.ticket is not None or match.duplicate or not msg.sender:
        return Facts(match=match, participants=participants)
    # it may open a ticket, or ask for the list of the sender's tickets
    opened, latest = recent_tickets_of(
        sql, msg.sender, now - HOUR, settings.limits.new_tickets_per_hour
    )
    asks = is_a_status_request(msg, match, settings)
    return Facts(
        match=match,
        open_tickets=tuple(open_tickets_of(sql, msg.sender)) if asks else (),
        tickets_opened_last_hour=opened,
        latest_ticket=latest,
    )


def _bounce_facts(sql: Sql, msg: Inbound, settings: Settings, now: datetime) -> Facts:
    """A bounce: the mails of ours it is about (by VERP, else by the addresses it reports).

    One that came to a VERP address of ours that does not verify is about none:
    otherwise a forged signature would count against the addresses it names.
    """
    assert msg.bounce is not None
    if msg.verp is not None:
        failed = (*msg.bounce.permanent, *msg.bounce.temporary)
        found = [bounced_copy(sql, sent_mail(sql, msg.verp), failed)]
    elif sent_to_a_bounce_address(msg.mail, msg.envelope, settings.own_addresses):
        found = []
    else:
        failed = (*msg.bounce.permanent, *msg.bounce.temporary)
        found = [latest_sent_to(sql, a, now - BOUNCE_LOOKBACK) for a in failed]
    return Facts(
        match=_thread_of(sql, msg, Customer()),
        bounced=tuple(sent for sent in found if sent is not None),
    )
