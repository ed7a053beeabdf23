"""Similar solved tickets in the notice of a new ticket (`search.similar_tickets`).

The look-up runs while the new ticket's mails are queued, in its
transaction, once per set of queues its recipients may read. Visibility is
the notices' own: where the new ticket's queue has a group (rules
`queue_groups`), only tickets of that group's queues; otherwise only
tickets of queues without a group, which no restricted agent alone sees. A
vendor (tier 4) never gets other tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tierdesk.daemon.snapshot import Snapshot
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.mails import NO_TEXT
from tierdesk.rules.handling.plan import MailSpec
from tierdesk.rules.model import RuleSet
from tierdesk.storage.clock import to_naive_utc
from tierdesk.storage.search_memo import IndexMemo
from tierdesk.storage.search_similar import Similar, similar_solved
from tierdesk.storage.sql import Sql

NEW_TICKET_NOTICE = "notify_new"
VENDOR_TIER = 4


def readable_queues(
    rules: RuleSet, queue: str
) -> tuple[frozenset[str] | None, frozenset[str]]:
    """The queues whose tickets the agents told about `queue` may read: (only these,
    or None for any; never these)."""
    group = rules.queue_groups.get(queue)
    if group is not None:
        return frozenset(q for q, g in rules.queue_groups.items() if g == group), (
            frozenset()
        )
    return None, frozenset(rules.queue_groups)


def with_similar_tickets(
    sql: Sql,
    snapshot: Snapshot,
    ticket: TicketFacts | None,
    specs: Sequence[MailSpec],
    now: datetime,
    memo: IndexMemo | None = None,
) -> Sequence[MailSpec]:
    """The specs, each new-ticket notice to an agent given `similar` in its context
    (`memo`: how common the index's words are, kept by the pipeline)."""
    wanted = snapshot.config.search.similar_tickets
    if wanted <= 0 or ticket is None:
        return specs
    if not any(spec.kind == NEW_TICKET_NOTICE for spec in specs):
        return specs
    rules = snapshot.rules
    only, never = readable_queues(rules, ticket.queue)
    found: list[dict[str, object]] | None = None
    out = []
    for spec in specs:
        agent = rules.agents.get(spec.reply_as.name) if spec.reply_as else None
        if spec.kind != NEW_TICKET_NOTICE or agent is None or agent.tier >= VENDOR_TIER:
            out.append(spec)
            continue
        if found is None:  # once per ticket: every recipient reads the same queues
            # the notice's placeholder for an empty message is not the customer's words
            body = str(spec.context.get("text", ""))
            text = f"{ticket.subject}\n{'' if body == NO_TEXT else body}"
            found = [
                _row(s, now)
                for s in similar_solved(
                    sql,
                    ticket.id,
                    text,
                    limit=wanted,
                    answer_lines=snapshot.config.search.answer_lines,
                    queues=only,
                    not_queues=never,
                    memo=memo,
                )
            ]
        out.append(replace(spec, context={**spec.context, "similar": found}))
    return out


def _row(similar: Similar, now: datetime) -> dict[str, object]:
    solved = similar.solved_at
    days = max(0, (to_naive_utc(now) - solved).days) if solved else None
    return {
        "number": similar.number,
        "subject": similar.subject,
        "status": similar.status,
        "days_ago": days,
        "answer": similar.answer,
    }
