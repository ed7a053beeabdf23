"""Opening the database named by a storage URL and binding the models to it."""

from __future__ import annotations

import threading
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from peewee import Database, PostgresqlDatabase, SqliteDatabase
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


class StorageError(Exception):
    """The database cannot be opened or used; intake answers 'try again later'."""


def open_database(url: str) -> Database:
    """Open (lazily connect) the database for `url` and bind every model to it."""
    if url.startswith("sqlite:///"):
        db = _open_sqlite(Path(url[len("sqlite:///") :]))
    elif url.startswith(("postgresql://", "postgres://")):
        db = _open_postgres(url)
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


class TierdeskPostgresDatabase(StorableText, PostgresqlDatabase):
    """PostgreSQL, text parameters made storable."""


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

    def begin(self, lock_type: str | None = None) -> None:
        self._write_lock.acquire()
        try:
            super().begin(lock_type)
        except BaseException:
            self._write_lock.release()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
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


def _open_postgres(url: str) -> PostgresqlDatabase:
    parts = urlsplit(url)
    params: dict[str, str | int] = dict(parse_qsl(parts.query))
    schema = params.pop("schema", None)
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
    return TierdeskPostgresDatabase(dbname, prefer_psycopg3=True, **params)


def is_sqlite(db: Database) -> bool:
    """True when `db` is SQLite (no FOR UPDATE; the write lock serialises instead)."""
    return isinstance(db, SqliteDatabase)


def reset_connection(db: Database) -> None:
    """Drop this thread's connection after an error, so the next use reconnects."""
    try:
        db.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
        db._state.reset()
