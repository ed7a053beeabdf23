"""Searching the full-text index: ranked tickets with a snippet, and similar solved tickets.

SQLite ranks with bm25 over the stems (the subject weighs more than the
text); PostgreSQL with ts_rank over the document (subject weight A), and a
look-up by likeness by the words' inverse document frequency
(storage/search_pg.py). Both
give one row per ticket, its best message, and a snippet cut in Python from
that message's original text around the words that matched.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tierdesk.parsers.stemming import (
    is_prefix_term,
    query_terms,
    snippet,
)
from tierdesk.storage.search import TABLE
from tierdesk.storage.search_memo import IndexMemo, remembered
from tierdesk.storage.search_pg import (
    Lexemes,
    pg_common_words,
    pg_element_counts,
    pg_lexemes,
    pg_likeness,
    pg_tsquery,
    pg_words,
)
from tierdesk.storage.sql import Sql

CANDIDATES_PER_RESULT = 20  # best messages read per ticket wanted, before grouping
# a word in one stored message in 20 says little of which ticket is like another; on a
# young desk, where `cap` is out of reach, it would also make every look-up rank most
# of the history (PostgreSQL's ts_rank: 6 us a message)
COMMON_SHARE = 0.05
COMMON_FLOOR = (
    20  # never common in fewer messages: a new desk's look-ups use every word
)
RARE_CANDIDATES = (
    200  # a look-up by likeness joins and filters only these best messages
)


@dataclass(frozen=True)
class Hit:
    """One ticket found: its best-matching message and a snippet of it."""

    number: int
    subject: str
    status: str
    queue: str
    tier: int
    updated_at: datetime
    resolved_at: datetime | None
    message_id: int
    score: float
    snippet: str


def _stamp(value: object) -> datetime | None:
    """A timestamp column as a datetime (SQLite hands back text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value  # type: ignore[return-value]


def _fts_match(terms: list[str], any_term: bool) -> str:
    """An FTS5 MATCH expression: every term quoted (raw text is FTS5 syntax); a search
    also matches longer stems, a look-up by likeness only the stems themselves."""
    if any_term:
        return " OR ".join(f'"{t}"' for t in terms)
    return " ".join(f'"{t}"' + ("*" if is_prefix_term(t) else "") for t in terms)


def common_bar(cap: int, stored: float) -> int:
    """In how many messages a word is common: `cap`, or on a smaller desk one stored
    message in COMMON_SHARE (never fewer than COMMON_FLOOR)."""
    return max(1, min(cap, max(COMMON_FLOOR, int(COMMON_SHARE * stored))))


def _stored_messages(sql: Sql) -> int:
    """About how many messages are stored (the newest id: cheap, and close enough)."""
    return sql.scalar("SELECT max(id) FROM message") or 0


def _postings(sql: Sql, term: str, cap: int) -> int:
    """In how many indexed messages `term` occurs, counted up to `cap` (cheap: it stops)."""
    if sql.sqlite:
        return sql.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE {TABLE} MATCH ? LIMIT ?)",
            f'"{term}"',
            cap,
        )
    return sql.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE document @@"
        " (to_tsquery('english', ?) || to_tsquery('russian', ?)) LIMIT ?) s",
        term,
        term,
        cap,
    )


def rare_terms(
    sql: Sql,
    terms: list[str],
    keep: int,
    cap: int,
    memo: IndexMemo | None = None,
    lexemes: Lexemes | None = None,
) -> list[str]:
    """The first `keep` of `terms` (in their order: the subject's come first) that
    are not common: in fewer than `cap` messages, and on a small desk in fewer
    than one in COMMON_SHARE (`common_bar`; counts kept a while in `memo`, if given).
    On PostgreSQL `terms` are words; `lexemes` theirs, if already looked up.

    Ranking costs one score per message that holds any term, so a word in
    most tickets (a desk's "printer") would make every look-up read the
    whole history; left out, a look-up costs at most keep x cap scores
    however large the history grows. bm25 and the IDF sum weigh the rest.
    """
    bar = _bar(sql, cap, memo)
    common = None
    if not sql.sqlite and (counted := pg_element_counts(sql, memo)) is not None:
        if lexemes is None:
            lexemes = pg_lexemes(sql, terms, memo)
        common = pg_common_words(terms, lexemes, counted[0], bar)
    kept: list[str] = []
    for term in terms:
        if common is not None:
            rare = term not in common
        else:
            key = ("postings", term, bar)
            rare = remembered(memo, key, lambda t=term: _postings(sql, t, bar)) < bar
        if rare:
            kept.append(term)
            if len(kept) >= keep:
                break
    return kept


def _bar(sql: Sql, cap: int, memo: IndexMemo | None) -> int:
    """In how many messages a word is common on this desk (`common_bar`)."""
    return common_bar(cap, remembered(memo, ("stored",), lambda: _stored_messages(sql)))


def _ranked(
    sql: Sql, words: list[str], any_term: bool, shortlist: bool
) -> tuple[str, list[object]]:
    """The engine's own ranking of the messages matching `words` as (id, score),
    lowest score first (with `shortlist`, only the RARE_CANDIDATES best)."""
    limit = f" LIMIT {RARE_CANDIDATES}" if shortlist else ""
    if sql.sqlite:
        best = (
            f"SELECT rowid AS id, bm25({TABLE}, 4.0, 1.0) AS score FROM {TABLE}"
            f" WHERE {TABLE} MATCH ? ORDER BY score{limit}"
        )
        return best, [_fts_match(words, any_term)]
    tsquery = pg_tsquery(words, any_term)
    best = (
        "SELECT s.message_id AS id, -ts_rank(s.document, q.q) AS score FROM"
        " (SELECT to_tsquery('english', ?) || to_tsquery('russian', ?) AS q) q,"
        f" {TABLE} s WHERE s.document @@ q.q ORDER BY score{limit}"
    )
    return best, [tsquery, tsquery]


def search(
    sql: Sql,
    query: str,
    *,
    limit: int = 20,
    statuses: Collection[str] = (),
    queues: Collection[str] | None = None,
    not_queues: Collection[str] = (),
    exclude_ticket: int | None = None,
    any_term: bool = False,
    max_terms: int = 12,
    rare: tuple[int, int] | None = None,
    snippets: bool = True,
    memo: IndexMemo | None = None,
) -> list[Hit]:
    """Tickets whose messages match `query`, best first, one row per ticket.

    Every word must match unless `any_term` (similar tickets: any, ranked).
    `rare` (keep, cap): ask only for the rarest words (`rare_terms`); without
    `snippets` the hits' snippets are empty (cutting one reads the whole text).
    `queues` None means every queue (less `not_queues`); merged tickets are left out;
    `memo` keeps how common words are for a while (storage/search_memo.py).
    """
    terms = query_terms(query, max_terms)
    words = terms if sql.sqlite else pg_words(query, max_terms)
    lexemes = None
    if rare is not None:
        lexemes = None if sql.sqlite else pg_lexemes(sql, words, memo)
        words = rare_terms(sql, words, *rare, memo, lexemes)
        terms = words if sql.sqlite else query_terms(" ".join(words), max_terms)
    if not terms or not words:
        return []
    where, params = ["t.merged_into IS NULL"], []
    if statuses:
        where.append(f"t.status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    if queues is not None:
        if not queues:
            return []
        where.append(f"t.queue IN ({', '.join('?' * len(queues))})")
        params += list(queues)
    if not_queues:
        where.append(f"t.queue NOT IN ({', '.join('?' * len(not_queues))})")
        params += list(not_queues)
    if exclude_ticket is not None:
        where.append("t.id <> ?")
        params.append(exclude_ticket)
    # the best messages as (id, score), lowest score first, and their parameters
    if rare is not None and lexemes is not None:
        stored = remembered(memo, ("stored",), lambda: _stored_messages(sql))
        best, best_params = pg_likeness(
            words, lexemes, common_bar(rare[1], stored), stored, RARE_CANDIDATES
        )
        if not best:
            return []
        # a prepared plan cannot see the words: by each word's LIMIT it guessed that
        # a scan of the whole index would stop early (it read 145,000 tsvectors for
        # 181 matches, 85 ms a word, at 100k tickets), and it cannot size a few rare
        # words' matches (two parallel workers, 3 ms); for this transaction, whose
        # other statements look rows up by key, neither
        sql.run(
            "SELECT set_config('enable_seqscan', 'off', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )
    else:
        best, best_params = _ranked(sql, words, any_term, rare is not None)
    # a look-up by likeness ranks the index alone and joins only its best
    # candidates: joining every match first costs a row look-up per match
    rows = sql.all(
        "SELECT t.number, t.subject, t.status, t.queue, t.tier, t.updated_at,"
        f" t.resolved_at, m.id, m.subject, m.text, f.score FROM ({best}) f"
        " JOIN message m ON m.id = f.id JOIN ticket t ON t.id = m.ticket_id"
        f" WHERE {' AND '.join(where)} ORDER BY f.score, m.id"
        f"{' DESC' if lexemes is not None else ''} LIMIT ?",
        *best_params,
        *params,
        limit * CANDIDATES_PER_RESULT,
    )
    hits: dict[int, Hit] = {}
    for (
        number,
        subject,
        status,
        queue,
        tier,
        updated,
        resolved,
        mid,
        msubj,
        text,
        score,
    ) in rows:
        if number in hits:
            continue
        hits[number] = Hit(
            number,
            subject,
            status,
            queue,
            tier,
            _stamp(updated),
            _stamp(resolved),
            mid,
            float(score),
            snippet(text or msubj or "", terms) if snippets else "",
        )
        if len(hits) >= limit:
            break
    return list(hits.values())
