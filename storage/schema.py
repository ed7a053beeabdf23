"""Schema versions: `tierdesk db upgrade` creates or migrates; the daemon checks.

An empty database gets today's schema straight from the models. An older one
gets each migration (`storage.migrations`) from its version on, all in one
transaction with the new version number, under a lock, so two upgrades never
run at once. The database also records the oldest schema version whose
daemons can still run on it: a daemon refuses a database newer than that,
and an upgrade refuses to leave an older daemon that is still beating behind.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from peewee import Database, PostgresqlDatabase
from tierdesk.storage.migrations import (
    MIGRATIONS,
    REPLY_SECRET_KEY,
    create_ticket_numbers,
)
from tierdesk.storage.models import ALL_MODELS, Counter, DaemonRow, MetaEntry
from tierdesk.storage.search import create_search_index

__all__ = ["REPLY_SECRET_KEY", "SCHEMA_VERSION", "SchemaError"]

SCHEMA_VERSION_KEY = "schema_version"
COMPATIBLE_KEY = "schema_compatible_with"
INSTANCE_ID_KEY = "instance_id"
SCHEMA_VERSION = max(MIGRATIONS)
# a daemon whose heartbeat is older than this is taken for dead by an upgrade
ALIVE_WITHIN = timedelta(minutes=2)


class SchemaError(Exception):
    """The database schema is missing, older or newer than this tierdesk."""


def _create_current(db: Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)
    Counter.insert(name="ticket", value=0).on_conflict_ignore().execute()
    MetaEntry.insert(
        key=INSTANCE_ID_KEY, value=secrets.token_hex(8)
    ).on_conflict_ignore().execute()
    create_ticket_numbers(db)
    create_search_index(db)


def _tables(db: Database) -> list[str]:
    """Tables visible to us (on PostgreSQL: in the current schema, not always `public`)."""
    if isinstance(db, PostgresqlDatabase):
        schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
        return db.get_tables(schema=schema)
    return db.get_tables()


def current_version(db: Database) -> int | None:
    """The schema version recorded in the database, or None for an empty database."""
    if MetaEntry._meta.table_name not in _tables(db):
        return None
    row = MetaEntry.get_or_none(MetaEntry.key == SCHEMA_VERSION_KEY)
    return int(row.value) if row else None


def compatible_with(db: Database) -> int:
    """The oldest schema version whose daemons can run on this database."""
    row = MetaEntry.get_or_none(MetaEntry.key == COMPATIBLE_KEY)
    if row is not None:
        return int(row.value)
    return current_version(db) or SCHEMA_VERSION  # before 9 every step broke the last


def upgrade(db: Database, now: datetime | None = None) -> list[int]:
    """Apply every missing migration under the upgrade lock; returns the versions applied.

    Raises SchemaError for a database newer than this tierdesk, and for a step
    that older daemons, still beating, cannot run beside.
    """
    applied = []
    with db.atomic():
        _lock_upgrades(db)
        version = current_version(db)  # read under the lock: another may have run
        if version is None:
            _create_current(db)
            applied.append(SCHEMA_VERSION)
            floor = SCHEMA_VERSION
        elif version > SCHEMA_VERSION:
            raise SchemaError(_too_new(version))
        else:
            steps = range(version + 1, SCHEMA_VERSION + 1)
            floor = max(
                [compatible_with(db), *(MIGRATIONS[v].compatible_with for v in steps)]
            )
            _refuse_if_older_daemons_beat(db, floor, now or datetime.now(UTC))
            for target in steps:
                MIGRATIONS[target].apply(db)
                applied.append(target)
        if applied:
            for key, value in (
                (SCHEMA_VERSION_KEY, SCHEMA_VERSION),
                (COMPATIBLE_KEY, floor),
            ):
                MetaEntry.insert(key=key, value=str(value)).on_conflict(
                    conflict_target=[MetaEntry.key],
                    update={MetaEntry.value: str(value)},
                ).execute()
    return applied


def _lock_upgrades(db: Database) -> None:
    """Inside the upgrade's transaction: wait until no other upgrade runs (on SQLite the
    IMMEDIATE transaction already holds the only write lock)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "SELECT pg_advisory_xact_lock(hashtext('tierdesk db upgrade ' || current_schema()))"
        )


def _refuse_if_older_daemons_beat(db: Database, floor: int, now: datetime) -> None:
    """Raise SchemaError when a daemon whose code predates `floor` still beats."""
    if DaemonRow._meta.table_name not in _tables(db):
        return
    alive_since = (now - ALIVE_WITHIN).astimezone(UTC).replace(tzinfo=None)
    older = list(
        DaemonRow.select().where(
            (DaemonRow.schema_version < floor) & (DaemonRow.beat_at >= alive_since)
        )
    )
    if older:
        names = ", ".join(
            f"{d.host} pid {d.pid} (tierdesk {d.version}, schema {d.schema_version})"
            for d in older
        )
        raise SchemaError(
            f"this upgrade needs daemons that know schema {floor} or newer, and "
            f"older ones are running: {names}; stop them (or upgrade them first, "
            "if they are new enough to run beside it), then run it again"
        )


def ensure_schema(db: Database, create_if_empty: bool = True) -> int:
    """Refuse a schema we cannot run on; an entirely empty database is initialised.

    Returns the database's version: newer than SCHEMA_VERSION when an upgrade
    that this daemon can run beside has already been applied.
    """
    version = current_version(db)
    if version is None and create_if_empty:
        version = _create_if_empty(db)
    if version is None:
        raise SchemaError(
            "the database has no tierdesk schema: run `tierdesk db upgrade`"
        )
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"the database schema is version {version}, this tierdesk needs {SCHEMA_VERSION}: "
            "run `tierdesk db upgrade`"
        )
    if version > SCHEMA_VERSION and compatible_with(db) > SCHEMA_VERSION:
        raise SchemaError(_too_new(version))
    return version


def _create_if_empty(db: Database) -> int | None:
    """Create today's schema in an empty database; returns the version found or made.

    Looks again under the upgrade lock: several daemons started together on a
    new database find it empty at once, and the first one creates it while the
    others wait; a database holding tables of something else is left alone.
    """
    with db.atomic():
        _lock_upgrades(db)
        version = current_version(db)
        if version is None and not _tables(db):
            upgrade(db)
            return SCHEMA_VERSION
        return version


def _too_new(version: int) -> str:
    return (
        f"the database schema is version {version}, newer than this tierdesk knows "
        f"({SCHEMA_VERSION}): upgrade tierdesk"
    )


def instance_id(db: Database) -> str:
    """This database's random instance id (marks our own mail to catch loops)."""
    row = MetaEntry.get_or_none(MetaEntry.key == INSTANCE_ID_KEY)
    return row.value if row else ""


def reply_secret(db: Database) -> bytes:
    """The secret that signs our reply addresses, made on first use and kept in the database.

    Kept with the data, so every daemon sharing the database (and a restored
    backup) accepts the addresses the others handed out.
    """
    MetaEntry.insert(
        key=REPLY_SECRET_KEY, value=secrets.token_hex(32)
    ).on_conflict_ignore().execute()
    return bytes.fromhex(MetaEntry.get(MetaEntry.key == REPLY_SECRET_KEY).value)
