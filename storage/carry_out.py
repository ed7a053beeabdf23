"""Carrying out a plan's ticket side in the caller's transaction: it decides nothing.

The ticket is created (or taken as it is), the message stored, then each
change applied in the plan's order, each with its event. The mails come
after, from the daemon, which renders them against the ticket returned here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tierdesk.parsers.parsed import ParsedMail
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import (
    AddParticipants,
    Change,
    ChangeTags,
    FollowsUp,
    ForgiveBounces,
    MarkBounced,
    MergeInto,
    NewTicket,
    Plan,
    RecordEvent,
    RememberText,
    ScoreBounce,
    SetField,
    SetStatus,
    SetWatchers,
    StopFirstResponseClock,
    Touch,
)
from tierdesk.rules.handling.settings import Limits
from tierdesk.rules.model import SlaPolicy
from tierdesk.storage.bounces import forgive, mark_bounced, remember_text, score_bounce
from tierdesk.storage.changes import (
    change_field,
    change_status,
    change_tags,
    merge,
    record_first_response,
)
from tierdesk.storage.participants import add_participants
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import expect_referred
from tierdesk.storage.tickets import (
    contact_for,
    create_ticket,
    record_event,
    store_incoming,
    ticket_by_id,
    touch,
)
from tierdesk.storage.watchers import set_watchers

# changes after which the ticket is read again, so mails show it as it now is
_RESHAPING = (SetStatus, SetField, MergeInto)


class AlreadyStored(Exception):
    """The message's Message-ID was stored meanwhile (by another daemon): undo the plan."""


def carry_out(
    sql: Sql,
    plan: Plan,
    mail: ParsedMail,
    spool_id: int | None,
    recipients: list[str],
    sla_policies: dict[str, SlaPolicy],
    limits: Limits,
    now: datetime,
) -> TicketFacts | None:
    """Write the plan's ticket, message and changes; returns the ticket as it now is.

    Raises AlreadyStored when the message turns out to be stored already, so
    the caller rolls the whole plan back.
    """
    ticket = plan.ticket
    if isinstance(ticket, NewTicket):
        ticket = create_ticket(sql, ticket, now)
        expect_referred(sql, ticket.id, mail.in_reply_to, mail.references, now)
    if plan.store is not None:
        assert ticket is not None, "a message is stored on a ticket"
        store = plan.store
        if store.remember_sender and mail.from_ is not None:
            contact_for(sql, mail.from_, now)
        kept = mail if store.text is None else replace(mail, text=store.text)
        if (
            store_incoming(sql, ticket.id, kept, store.kind, spool_id, recipients, now)
            is None
        ):
            raise AlreadyStored(mail.message_id)
    for change in plan.changes:
        if not apply_unticketed(sql, change, limits, now):
            assert ticket is not None, f"{type(change).__name__} needs a ticket"
            apply_change(sql, ticket, change, sla_policies, now)
    if ticket is None:
        return None
    if any(isinstance(change, _RESHAPING) for change in plan.changes):
        return ticket_by_id(sql, ticket.id) or ticket
    return ticket


def apply_unticketed(sql: Sql, change: Change, limits: Limits, now: datetime) -> bool:
    """A change about an address or a mail rather than a ticket; False for the others."""
    match change:
        case ScoreBounce(address, hard, diagnostic):
            score_bounce(sql, address, hard, diagnostic, now, limits)
        case MarkBounced(outbox_id, diagnostic):
            mark_bounced(sql, outbox_id, diagnostic, now)
        case ForgiveBounces(address):
            forgive(sql, address)
        case RememberText(address, fingerprint):
            window = timedelta(seconds=limits.repeat_window)
            remember_text(sql, address, fingerprint, now, now - window)
        case _:
            return False
    return True


def apply_change(
    sql: Sql,
    ticket: TicketFacts,
    change: Change,
    sla_policies: dict[str, SlaPolicy],
    now: datetime,
) -> None:
    """One change of a plan, with its event."""
    match change:
        case RecordEvent(actor, kind, detail, on_ticket):
            record_event(
                sql, on_ticket or ticket.id, actor, kind, detail=detail, now=now
            )
        case FollowsUp(old, actor, stranger):
            why = " (written by someone who is not its participant)" if stranger else ""
            record_event(
                sql,
                ticket.id,
                actor,
                "follows_up",
                detail=f"follows up on #{old.number}{why}",
                now=now,
            )
            record_event(
                sql,
                old.id,
                actor,
                "followed_up",
                detail=f"the customer wrote again: new ticket #{ticket.number}",
                now=now,
            )
        case AddParticipants(addresses, role):
            add_participants(sql, ticket.id, addresses, role, now)
        case SetWatchers(add, remove, actor):
            set_watchers(sql, ticket.id, add, remove, actor, now)
        case SetStatus(status, actor, detail):
            change_status(sql, ticket.id, status, actor, sla_policies, now, detail)
        case SetField(field, value, actor, detail):
            change_field(sql, ticket.id, field, value, actor, now, detail)
        case ChangeTags(changes, actor):
            change_tags(sql, ticket.id, changes, actor, now)
        case MergeInto(number, actor):
            merge(sql, ticket.id, ticket.number, number, actor, now)
        case StopFirstResponseClock(actor):
            record_first_response(sql, ticket.id, actor, now)
        case Touch():
            touch(sql, ticket.id, now)
