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

from peewee import Database, DatabaseError

from storage.clock import utcnow
from storage.db import StorageError, is_sqlite, reset_connection
from storage.models import SpoolItem

MAX_TRANSIENT_ATTEMPTS = 5


@dataclass(frozen=True)
class Arrival:
    """A message as intake received it, before it is spooled."""

    raw: bytes
    source: str
    mail_from: str | None = None
    rcpt_tos: Sequence[str] = ()
    peer: str = ""


def spool(db: Database, arrivals: Iterable[Arrival]) -> list[int]:
    """Store the arrivals in one durable commit and return their spool ids.

    Raises StorageError when the database cannot take them, so the caller
    answers 'try again later' instead of 'accepted'.
    """
    rows = [
        {
            "received_at": utcnow(),
            "source": a.source,
            "mail_from": a.mail_from,
            "rcpt_tos": json.dumps(list(a.rcpt_tos)),
            "peer": a.peer,
            "raw": a.raw,
            "sha256": hashlib.sha256(a.raw).hexdigest(),
            "size": len(a.raw),
        }
        for a in arrivals
    ]
    try:
        with db.atomic():
            return [SpoolItem.insert(**row).execute() for row in rows]
    except DatabaseError as exc:
        reset_connection(db)
        raise StorageError(f"cannot spool: {exc}") from exc


def pending_ids(limit: int = 100) -> list[int]:
    """Ids of spooled messages waiting for the pipeline, oldest first."""
    query = (
        SpoolItem.select(SpoolItem.id)
        .where(SpoolItem.state == "new")
        .order_by(SpoolItem.id)
    )
    return [row.id for row in query.limit(limit)]


def load(spool_id: int) -> SpoolItem | None:
    """A spool row with its raw bytes, or None."""
    return SpoolItem.get_or_none(SpoolItem.id == spool_id)


def lock_pending(db: Database, spool_id: int) -> bool:
    """Inside a transaction: claim the row if still `new`, so no other worker takes it.

    SQLite's IMMEDIATE transaction already holds the only write lock; PostgreSQL
    locks the row and skips it when another daemon has it.
    """
    query = SpoolItem.select(SpoolItem.id).where(
        SpoolItem.id == spool_id, SpoolItem.state == "new"
    )
    if not is_sqlite(db):
        query = query.for_update(skip_locked=True)
    return query.exists()


def mark_done(
    spool_id: int, outcome: str, message_id: str, ticket_id: int | None, note: str = ""
) -> None:
    """Record how the pipeline disposed of a message."""
    SpoolItem.update(
        state="done",
        outcome=outcome,
        message_id=message_id,
        ticket=ticket_id,
        error=note,
        processed_at=utcnow(),
        attempts=SpoolItem.attempts + 1,
    ).where(SpoolItem.id == spool_id).execute()


def quarantine(db: Database, spool_id: int, reason: str, message_id: str = "") -> None:
    """Set a message aside with the reason; it is kept and can be retried."""
    with db.atomic():
        SpoolItem.update(
            state="quarantined",
            outcome="quarantined",
            error=reason[:4000],
            message_id=message_id,
            processed_at=utcnow(),
            attempts=SpoolItem.attempts + 1,
        ).where(SpoolItem.id == spool_id).execute()


def note_transient_failure(db: Database, spool_id: int, reason: str) -> bool:
    """Count a temporary failure; returns True when the item should now be quarantined."""
    with db.atomic():
        SpoolItem.update(attempts=SpoolItem.attempts + 1, error=reason[:4000]).where(
            SpoolItem.id == spool_id
        ).execute()
        row = SpoolItem.get_or_none(SpoolItem.id == spool_id)
    return row is not None and row.attempts >= MAX_TRANSIENT_ATTEMPTS


def retry(db: Database, spool_ids: Iterable[int]) -> int:
    """Put quarantined messages back in the queue; returns how many."""
    with db.atomic():
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
