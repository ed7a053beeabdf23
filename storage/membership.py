"""Daemons sharing a database: heartbeat rows, and leases on what one daemon at a time may do.

Every running daemon has a row in `daemon` that it touches every heartbeat
(host, pid, version, the schema its code knows, when it started, when it
last beat). A lease (`lease`) gives one daemon a thing, such as watching an
IMAP mailbox, until `expires_at`; the holder renews it with each beat, and
when it stops renewing, any other daemon may take it. Times are the wall
clock (`storage.claims`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tierdesk.storage.claims import release_claims
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql

FORGET_SILENT_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class DaemonInfo:
    """What a daemon says about itself in its heartbeat row."""

    id: str
    host: str
    pid: int
    version: str
    schema_version: int
    started_at: datetime
    beat_at: datetime


def join(sql: Sql, me: DaemonInfo) -> None:
    """Add this daemon's heartbeat row."""
    with sql.db.atomic():
        sql.run(
            "INSERT INTO daemon (id, host, pid, version, schema_version, started_at, beat_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
            me.id,
            me.host,
            me.pid,
            me.version,
            me.schema_version,
            me.started_at,
            me.beat_at,
        )


def beat(sql: Sql, me: DaemonInfo, now: datetime, lease_until: datetime) -> set[str]:
    """Touch the heartbeat and renew this daemon's leases; returns the leases it still holds.

    A lease that expired and was taken by another daemon meanwhile is not
    renewed: it is that daemon's now. Rows of daemons silent for a day go.
    """
    with sql.db.atomic():
        touched = sql.run("UPDATE daemon SET beat_at = ? WHERE id = ?", now, me.id)
        if touched.rowcount == 0:  # removed by hand (or by another's clean-up): back
            join(sql, replace(me, beat_at=now))
        rows = sql.all(
            "UPDATE lease SET expires_at = ? WHERE holder = ? RETURNING name",
            lease_until,
            me.id,
        )
        sql.run("DELETE FROM daemon WHERE beat_at < ?", now - FORGET_SILENT_AFTER)
    return {row[0] for row in rows}


def leave(sql: Sql, holder: str) -> None:
    """A daemon that stops cleanly: its leases free at once, its claims handed back, its row gone."""
    with sql.db.atomic():
        sql.run("DELETE FROM lease WHERE holder = ?", holder)
        release_claims(sql, holder)
        sql.run("DELETE FROM daemon WHERE id = ?", holder)


def take_lease(sql: Sql, name: str, holder: str, now: datetime, until: datetime) -> str:
    """Take (or keep) the lease `name` unless another daemon holds it unexpired; returns its holder."""
    with sql.db.atomic():
        sql.run(
            "INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " acquired_at = CASE WHEN lease.holder = excluded.holder"
            " THEN lease.acquired_at ELSE excluded.acquired_at END,"
            " expires_at = excluded.expires_at"
            " WHERE lease.holder = excluded.holder OR lease.expires_at < ?",
            name,
            holder,
            now,
            until,
            now,
        )
        return sql.scalar("SELECT holder FROM lease WHERE name = ?", name) or ""


def drop_lease(sql: Sql, name: str, holder: str) -> None:
    """Give a lease up (the mailbox left the config, or the daemon stops)."""
    with sql.db.atomic():
        sql.run("DELETE FROM lease WHERE name = ? AND holder = ?", name, holder)


@dataclass(frozen=True)
class LeaseRow:
    """A lease as `tierdesk status` shows it."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def daemons(sql: Sql) -> list[DaemonInfo]:
    """Every daemon with a heartbeat row, most recently started first."""
    rows = sql.all(
        "SELECT id, host, pid, version, schema_version, started_at, beat_at FROM daemon"
        " ORDER BY started_at DESC, id"
    )
    return [
        DaemonInfo(*row[:5], as_aware_utc(row[5]), as_aware_utc(row[6]))  # type: ignore[arg-type]
        for row in rows
    ]


def leases(sql: Sql) -> list[LeaseRow]:
    """Every lease, by name."""
    rows = sql.all(
        "SELECT name, holder, acquired_at, expires_at FROM lease ORDER BY name"
    )
    return [
        LeaseRow(row[0], row[1], as_aware_utc(row[2]), as_aware_utc(row[3]))  # type: ignore[arg-type]
        for row in rows
    ]
