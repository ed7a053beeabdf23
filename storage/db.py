"""Opening the database named by a storage URL and binding the models to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import (
    MaxConnectionsExceeded,
    PooledDatabase,
    PooledPostgresqlDatabase,
)
from tierdesk.storage.models import ALL_MODELS
from tierdesk.storage.text import storable_params

# FULL makes each commit durable (WAL fsynced) before we answer 250 or exit 0;
# IMMEDIATE takes the write lock at BEGIN, without which concurrent
# read-then-write transactions fail with "database is locked" even in WAL.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 15000,
    "cache_size": -16000,
}


MAX_CONNECTIONS = 16
POOL_WAIT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 10  # a storage URL's ?connect_timeout=N overrides it
STALE_SECONDS = 600  # a connection this old is replaced when it comes back to the pool


class StorageError(Exception):
    """The database cannot be opened or used; intake answers 'try again later'."""


def open_database(url: str, max_connections: int = MAX_CONNECTIONS) -> Database:
    """Open (lazily connect) the database for `url` and bind every model to it.

    On PostgreSQL this process opens at most `max_connections` connections.
    """
    if url.startswith("sqlite:///"):
        db = _open_sqlite(Path(url[len("sqlite:///") :]))
    elif url.startswith(("postgresql://", "postgres://")):
        db = _open_postgres(url, max_connections)
    else:
        raise StorageError(
            f"unsupported storage URL {url!r}: use sqlite:///PATH or postgresql://..."
        )
    db.bind(ALL_MODELS, bind_refs=False, bind_backrefs=False)
    return db


class StorableText:
    """Every statement's text parameters made storable (`storage.text`) on either database.

    PostgreSQL refuses a NUL that SQLite keeps; here both get U+FFFD, in
    writes and look-ups alike, so the same mail is stored and found the same way.
    """

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        """Run one statement, its text parameters made storable first."""
        return super().execute_sql(sql, storable_params(params))  # type: ignore[misc]


class TierdeskPostgresDatabase(StorableText, PooledPostgresqlDatabase):
    """PostgreSQL through a bounded pool of connections, text parameters made storable.

    Each thread holds one connection from the pool until it closes it; a
    thread that finds all of them taken waits for one, then gets an
    OperationalError like any other storage trouble. A connection the server
    dropped (a restart, a failover) is let go the next time it is used
    outside a transaction, so that statement reconnects instead of failing
    for ever with "the connection is closed".
    """

    def connect(self, reuse_if_open: bool = False) -> bool:
        """Take a connection from the pool, waiting a while for a free one."""
        try:
            return super().connect(reuse_if_open)
        except MaxConnectionsExceeded as exc:
            raise OperationalError(
                f"all {self._max_connections} database connections of this process"
                f" are in use ({exc}); raise cluster.max_connections"
            ) from exc

    def close(self) -> bool:
        """Give this thread's connection back; the last one back closes them all, so a
        process (or a test) that is done with the database leaves no session open."""
        closed = super().close()
        with self._pool_lock:
            if not self._in_use:
                self.close_idle()
        return closed

    def is_closed(self) -> bool:
        """True when this thread has no usable connection (a dead one is let go here)."""
        if super().is_closed():
            return True
        conn = self._state.conn
        if conn is not None and conn.closed and not self.in_transaction():
            self.close()  # back to the pool, which throws a closed one away
            return True
        return False


class SerializedSqliteDatabase(StorableText, SqliteDatabase):
    """SQLite whose write transactions queue on an in-process lock.

    SQLite admits one writer; when threads of one process collide on its
    lock, the busy handler sleeps in growing steps (1, 2, 5, 10... ms), which
    costs far more than the transactions themselves. Waiting on a Python lock
    hands over at once; other processes still wait through busy_timeout.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_lock = threading.RLock()
        self._at_commit = threading.local()  # per connection, as peewee's are

    def at_commit(
        self, flush: Callable[[SqliteDatabase, list[Any]], None], row: Any
    ) -> None:
        """Hand `row` to `flush` just before this thread's transaction commits.

        For the full-text index: FTS5 writes its pending terms out as a new
        segment at every SAVEPOINT, which the pipeline opens per message
        (measured: 9 ms a message at 133,000 indexed messages, against
        0.04 ms when the rows go in once, after the last savepoint).
        """
        pending = getattr(self._at_commit, "rows", None)
        if pending is None:
            pending = self._at_commit.rows = {}
        pending.setdefault(flush, []).append(row)

    def begin(self, lock_type: str | None = None) -> None:
        self._write_lock.acquire()
        try:
            super().begin(lock_type)
        except BaseException:
            self._write_lock.release()
            raise

    def commit(self) -> None:
        try:
            pending = getattr(self._at_commit, "rows", None)
            if pending:
                for flush, rows in pending.items():
                    flush(self, rows)
            super().commit()
        finally:
            self._at_commit.rows = None
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._at_commit.rows = None
            self._release()

    def _release(self) -> None:
        with suppress(RuntimeError):  # not held: commit/rollback outside begin()
            self._write_lock.release()


def _open_sqlite(path: Path) -> SqliteDatabase:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from None
    return SerializedSqliteDatabase(
        str(path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE"
    )


def _open_postgres(url: str, max_connections: int) -> PostgresqlDatabase:
    parts = urlsplit(url)
    params: dict[str, str | int] = dict(parse_qsl(parts.query))
    schema = params.pop("schema", None)
    # an unreachable host fails in seconds, not after the kernel's TCP retries
    # (minutes): intake answers 451 and /healthz answers 503 meanwhile
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    if schema:
        # a private schema per instance (the tests use one per test)
        params["options"] = f"-c search_path={schema}"
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.hostname:
        params["host"] = parts.hostname
    if parts.port:
        params["port"] = parts.port
    dbname = unquote(parts.path.lstrip("/")) or "tierdesk"
    return TierdeskPostgresDatabase(
        dbname,
        prefer_psycopg3=True,
        max_connections=max(1, max_connections),
        timeout=POOL_WAIT_SECONDS,
        stale_timeout=STALE_SECONDS,
        **params,
    )


def is_sqlite(db: Database) -> bool:
    """True when `db` is SQLite (no FOR UPDATE; the write lock serialises instead)."""
    return isinstance(db, SqliteDatabase)


def reset_connection(db: Database) -> None:
    """Drop this thread's connection after an error, so the next use reconnects."""
    try:
        db.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
        conn = db._state.conn
        if isinstance(db, PooledDatabase) and conn is not None:
            db._close(conn, close_conn=True)  # out of the pool's count too
        db._state.reset()


def is_connection_trouble(exc: BaseException) -> bool:
    """True when PostgreSQL lost, refused or restarted the connection, or broke a
    deadlock: the database's trouble, never the message's, so no attempt counts."""
    original = getattr(exc, "orig", None) or exc
    return any(
        cls.__module__.startswith("psycopg")
        and cls.__name__ in ("OperationalError", "InterfaceError")
        for cls in type(original).__mro__
    )


def first_database_error(exc: Exception) -> Exception:
    """The error that started it: SQLite rolls back by itself on a full disk, and
    the rollback that follows fails with 'no transaction is active', hiding why."""
    found: BaseException | None = exc
    for _ in range(8):  # the chain is short; a loop in it must not hang us
        if found is None or "no transaction is active" not in str(found):
            break
        found = found.__context__
    return found if isinstance(found, Exception) else exc
