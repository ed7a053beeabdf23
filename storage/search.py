"""The full-text index of messages: its tables, its upkeep, and rebuilding it.

Each engine indexes with its own machinery. SQLite: a contentless FTS5 table
(`message_search`, rowid = message id) over the Snowball stems of the
subject and the text (parsers/stemming.py), since FTS5 has no Russian
stemmer. PostgreSQL: a `tsvector` per message in `message_search`, made by
the `english` or `russian` text search configuration as the message is
written, under a GIN index. A message is indexed by the statement after the
one that stores it, in the same transaction: a plan rolled back leaves
neither. Only what people wrote is indexed: customers' mail, agents'
answers and notes, vendors' notes; never our own outgoing mail (notices
repeat the customer's text) nor robots.
"""

from __future__ import annotations

from collections.abc import Iterator

from peewee import Database
from tierdesk.parsers.stemming import indexed_text, text_language
from tierdesk.storage.db import is_sqlite
from tierdesk.storage.sql import Sql

INDEXED_KINDS = ("customer", "agent_reply", "note", "vendor_note")
TABLE = "message_search"
PG_CONFIGS = {"ru": "russian", "en": "english"}
MAX_INDEXED_CHARS = (
    100_000  # a tsvector holds at most 1 MB; a log pasted whole is not prose
)
# New entries wait in the GIN index's pending list until it fills, and every
# probe of the index reads the whole list: at the default 4 MB, filled by a
# burst of mail, 2-4 ms for each word a look-up by likeness asks for. 64 kB
# (the least) is merged into the index by the insert that fills it.
PENDING_LIST_KB = 64
BATCH = 1000


def create_search_index(db: Database) -> None:
    """The index's table (and on PostgreSQL its GIN index), empty, if missing."""
    if is_sqlite(db):
        # contentless: the text is in `message`; the index keeps only the stems' postings
        db.execute_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            "subject, body, content='', tokenize='unicode61 remove_diacritics 0')"
        )
        return
    db.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " message_id BIGINT PRIMARY KEY REFERENCES message (id) ON DELETE CASCADE,"
        " document TSVECTOR NOT NULL)"
    )
    db.execute_sql(
        f"CREATE INDEX IF NOT EXISTS {TABLE}_document ON {TABLE} USING GIN (document)"
        f" WITH (gin_pending_list_limit = {PENDING_LIST_KB})"
    )


def shorten_pending_list(db: Database) -> None:
    """Schema step 11: on PostgreSQL, the index's pending list at PENDING_LIST_KB."""
    if not is_sqlite(db):
        db.execute_sql(
            f"ALTER INDEX {TABLE}_document"
            f" SET (gin_pending_list_limit = {PENDING_LIST_KB})"
        )


def index_message(
    sql: Sql, message_id: int, kind: str, subject: str, text: str, deferred: bool = True
) -> None:
    """Index one stored message (inside the transaction that stored it).

    On SQLite the row goes in when that transaction commits, after its last
    savepoint (`SerializedSqliteDatabase.at_commit`): still the same
    transaction, and a message whose savepoint was rolled back is left out.
    """
    if kind not in INDEXED_KINDS:
        return
    text = text[:MAX_INDEXED_CHARS]
    if sql.sqlite:
        row = (message_id, indexed_text(subject), indexed_text(text))
        at_commit = getattr(sql.db, "at_commit", None)
        if deferred and at_commit is not None and sql.db.in_transaction():
            at_commit(_insert_sqlite_rows, row)
        else:
            _insert_sqlite_rows(sql.db, [row])
        return
    config = PG_CONFIGS[text_language(f"{subject}\n{text}")]
    sql.run(
        f"INSERT INTO {TABLE} (message_id, document) VALUES (?,"
        " setweight(to_tsvector(?::regconfig, ?), 'A')"
        " || setweight(to_tsvector(?::regconfig, ?), 'B'))"
        " ON CONFLICT (message_id) DO NOTHING",
        message_id,
        config,
        subject,
        config,
        text,
    )


def _insert_sqlite_rows(db: Database, rows: list[tuple[int, str, str]]) -> None:
    """Index rows whose message is still there (a rolled-back savepoint took its own)."""
    ids = [row[0] for row in rows]
    kept = set()
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        marks = ", ".join("?" * len(chunk))
        kept.update(
            r[0]
            for r in db.execute_sql(
                f"SELECT id FROM message WHERE id IN ({marks})", chunk
            )
        )
    for row in rows:
        if row[0] in kept:
            db.execute_sql(
                f"INSERT INTO {TABLE} (rowid, subject, body) VALUES (?, ?, ?)", row
            )


def _messages(db: Database) -> Iterator[list[tuple[int, str, str, str]]]:
    """Every indexed kind of message, in batches of BATCH, by id."""
    kinds = ", ".join(f"'{k}'" for k in INDEXED_KINDS)
    last = 0
    while True:
        rows = db.execute_sql(
            f"SELECT id, kind, subject, text FROM message WHERE id > {int(last)}"
            f" AND direction = 'in' AND kind IN ({kinds}) ORDER BY id LIMIT {BATCH}"
        ).fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def fill_search_index(db: Database) -> int:
    """Index every stored message not yet indexed, in batches; returns how many."""
    sql = Sql(db)
    count = 0
    for batch in _messages(db):
        for message_id, kind, subject, text in batch:
            # no savepoints here: straight in, not held in memory to the commit
            index_message(sql, message_id, kind, subject or "", text or "", False)
        count += len(batch)
    return count


def rebuild_search_index(db: Database) -> int:
    """Empty the index and index every message again (`tierdesk db reindex`)."""
    with db.atomic():
        if is_sqlite(db):
            db.execute_sql(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('delete-all')")
        else:
            db.execute_sql(f"DELETE FROM {TABLE}")
        count = fill_search_index(db)
        if not is_sqlite(db):
            db.execute_sql(f"ANALYZE {TABLE}")
        return count


def migrate_to_search(db: Database) -> None:
    """Schema step 10: the full-text index, filled with the messages stored so far."""
    create_search_index(db)
    fill_search_index(db)
    if not is_sqlite(
        db
    ):  # the look-ups read which words are common from its statistics
        db.execute_sql(f"ANALYZE {TABLE}")
