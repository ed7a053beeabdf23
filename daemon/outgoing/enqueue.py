"""Rendering a plan's mail specs and putting them in the outbox, in the plan's transaction.

Every mail first passes the per-address limit of its class (counted in the
database, so it holds across restarts and daemons); one over it is skipped
and the ticket's history says so. A spec without a thread of its own goes
under the ticket's conversation as it stands when it is rendered, so a
status mail that follows an agent's answer threads under that answer. A
template that cannot be rendered costs that one mail, never the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from tierdesk.daemon.outgoing.cc_limits import copied_within_limits
from tierdesk.daemon.outgoing.compose import CannotCompose, Composer
from tierdesk.daemon.outgoing.templating import TemplateFailure
from tierdesk.rules.guard import over_limit
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import MailSpec, Thread
from tierdesk.rules.handling.settings import Limits
from tierdesk.storage import outbox
from tierdesk.storage.bounces import suppressed
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import conversation
from tierdesk.storage.tickets import record_event

UNRENDERED = "cannot be composed: "
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def queue_mails(
    sql: Sql,
    composer: Composer,
    ticket: TicketFacts | None,
    specs: Iterable[MailSpec],
    now: datetime,
    limits: Limits,
    actor: str = "system",
) -> list[str]:
    """Render each spec and queue it, in order; returns why any could not be sent.

    A mail that cannot go is an event on the ticket naming the mail, the
    address and why, and where the spec names someone to tell (an agent
    whose answer it was), they get a short note; that note names nobody to
    tell in turn, so a note that cannot go either ends there.
    """
    failures = []
    for spec in specs:
        spec = copied_within_limits(sql, ticket, spec, now, limits, actor)
        problem = _refusal(sql, spec, now, limits) or _queue_one(
            sql, composer, ticket, spec, now
        )
        if problem is None:
            continue
        failures.append(problem)
        if ticket is not None:
            kind = (
                spec.if_unrendered
                if problem.startswith(UNRENDERED)
                else f"{spec.kind}_skipped"
            )
            record_event(sql, ticket.id, actor, kind, detail=problem, now=now)
        if spec.fallback is not None:
            told = replace(
                spec.fallback,
                context={**spec.fallback.context, "reason": problem},
                fallback=None,  # a note that cannot go tells nobody in turn
            )
            queue_mails(sql, composer, ticket, [told], now, limits, actor)
    return failures


def _refusal(sql: Sql, spec: MailSpec, now: datetime, limits: Limits) -> str | None:
    """Why this mail may not go now: a limit, or an address that bounces."""
    address = spec.to.key
    last_hour, last_day = outbox.sent_since(
        sql, address, spec.limit_class, now - HOUR, now - DAY
    )
    over = over_limit(spec.limit_class, address, last_hour, last_day, limits)
    if over is not None or spec.limit_class == "relayed":
        return over  # an agent's own answer still goes to an address that bounced
    return suppressed(sql, address)


def _queue_one(
    sql: Sql,
    composer: Composer,
    ticket: TicketFacts | None,
    spec: MailSpec,
    now: datetime,
) -> str | None:
    """Render and queue one mail with its own VERP envelope sender; the problem, or None."""
    thread = spec.thread
    if thread is None:
        assert ticket is not None, "only a ticket has a conversation"
        thread = Thread.of(conversation(sql, ticket.id))
    try:
        mail = composer.compose(ticket, spec, thread, now)
    except (TemplateFailure, CannotCompose) as exc:
        return f"{UNRENDERED}{spec.kind} to {spec.to.key}: {exc}"
    outbox_id = outbox.queue(sql, ticket.id if ticket else None, mail, spec.why, now)
    if outbox_id is not None:
        outbox.set_envelope_sender(sql, outbox_id, composer.envelope_sender(outbox_id))
    return None
