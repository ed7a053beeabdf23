"""The per-address limits for the customer watchers a mail copies (Cc).

A watcher gets an agent's answer and status mails as Cc on the customer's
mail; each copy counts, with the automatic mail sent to that address, against
the automatic limits (`auto_replies_per_hour`/`_per_day`). So copying a victim
on many requests makes the desk write to them no more often than it would
acknowledge them. An address over its limit, or one that bounces, is left
off that one mail, and the ticket's history says so.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tierdesk.rules.guard import over_limit
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.plan import MailSpec
from tierdesk.rules.handling.settings import Limits
from tierdesk.storage import outbox
from tierdesk.storage.bounces import suppressed
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event
from tierdesk.storage.watchers import copies_since

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def copied_within_limits(
    sql: Sql,
    ticket: TicketFacts | None,
    spec: MailSpec,
    now: datetime,
    limits: Limits,
    actor: str,
) -> MailSpec:
    """The spec with only the Cc addresses that may get one more mail now."""
    if not spec.cc:
        return spec
    kept = []
    for copy in spec.cc:
        problem = cc_refusal(sql, copy.key, now, limits)
        if problem is None:
            kept.append(copy)
        elif ticket is not None:
            detail = f"{copy.key} not copied on the {spec.kind} mail: {problem}"
            record_event(sql, ticket.id, actor, "cc_skipped", detail=detail, now=now)
    return replace(spec, cc=tuple(kept))


def cc_refusal(sql: Sql, address: str, now: datetime, limits: Limits) -> str | None:
    """Why `address` may not be copied on one more mail now, or None."""
    hour, day = outbox.sent_since(sql, address, "automatic", now - HOUR, now - DAY)
    copied_hour, copied_day = copies_since(sql, address, now - HOUR, now - DAY)
    over = over_limit(
        "automatic", address, hour + copied_hour, day + copied_day, limits
    )
    return over or suppressed(sql, address)
