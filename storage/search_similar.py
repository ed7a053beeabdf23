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
    answers = _answers(sql, [h.number for h in hits], answer_lines)
    return [
        Similar(
            h.number,
            h.subject,
            h.status,
            h.resolved_at or h.updated_at,
            answers[h.number],
        )
        for h in hits
    ]


def _answers(sql: Sql, numbers: list[int], lines: int) -> dict[int, list[str]]:
    """Each ticket's first non-blank lines of the last answer an agent sent before it was
    resolved, as the agent wrote it (the sent mail adds a status line and a signature)."""
    if not numbers:
        return {}
    rows = sql.all(
        "SELECT t.number, m.text FROM message m JOIN ticket t ON t.id = m.ticket_id"
        f" WHERE t.number IN ({', '.join('?' * len(numbers))})"
        " AND m.direction = 'in' AND m.kind = 'agent_reply'"
        " AND (t.resolved_at IS NULL OR m.created_at <= t.resolved_at) ORDER BY m.id",
        *numbers,
    )
    last = {number: text for number, text in rows}  # in id order: the latest stays
    return {number: _first_lines(last.get(number) or "", lines) for number in numbers}


def _first_lines(text: str, lines: int) -> list[str]:
    """Up to `lines` non-blank lines, to the signature or the quoted mail."""
    kept = []
    for line in text.splitlines():
        if line.strip() == SIGNATURE or line.startswith("> "):
            break
        if line.strip():
            kept.append(line.rstrip())
        if len(kept) >= lines:
            break
    return kept
