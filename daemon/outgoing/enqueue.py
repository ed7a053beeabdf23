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
from datetime import datetime, timedelta

from tierdesk.daemon.outgoing.compose import Composer
from tierdesk.daemon.outgoing.templating import TemplateFailure
from tierdesk.rules.guard import over_limit
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import MailSpec, Thread
from tierdesk.rules.handling.settings import Limits
from tierdesk.storage import outbox
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import conversation
from tierdesk.storage.tickets import record_event

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
    """Render each spec and queue it, in order; returns why any could not be sent."""
    failures = []
    for spec in specs:
        last_hour, last_day = outbox.sent_since(
            sql, spec.to.key, spec.limit_class, now - HOUR, now - DAY
        )
        refusal = over_limit(spec.limit_class, spec.to.key, last_hour, last_day, limits)
        if refusal is not None:
            failures.append(refusal)
            if ticket is not None:
                record_event(
                    sql,
                    ticket.id,
                    actor,
                    f"{spec.kind}_skipped",
                    detail=refusal,
                    now=now,
                )
            continue
        thread = spec.thread
        if thread is None:
            assert ticket is not None, "only a ticket has a conversation"
            thread = Thread.of(conversation(sql, ticket.id))
        try:
            mail = composer.compose(ticket, spec, thread, now)
        except TemplateFailure as exc:
            failures.append(str(exc))
            if ticket is not None:
                record_event(
                    sql, ticket.id, actor, spec.if_unrendered, detail=str(exc), now=now
                )
            continue
        outbox.queue(sql, ticket.id if ticket else None, mail, spec.why, now)
    return failures
