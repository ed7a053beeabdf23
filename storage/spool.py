"""The spool: raw messages, durable before anyone is told "accepted".

States: `new` (waiting for the pipeline), `done` (processed; `outcome` says
how), `quarantined` (set aside with the reason in `error`; `release` puts it
back), `dropped` (an admin gave up on a quarantined message: kept with both
reasons, never run again). The raw bytes stay, so a message can be shown or
replayed, until `tierdesk purge` empties them (`purged_at`) once it has been
done or dropped longer than the retention; the row and its metadata stay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import DatabaseError, ModelSelect
from tierdesk.rules.handling.outcome import Outcome, outcome
from tierdesk.storage.claims import Claimant, skip_locked
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.db import StorageError, reset_connection
from tierdesk.storage.models import SpoolItem
from tierdesk.storage.sql import Sql

MAX_TRANSIENT_ATTEMPTS = 5
# Bigger raw mail goes to and from SQLite through a blob handle: bound as a
# parameter or read as a column value, SQLite first makes a copy of its own.
BLOB_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Arrival:
    """A message as intake received it, before it is spooled."""

    raw: bytes
    source: str
    mail_from: str | None = None
    rcpt_tos: Sequence[str] = ()
    peer: str = ""
    mailbox: str = ""


@dataclass(frozen=True)
class SpoolRow:
    """What the pipeline reads of a spooled message."""

    id: int
    raw: bytes
    mail_from: str | None
    rcpt_tos: list[str]
    size: int
    state: str
    mailbox: str
    source: str = ""


def spool(sql: Sql, arrivals: Iterable[Arrival], now: datetime) -> list[int]:
    """Store the arrivals in one durable commit and return their spool ids.

    Raises StorageError when the database cannot take them, so the caller
    answers 'try again later' instead of 'accepted'.
    """
    try:
        with sql.db.atomic():
            return [insert(sql, a, now) for a in arrivals]
    except DatabaseError as exc:
        reset_connection(sql.db)
        raise StorageError(f"cannot spool: {exc}") from exc


def insert(sql: Sql, arrival: Arrival, now: datetime, sha256: str | None = None) -> int:
    """Insert one arrival inside the caller's transaction; returns its spool id."""
    big = sql.sqlite and len(arrival.raw) > BLOB_BYTES
    spool_id = sql.insert(
        "spool",
        received_at=now,
        source=arrival.source,
        mail_from=arrival.mail_from,
        rcpt_tos=json.dumps(list(arrival.rcpt_tos)),
        peer=arrival.peer,
        mailbox=arrival.mailbox,
        raw=b"" if big else arrival.raw,
        sha256=sha256 or hashlib.sha256(arrival.raw).hexdigest(),
        size=len(arrival.raw),
        state="new",
        attempts=0,
        error="",
        outcome="",
        message_id="",
    )
    if big:
        sql.run(
            "UPDATE spool SET raw = zeroblob(?) WHERE id = ?",
            len(arrival.raw),
            spool_id,
        )
        with sql.db.connection().blobopen("spool", "raw", spool_id) as blob:
            blob.write(arrival.raw)
    return spool_id


def pending_ids(sql: Sql, limit: int = 100) -> list[int]:
    """Ids of spooled messages waiting for the pipeline, oldest first."""
    rows = sql.all(
        "SELECT id FROM spool WHERE state = 'new' ORDER BY id LIMIT ?", limit
    )
    return [row[0] for row in rows]


def claim_pending(sql: Sql, claimant: Claimant, limit: int = 100) -> list[int]:
    """Claim up to `limit` waiting messages no other live daemon has; their ids, oldest first."""
    now, until = claimant.window()
    choose = skip_locked(
        sql,
        "SELECT id FROM spool WHERE state = 'new'"
        " AND (claimed_until IS NULL OR claimed_until < ? OR claimed_by = ?)"
        " ORDER BY id LIMIT ?",
    )
    with sql.db.atomic():
        rows = sql.all(
            f"UPDATE spool SET claimed_by = ?, claimed_until = ? WHERE id IN ({choose})"
            " RETURNING id",
            claimant.holder,
            until,
            now,
            claimant.holder,
            limit,
        )
    return sorted(row[0] for row in rows)


def load(sql: Sql, spool_id: int) -> SpoolRow | None:
    """A spooled message with its raw bytes, or None."""
    if sql.sqlite:  # a big one comes as NULL, to be read through a blob handle
        raw = "CASE WHEN length(raw) > ? THEN NULL ELSE raw END"
        params: tuple[object, ...] = (BLOB_BYTES, spool_id)
    else:
        raw, params = "raw", (spool_id,)
    row = sql.one(
        f"SELECT id, {raw}, mail_from, rcpt_tos, size, state, mailbox, source"
        " FROM spool WHERE id = ?",
        *params,
    )
    if row is None:
        return None
    data = row[1]
    if data is None:
        with sql.db.connection().blobopen(
            "spool", "raw", spool_id, readonly=True
        ) as blob:
            data = blob.read()
    return SpoolRow(
        row[0],
        bytes(data),
        row[2],
        json.loads(row[3] or "[]"),
        row[4],
        row[5],
        row[6],
        row[7],
    )


def lock_pending(sql: Sql, spool_id: int) -> bool:
    """Inside a transaction: claim the row if still `new`, so no other worker takes it.

    SQLite's IMMEDIATE transaction already holds the only write lock; PostgreSQL
    locks the row and skips it when another daemon has it.
    """
    query = "SELECT id FROM spool WHERE id = ? AND state = 'new'"
    if not sql.sqlite:
        query += " FOR UPDATE SKIP LOCKED"
    return sql.one(query, spool_id) is not None


def mark_done(
    sql: Sql,
    spool_id: int,
    outcome: str,
    message_id: str,
    ticket_id: int | None,
    note: str,
    now: datetime,
) -> None:
    """Record how the pipeline disposed of a message."""
    sql.run(
        "UPDATE spool SET state = 'done', outcome = ?, message_id = ?, ticket_id = ?, error = ?,"
        " processed_at = ?, attempts = attempts + 1 WHERE id = ?",
        outcome,
        message_id,
        ticket_id,
        note,
        now,
        spool_id,
    )


def quarantine(
    sql: Sql, spool_id: int, reason: str, message_id: str, now: datetime
) -> None:
    """Set a message aside with the reason; it is kept and can be retried."""
    with sql.db.atomic():
        sql.run(
            "UPDATE spool SET state = 'quarantined', outcome = 'quarantined', error = ?, message_id = ?,"
            " processed_at = ?, attempts = attempts + 1 WHERE id = ?",
            reason[:4000],
            message_id,
            now,
            spool_id,
        )


def note_transient_failure(sql: Sql, spool_id: int, reason: str) -> bool:
    """Count a temporary failure; returns True when the item should now be quarantined."""
    with sql.db.atomic():
        sql.run(
            "UPDATE spool SET attempts = attempts + 1, error = ? WHERE id = ?",
            reason[:4000],
            spool_id,
        )
        attempts = sql.scalar("SELECT attempts FROM spool WHERE id = ?", spool_id)
    return attempts is not None and attempts >= MAX_TRANSIENT_ATTEMPTS


def release(sql: Sql, spool_ids: Iterable[int]) -> int:
    """Put quarantined messages back in the queue; returns how many."""
    with sql.db.atomic():
        return (
            SpoolItem.update(state="new", outcome="", attempts=0)
            .where(SpoolItem.id.in_(list(spool_ids)), SpoolItem.state == "quarantined")
            .execute()
        )


retry = release  # the older name


def drop(sql: Sql, spool_ids: Iterable[int], reason: str, now: datetime) -> int:
    """Mark quarantined messages dropped: kept with the reason, never processed; how many."""
    ids = list(spool_ids)
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    with sql.db.atomic():
        # processed_at becomes the drop: retention counts from when it was given up
        cursor = sql.run(
            "UPDATE spool SET state = 'dropped', drop_reason = ?, processed_at = ?"
            f" WHERE state = 'quarantined' AND id IN ({marks})",
            reason[:4000],
            now,
            *ids,
        )
        return cursor.rowcount


def states(sql: Sql, spool_ids: Iterable[int]) -> dict[int, str]:
    """The state of each of these spool items that exists."""
    ids = list(spool_ids)
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = sql.all(f"SELECT id, state FROM spool WHERE id IN ({marks})", *ids)
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True)
class SpoolDetail:
    """Everything known about a spooled message except its bytes (`tierdesk spool why`)."""

    id: int
    state: str
    outcome: str
    error: str
    drop_reason: str | None
    message_id: str
    mail_from: str | None
    rcpt_tos: list[str]
    source: str
    peer: str
    mailbox: str
    size: int
    attempts: int
    ticket: int | None
    received_at: datetime | None
    processed_at: datetime | None
    purged_at: datetime | None


def describe(sql: Sql, spool_id: int) -> SpoolDetail | None:
    """A spooled message's state, reasons, envelope and ticket, or None."""
    row = sql.one(
        "SELECT s.id, s.state, s.outcome, s.error, s.drop_reason, s.message_id, s.mail_from,"
        " s.rcpt_tos, s.source, s.peer, s.mailbox, s.size, s.attempts, t.number,"
        " s.received_at, s.processed_at, s.purged_at"
        " FROM spool s LEFT JOIN ticket t ON t.id = s.ticket_id WHERE s.id = ?",
        spool_id,
    )
    if row is None:
        return None
    return SpoolDetail(
        *row[:7],
        json.loads(row[7] or "[]"),
        *row[8:14],
        *(as_aware_utc(value) for value in row[14:]),
    )


def listing(state: str | None = None) -> ModelSelect:
    """Spool rows without their raw bytes, newest first (a query to cut or count)."""
    fields = [f for f in SpoolItem._meta.sorted_fields if f.name != "raw"]
    query = SpoolItem.select(*fields).order_by(SpoolItem.id.desc())
    return query.where(SpoolItem.state == state) if state else query


def list_items(state: str | None = None, limit: int | None = 100) -> list[SpoolItem]:
    """The newest `limit` spool rows without their raw bytes (None or 0: all)."""
    return list(listing(state).limit(limit or None))


def outcome_of(sql: Sql, spool_id: int) -> Outcome | None:
    """The recorded outcome of a spool item that some pipeline already processed."""
    row = sql.one(
        "SELECT s.state, s.outcome, s.message_id, s.error, s.ticket_id, t.number"
        " FROM spool s LEFT JOIN ticket t ON t.id = s.ticket_id WHERE s.id = ?",
        spool_id,
    )
    if row is None or row[0] == "new":
        return None
    state, kind, message_id, error, ticket_id, number = row
    return outcome(kind or state, message_id, error, number, ticket_id)
