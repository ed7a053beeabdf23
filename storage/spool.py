"""The spool: raw messages, durable before anyone is told "accepted".

States: `new` (waiting for the pipeline), `done` (processed; `outcome` says
how), `quarantined` (set aside with the reason in `error`; `retry` puts it
back). The raw bytes stay, so a message can always be shown or replayed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import DatabaseError

from tierdesk.storage.db import StorageError, reset_connection
from tierdesk.storage.models import SpoolItem
from tierdesk.storage.sql import Sql

MAX_TRANSIENT_ATTEMPTS = 5


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
    return sql.insert(
        "spool",
        received_at=now,
        source=arrival.source,
        mail_from=arrival.mail_from,
        rcpt_tos=json.dumps(list(arrival.rcpt_tos)),
        peer=arrival.peer,
        mailbox=arrival.mailbox,
        raw=arrival.raw,
        sha256=sha256 or hashlib.sha256(arrival.raw).hexdigest(),
        size=len(arrival.raw),
        state="new",
        attempts=0,
        error="",
        outcome="",
        message_id="",
    )


def pending_ids(sql: Sql, limit: int = 100) -> list[int]:
    """Ids of spooled messages waiting for the pipeline, oldest first."""
    rows = sql.all(
        "SELECT id FROM spool WHERE state = 'new' ORDER BY id LIMIT ?", limit
    )
    return [row[0] for row in rows]


def load(sql: Sql, spool_id: int) -> SpoolRow | None:
    """A spooled message with its raw bytes, or None."""
    row = sql.one(
        "SELECT id, raw, mail_from, rcpt_tos, size, state, mailbox, source FROM spool WHERE id = ?",
        spool_id,
    )
    if row is None:
        return None
    return SpoolRow(
        row[0],
        bytes(row[1]),
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


def retry(sql: Sql, spool_ids: Iterable[int]) -> int:
    """Put quarantined messages back in the queue; returns how many."""
    with sql.db.atomic():
        return (
            SpoolItem.update(state="new", outcome="", attempts=0)
            .where(SpoolItem.id.in_(list(spool_ids)), SpoolItem.state == "quarantined")
            .execute()
        )


def list_items(state: str | None = None, limit: int = 100) -> list[SpoolItem]:
    """Spool rows without their raw bytes, newest first."""
    fields = [f for f in SpoolItem._meta.sorted_fields if f.name != "raw"]
    query = SpoolItem.select(*fields).order_by(SpoolItem.id.desc()).limit(limit)
    if state:
        query = query.where(SpoolItem.state == state)
    return list(query)
