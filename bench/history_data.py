"""Writing a history (bench/history_sql.py) into a fresh tierdesk database.

`generate` creates the schema (storage.schema.upgrade), writes the rows of
bench/history_sql.py in one transaction with the tables' indexes dropped
meanwhile and built again afterwards, sets the ticket counter (and on
PostgreSQL the sequences) past what was written, and analyzes. It talks to
the database through the plain driver (sqlite3, psycopg), not through peewee.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tierdesk.parsers.stemming import indexed_text
from tierdesk.storage.db import open_database
from tierdesk.storage.schema import upgrade
from tierdesk.storage.search import INDEXED_KINDS, MAX_INDEXED_CHARS, TABLE

from bench.history_shape import SIGNING_SECRET, SPAN, Shape
from bench.history_sql import Dialect, HistorySql

SQLITE = "sqlite:///"


def generate(
    url: str, shape: Shape, analyze: bool = True, extra_sql: Sequence[str] = ()
) -> dict[str, Any]:
    """Create the schema at `url`, write the history, run `extra_sql` (an index to
    try, say), analyze; returns timings and sizes."""
    db = open_database(url)
    upgrade(db)
    db.close()
    postgres = not url.startswith(SQLITE)
    with connect(url) as conn:
        run = _runner(conn, postgres)
        return _write(conn, run, shape, Dialect(postgres), analyze, extra_sql)


def _write(
    conn: Any,
    run: Callable[..., Any],
    shape: Shape,
    dialect: Dialect,
    analyze: bool,
    extra_sql: Sequence[str],
) -> dict[str, Any]:
    postgres = dialect.postgres
    steps: dict[str, float] = {}
    start = time.perf_counter()
    statements = list(HistorySql(shape, dialect).statements())
    tables = list(dict.fromkeys(table for table, _, _ in statements))
    for table, columns, _ in statements:
        _check_columns(run, postgres, table, columns)
    indexes = [index for table in tables for index in _indexes(run, postgres, table)]
    if postgres:
        for setting in (
            "synchronous_commit = off",
            "maintenance_work_mem = '1GB'",
            "session_replication_role = replica",  # no foreign key triggers: rows are consistent
        ):
            run(f"SET {setting}")
    else:
        run("BEGIN")
    for index_name, _ in indexes:
        run(f"DROP INDEX {index_name}")
    for table, _, statement in statements:
        began = time.perf_counter()
        run(statement)
        steps[table] = steps.get(table, 0.0) + time.perf_counter() - began
    began = time.perf_counter()
    for _, definition in indexes:
        run(definition)
    steps["indexes"] = time.perf_counter() - began
    began = time.perf_counter()
    _fill_search_index(conn, run, postgres)
    steps["search_index"] = time.perf_counter() - began
    for statement in extra_sql:
        run(statement)
    run("UPDATE counter SET value = ? WHERE name = 'ticket'", shape.tickets)
    now = datetime.fromtimestamp(shape.now - SPAN, UTC).replace(tzinfo=None)
    run(
        "INSERT INTO signing_key (id, secret, created_at) VALUES ('00', ?, ?)",
        SIGNING_SECRET,
        now if postgres else str(now),
    )
    if postgres:
        _advance_sequences(run, shape.tickets)
    conn.commit()
    generated = time.perf_counter() - start
    began = time.perf_counter()
    if analyze:
        _analyze(conn, run, postgres)
    return {
        "generate_s": generated,
        "analyze_s": time.perf_counter() - began,
        "steps": steps,
        "rows": {
            table: run(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in tables
        },
        "db_mb": _size_mb(run, postgres),
    }


def _fill_search_index(conn: Any, run: Callable[..., Any], postgres: bool) -> None:
    """The full-text index of the messages written, as the daemon would have made it
    (storage/search.py), in one statement; on PostgreSQL its GIN index built after."""
    kinds = ", ".join(f"'{k}'" for k in INDEXED_KINDS)
    source = f" FROM message WHERE direction = 'in' AND kind IN ({kinds})"
    if not postgres:
        # the daemon stems in Python (FTS5 has no Russian stemmer): so does this
        conn.create_function("indexed_text", 1, indexed_text, deterministic=True)
        run(
            f"INSERT INTO {TABLE} (rowid, subject, body) SELECT id,"
            " indexed_text(coalesce(subject, '')),"
            f" indexed_text(substr(coalesce(text, ''), 1, {MAX_INDEXED_CHARS})){source}"
        )
        return
    found = _indexes(run, postgres, TABLE)
    for index_name, _ in found:
        run(f"DROP INDEX {index_name}")
    # every generated text is English (storage.search picks the config by script)
    run(
        f"INSERT INTO {TABLE} (message_id, document) SELECT id,"
        " setweight(to_tsvector('english', coalesce(subject, '')), 'A')"
        " || setweight(to_tsvector('english',"
        f" left(coalesce(text, ''), {MAX_INDEXED_CHARS})), 'B'){source}"
    )
    for _, definition in found:
        run(definition)


@contextmanager
def connect(url: str) -> Iterator[Any]:
    """A plain driver connection (sqlite3, psycopg) to `url`; SQLite set up for bulk writing."""
    if url.startswith(SQLITE):
        with closing(sqlite3.connect(url[len(SQLITE) :], isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = delete")
            conn.execute(
                "PRAGMA journal_mode = off"
            )  # a throwaway database, written once
            conn.execute("PRAGMA synchronous = off")
            conn.execute("PRAGMA cache_size = -512000")
            conn.execute("PRAGMA temp_store = memory")
            yield conn
            conn.execute("PRAGMA journal_mode = wal")  # as the daemon runs it
        return
    import psycopg

    parts = urlsplit(url)
    schema = dict(parse_qsl(parts.query)).get("schema")
    conninfo = url.split("?", 1)[0]
    options = f"-c search_path={schema}" if schema else ""
    with psycopg.connect(conninfo, options=options) as conn:
        yield conn


def _runner(conn: Any, postgres: bool) -> Callable[..., Any]:
    """`run(statement, *params)` on the connection, `?` placeholders on both databases.

    Only a statement with parameters has its `?` made `%s` for psycopg (the
    bulk statements have none, and use `%` and `?` as SQL and text).
    """

    def run(statement: str, *params: Any) -> Any:
        if not params:
            return conn.execute(statement)
        if postgres:
            statement = statement.replace("?", "%s")
        return conn.execute(statement, params)

    return run


def _check_columns(
    run: Callable[..., Any], postgres: bool, table: str, given: list[str]
) -> None:
    """Fail clearly when the schema gained a required column this generator does not fill."""
    if postgres:
        rows = run(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? AND is_nullable = 'NO'"
            " AND column_default IS NULL AND is_identity = 'NO'",
            table,
        ).fetchall()
    else:
        rows = [
            (r[1],)
            for r in run(f"PRAGMA table_info({table})").fetchall()
            if r[3] and r[4] is None and not r[5]
        ]
    missing = sorted({r[0] for r in rows} - set(given) - {"id"})
    if missing:
        raise SystemExit(
            f"bench/history_data.py does not fill {table}.{', '.join(missing)}"
            " (NOT NULL without a default): add them to HistorySql"
        )


def _indexes(
    run: Callable[..., Any], postgres: bool, table: str
) -> list[tuple[str, str]]:
    """(name, CREATE statement) of a table's indexes, primary keys aside."""
    if not postgres:
        return run(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            table,
        ).fetchall()
    return run(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ?"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        table,
    ).fetchall()


def _advance_sequences(run: Callable[..., Any], tickets: int) -> None:
    """Serial columns past the ids written; a sequence of ticket numbers past the numbers."""
    owned = run(
        "SELECT s.relname, t.relname, a.attname FROM pg_class s"
        " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
        " WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    for sequence, table, column in owned:
        run(
            f"SELECT setval('{sequence}', GREATEST(1, (SELECT MAX({column}) FROM {table})))"
        )
    # schema 9 numbers tickets from a sequence of their own on PostgreSQL
    for (sequence,) in run(
        "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE '%ticket%'"
        " AND relnamespace = current_schema()::regnamespace"
    ).fetchall():
        if sequence not in {row[0] for row in owned}:
            run(f"SELECT setval('{sequence}', {tickets})")


def _analyze(conn: Any, run: Callable[..., Any], postgres: bool) -> None:
    """Statistics; on PostgreSQL also the visibility map, as autovacuum leaves a table.

    Only this schema's tables: a bare VACUUM would go through every schema
    of the database, other people's included.
    """
    if not postgres:
        run("ANALYZE")
        return
    conn.autocommit = True
    tables = run(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'r'"
        " AND c.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    run(f"VACUUM (ANALYZE) {', '.join(t[0] for t in tables)}")


def _size_mb(run: Callable[..., Any], postgres: bool) -> float:
    if postgres:
        query = (
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r'"
            " AND c.relnamespace = current_schema()::regnamespace"
        )
        return float(run(query).fetchone()[0] or 0) / 2**20
    pages = run("PRAGMA page_count").fetchone()[0]
    return pages * run("PRAGMA page_size").fetchone()[0] / 2**20


def sqlite_url(directory: Path) -> str:
    """The storage URL of the history database in `directory`."""
    return f"{SQLITE}{directory / 'history.db'}"
