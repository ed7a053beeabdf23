"""Rendering a plan's mail specs and putting them in the outbox, in the plan's transaction.

A spec without a thread of its own goes under the ticket's conversation as
it stands when it is rendered, so a status mail that follows an agent's
answer threads under that answer. A template that cannot be rendered costs
that one mail, never the message: the ticket's history says what failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tierdesk.daemon.outgoing.compose import Composer
from tierdesk.daemon.outgoing.templating import TemplateFailure
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import MailSpec, Thread
from tierdesk.storage import outbox
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import conversation
from tierdesk.storage.tickets import record_event


def queue_mails(
    sql: Sql,
    composer: Composer,
    ticket: TicketFacts | None,
    specs: Iterable[MailSpec],
    now: datetime,
    actor: str = "system",
) -> list[str]:
    """Render each spec and queue it, in order; returns why any could not be rendered."""
    failures = []
    for spec in specs:
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
