"""Writing a history into a fresh tierdesk database, and getting a database ready to time.

`generate` creates the schema (storage.schema.upgrade), writes the rows of
bench/history_sql.py in one transaction with the tables' indexes dropped
meanwhile and built again afterwards, sets the ticket counter past the
numbers written, and analyzes. It talks to the database through the plain
driver (sqlite3, psycopg), not through peewee.

`warm` reads a database into the page cache before a timed round, and
`wait_for_quiet` waits until the machine is idle: what else runs (and what
the page cache dropped meanwhile) would otherwise decide the figures.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tierdesk.storage.db import open_database
from tierdesk.storage.schema import upgrade

from bench.history_shape import SIGNING_SECRET, SPAN, Shape
from bench.history_sql import Dialect, HistorySql

SQLITE = "sqlite:///"
WARM_CHUNK = 8 * 2**20


def generate(url: str, shape: Shape, analyze: bool = True) -> dict[str, Any]:
    """Create the schema at `url`, write the history, analyze; returns timings and sizes."""
    db = open_database(url)
    upgrade(db)
    db.close()
    postgres = not url.startswith(SQLITE)
    with _connect(url) as conn:
        run = _runner(conn, postgres)
        return _write(conn, run, shape, Dialect(postgres), analyze)


def _write(
    conn: Any, run: Callable[..., Any], shape: Shape, dialect: Dialect, analyze: bool
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


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    """A plain driver connection for bulk writing (no peewee, no per-statement conversion)."""
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


def warm(url: str) -> float:
    """Read the whole database into the page cache; seconds it took.

    SQLite: the database file and its WAL. PostgreSQL: every table, index
    and TOAST table of the schema, with pg_prewarm (made in that schema if the
    database has none yet, so it goes with the schema); 0 and a note on
    stderr when the extension is not available.
    """
    began = time.perf_counter()
    if url.startswith(SQLITE):
        path = url[len(SQLITE) :]
        for name in (path, f"{path}-wal"):
            if os.path.exists(name):
                with open(name, "rb", buffering=0) as f:
                    while f.read(WARM_CHUNK):
                        pass
        return time.perf_counter() - began
    with _connect(url) as conn:
        conn.autocommit = True
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        except Exception as exc:  # noqa: BLE001 - timing unwarmed is still worth doing
            print(f"# not warmed: {exc}", file=sys.stderr)
            return 0.0
        schema = conn.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension"
            " WHERE extname = 'pg_prewarm'"
        ).fetchone()[0]
        conn.execute(
            f"SELECT {schema}.pg_prewarm(c.oid, 'read') FROM pg_class c"
            " WHERE c.relkind IN ('r', 'i', 't') AND (c.relnamespace ="
            " current_schema()::regnamespace OR c.oid IN (SELECT reltoastrelid FROM"
            " pg_class WHERE relnamespace = current_schema()::regnamespace))"
        )
    return time.perf_counter() - began


def busy_fraction(interval: float = 1.0) -> float:
    """How busy all CPUs were over `interval` seconds (0..1; 0 where /proc/stat is missing)."""

    def sample() -> tuple[int, int]:
        fields = [
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(limit: float, most: float = 0.15) -> float:
    """Wait (up to `limit` seconds) until the machine is at most `most` busy; how busy it was."""
    deadline = time.monotonic() + limit
    busy = busy_fraction()
    while busy > most and time.monotonic() < deadline:
        time.sleep(4)
        busy = busy_fraction()
    return busy
