"""PostgreSQL's side of searching: which words a query asks for, which are common,
and the look-up by likeness ranked from the GIN index alone.

A look-up by likeness does not use ts_rank: it reads every matching
message's whole tsvector (6 us each, measured), and a handful of words that
ANALYZE does not count as common still match thousands of messages on a
large desk (4,870 for one notice at 100,000 tickets: 32 ms). Instead each
word's matches come from the index as message ids only, and a message
scores the inverse document frequency of the words it holds (as bm25 does
on SQLite), counted in the same query.
"""

from __future__ import annotations

from tierdesk.parsers.stemming import STOP_WORDS, WORD_RE
from tierdesk.storage.search import TABLE
from tierdesk.storage.search_memo import IndexMemo, remembered
from tierdesk.storage.sql import Sql

Lexemes = dict[str, tuple[list[str], list[str]]]


def pg_words(text: str, limit: int) -> list[str]:
    """The words of a query as PostgreSQL's to_tsquery takes them (it stems them)."""
    seen: dict[str, None] = {}
    for match in WORD_RE.finditer(text.lower().replace("ё", "е")):
        word = match.group()
        if word not in STOP_WORDS and len(word) >= 2:
            seen.setdefault(word, None)
        if len(seen) >= limit:
            break
    return list(seen)


def pg_tsquery(words: list[str], any_term: bool) -> str:
    """to_tsquery text: any word (exact), or every word (also as a prefix of longer ones)."""
    if any_term:
        return " | ".join(words)
    return " & ".join(f"{w}:*" if len(w) >= 4 and not w.isdigit() else w for w in words)


def pg_lexemes(sql: Sql, words: list[str], memo: IndexMemo | None = None) -> Lexemes:
    """Each word's lexemes as the english and the russian configuration index it
    (empty: a stop word there); kept in `memo`, if given."""
    found: Lexemes = {}
    if memo is not None:
        for word in words:
            if (kept := memo.fresh(("lexemes", word))) is not None:
                found[word] = kept  # type: ignore[assignment]
    wanted = [word for word in words if word not in found]
    if wanted:
        for word, english, russian in sql.all(
            "SELECT w, tsvector_to_array(to_tsvector('english', w)),"
            " tsvector_to_array(to_tsvector('russian', w)) FROM unnest(?::text[]) AS w",
            wanted,
        ):
            found[word] = (english or [], russian or [])
            if memo is not None:
                memo.put(("lexemes", word), found[word])
    return found


def pg_element_counts(
    sql: Sql, memo: IndexMemo | None = None
) -> tuple[dict[str, float], float] | None:
    """In about how many messages ANALYZE found each of the index's most common
    lexemes, and how many messages it counted; None before it first ran.

    On PostgreSQL a capped probe still builds the GIN bitmap of every message
    holding the word (measured: 15 ms for a word in 130,000), so the planner's
    own statistics say which words are common.
    """
    return remembered(memo, ("element counts",), lambda: _element_counts(sql))


def _element_counts(sql: Sql) -> tuple[dict[str, float], float] | None:
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
    counts = {
        lexeme: freq * rows for lexeme, freq in zip(elements, freqs, strict=False)
    }
    return counts, float(rows)


def pg_common_words(
    words: list[str], lexemes: Lexemes, counts: dict[str, float], bar: int
) -> set[str]:
    """Of `words`, the stop words and those with a lexeme in `bar` messages or more
    by `counts` (pg_element_counts)."""
    return {
        word
        for word in words
        if not (found := lexemes[word])[0]
        or not found[1]
        or any(counts.get(lexeme, 0) >= bar for lexeme in (*found[0], *found[1]))
    }


def _word_query(word: str, lexemes: Lexemes) -> str:
    """A tsquery that matches `word` as either configuration indexed it."""
    english, russian = lexemes[word]
    quoted = dict.fromkeys(
        "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
        for lexeme in (*english, *russian)
    )
    return " | ".join(quoted)


def pg_likeness(
    words: list[str], lexemes: Lexemes, cap: int, stored: float, candidates: int
) -> tuple[str, list[object]]:
    """A query of the `candidates` messages most like `words` (rare ones: each in
    fewer than `cap` messages), as (id, score), best (lowest) score first, and its
    parameters; a word found `cap` times or more after all counts for nothing.

    The score is minus the sum of bm25's inverse document frequency over the
    words a message holds, each word's frequency counted by the query itself.
    """
    branches: list[str] = []
    params: list[object] = []
    seen = {""}  # two forms of one word ("printers", "printer") count once
    for word in words:
        if (matches := _word_query(word, lexemes)) in seen:
            continue
        seen.add(matches)
        # each word's weight from its own count of matches, in floating point
        # (numeric's ln() costs 4 us a row)
        branches.append(
            "SELECT id, ln(1 + (greatest(?::float8, df) - df + 0.5) / (df + 0.5)) AS idf"
            " FROM (SELECT id, count(*) OVER ()::float8 AS df FROM (SELECT message_id"
            f" AS id FROM {TABLE} WHERE document @@ ?::tsquery LIMIT ?) m) c WHERE df < ?"
        )
        params += [stored, matches, cap, cap]
    if not branches:
        return "", []
    query = (
        "SELECT id, -sum(idf) AS score FROM ("
        + " UNION ALL ".join(branches)
        + f") hits GROUP BY id ORDER BY score, id DESC LIMIT {int(candidates)}"
    )
    return query, params
