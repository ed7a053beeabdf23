"""Searching the full-text index: ranked tickets with a snippet, and similar solved tickets.

SQLite ranks with bm25 over the stems (the subject weighs more than the
text); PostgreSQL with ts_rank over the document (subject weight A). Both
give one row per ticket, its best message, and a snippet cut in Python from
that message's original text around the words that matched.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tierdesk.parsers.stemming import (
    STOP_WORDS,
    WORD_RE,
    is_prefix_term,
    query_terms,
    snippet,
)
from tierdesk.storage.search import TABLE
from tierdesk.storage.search_memo import IndexMemo, remembered
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


def _pg_common_words(
    sql: Sql, words: list[str], cap: int, memo: IndexMemo | None = None
) -> set[str] | None:
    """Of `words`, those whose lexeme ANALYZE counted in `cap` messages or more (its
    most common elements of the tsvector column); None before the first ANALYZE.

    On PostgreSQL a capped probe still builds the GIN bitmap of every message
    holding the word (measured: 15 ms for a word in 130,000), so the planner's
    own statistics say which words are common.
    """
    frequent = remembered(memo, ("frequent", cap), lambda: _pg_frequent(sql, cap))
    if frequent is None:
        return None
    lexemes = _pg_lexemes(sql, words, memo)
    return {
        word
        for word in words
        if not (found := lexemes[word])[0]
        or not found[1]
        or frequent & {*found[0], *found[1]}
    }


def _pg_frequent(sql: Sql, cap: int) -> frozenset[str] | None:
    """The lexemes ANALYZE counted in `common_bar` messages or more; None before it ran."""
    stats = sql.one(
        "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs,"
        " c.reltuples FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename"
        " AND c.relnamespace = to_regnamespace(s.schemaname)"
        f" WHERE s.schemaname = current_schema() AND s.tablename = '{TABLE}'"
        " AND s.attname = 'document'"
    )
    if stats is None or stats[0] is None:
        return None
    elements, freqs, rows = stats
    bar = common_bar(cap, rows)
    return frozenset(
        lexeme
        for lexeme, freq in zip(elements, freqs, strict=False)
        if freq * rows >= bar
    )


def _pg_lexemes(
    sql: Sql, words: list[str], memo: IndexMemo | None
) -> dict[str, tuple[list[str], list[str]]]:
    """Each word's English and Russian lexemes (empty: a stop word of that language)."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    if memo is not None:
        for word in words:
            if (kept := memo.fresh(("lexemes", word))) is not None:
                found[word] = kept  # type: ignore[assignment]
    wanted = [word for word in words if word not in found]
    if wanted:
        for word, english, russian in sql.all(
            "SELECT w, ts_lexize('english_stem', w), ts_lexize('russian_stem', w)"
            " FROM unnest(?::text[]) AS w",
            wanted,
        ):
            found[word] = (english or [], russian or [])
            if memo is not None:
                memo.put(("lexemes", word), found[word])
    return found


def rare_terms(
    sql: Sql, terms: list[str], keep: int, cap: int, memo: IndexMemo | None = None
) -> list[str]:
    """The first `keep` of `terms` (in their order: the subject's come first) that
    are not common: in fewer than `cap` messages, and on a small desk in fewer
    than one in COMMON_SHARE (`common_bar`; counts kept a while in `memo`, if given).

    Ranking costs one score per message that holds any term, so a word in
    most tickets (a desk's "printer") would make every look-up read the
    whole history; left out, a look-up costs at most keep x cap scores
    however large the history grows. bm25 and ts_rank weigh the rest.
    """
    common = None if sql.sqlite else _pg_common_words(sql, terms, cap, memo)
    if common is None:
        stored = remembered(memo, ("stored",), lambda: _stored_messages(sql))
        bar = common_bar(cap, stored)
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


def _pg_words(text: str, limit: int) -> list[str]:
    """The words of a query as PostgreSQL's to_tsquery takes them (it stems them)."""
    seen: dict[str, None] = {}
    for match in WORD_RE.finditer(text.lower().replace("ё", "е")):
        word = match.group()
        if word not in STOP_WORDS and len(word) >= 2:
            seen.setdefault(word, None)
        if len(seen) >= limit:
            break
    return list(seen)


def _pg_tsquery(words: list[str], any_term: bool) -> str:
    """to_tsquery text: any word (exact), or every word (also as a prefix of longer ones)."""
    if any_term:
        return " | ".join(words)
    return " & ".join(f"{w}:*" if len(w) >= 4 and not w.isdigit() else w for w in words)


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
    words = terms if sql.sqlite else _pg_words(query, max_terms)
    if rare is not None:
        words = rare_terms(sql, words, *rare, memo)
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
    columns = (
        "t.number, t.subject, t.status, t.queue, t.tier, t.updated_at, t.resolved_at,"
        " m.id, m.subject, m.text"
    )
    wanted = limit * CANDIDATES_PER_RESULT
    # a look-up by likeness ranks the index alone and joins only its best
    # candidates: joining every match first costs a row look-up per match
    shortlist = f" LIMIT {RARE_CANDIDATES}" if rare is not None else ""
    if sql.sqlite:
        rows = sql.all(
            f"SELECT {columns}, f.score FROM (SELECT rowid AS id,"
            f" bm25({TABLE}, 4.0, 1.0) AS score FROM {TABLE} WHERE {TABLE} MATCH ?"
            f" ORDER BY score{shortlist}) f JOIN message m ON m.id = f.id"
            f" JOIN ticket t ON t.id = m.ticket_id WHERE {' AND '.join(where)}"
            " ORDER BY f.score, m.id LIMIT ?",
            _fts_match(words, any_term),
            *params,
            wanted,
        )
    else:
        if rare is not None:
            # the planner cannot size a handful of rare words' matches (it guessed
            # 77,836 rows at 1M tickets) and starts parallel workers for them: 3 ms,
            # more than the search itself; for the rest of this transaction only
            sql.run("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
        tsquery = _pg_tsquery(words, any_term)
        rows = sql.all(
            "WITH q AS (SELECT to_tsquery('english', ?) || to_tsquery('russian', ?) AS q),"
            " f AS (SELECT s.message_id AS id, -ts_rank(s.document, q.q) AS score"
            f" FROM q, {TABLE} s WHERE s.document @@ q.q ORDER BY score{shortlist})"
            f" SELECT {columns}, f.score FROM f JOIN message m ON m.id = f.id"
            f" JOIN ticket t ON t.id = m.ticket_id WHERE {' AND '.join(where)}"
            " ORDER BY f.score, m.id LIMIT ?",
            tsquery,
            tsquery,
            *params,
            wanted,
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
