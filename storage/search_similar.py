"""Similar solved tickets: the resolved or closed tickets most like a new one, and the
first lines of the answer that resolved each (for the new ticket's notice)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tierdesk.storage.search_memo import IndexMemo
from tierdesk.storage.search_query import search
from tierdesk.storage.sql import Sql

SOLVED = ("resolved", "closed")
LOOKUP_TERMS = 12  # the new ticket's first distinct words looked at
# of them, the first 6 found in fewer than 1,000 messages are asked for
RARE = (6, 1000)
SIGNATURE = "--"


@dataclass(frozen=True)
class Similar:
    """A solved ticket like the new one."""

    number: int
    subject: str
    status: str
    solved_at: datetime | None
    answer: list[str]  # the first lines of the last answer before it was resolved


def similar_solved(
    sql: Sql,
    ticket_id: int,
    text: str,
    *,
    limit: int,
    answer_lines: int,
    queues: Collection[str] | None = None,
    not_queues: Collection[str] = (),
    memo: IndexMemo | None = None,
) -> list[Similar]:
    """Up to `limit` solved tickets (other than `ticket_id`) ranked by likeness to `text`,
    in `queues` (None: any) and not in `not_queues`; `memo` as for `search`."""
    hits = search(
        sql,
        text,
        limit=limit,
        statuses=SOLVED,
        queues=queues,
        not_queues=not_queues,
        exclude_ticket=ticket_id,
        any_term=True,
        max_terms=LOOKUP_TERMS,
        rare=RARE,
        snippets=False,
        memo=memo,
    )
    return [
        Similar(
            h.number,
            h.subject,
            h.status,
            h.resolved_at or h.updated_at,
            _answer(sql, h.number, answer_lines),
        )
        for h in hits
    ]


def _answer(sql: Sql, number: int, lines: int) -> list[str]:
    """The first non-blank lines of the last answer an agent sent before the ticket was
    resolved, as the agent wrote it (the sent mail adds a status line and a signature)."""
    row = sql.one(
        "SELECT m.text FROM message m JOIN ticket t ON t.id = m.ticket_id"
        " WHERE t.number = ? AND m.direction = 'in' AND m.kind = 'agent_reply'"
        " AND (t.resolved_at IS NULL OR m.created_at <= t.resolved_at)"
        " ORDER BY m.id DESC LIMIT 1",
        number,
    )
    if row is None:
        return []
    kept = []
    for line in (row[0] or "").splitlines():
        if line.strip() == SIGNATURE or line.startswith("> "):
            break
        if line.strip():
            kept.append(line.rstrip())
        if len(kept) >= lines:
            break
    return kept
