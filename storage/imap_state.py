"""IMAP intake state: how far each mailbox has been read, moved forward with the spool.

Fetched messages and the new checkpoint are committed in one transaction, so
a crash either keeps both or neither. A message whose exact bytes were
already spooled from the same mailbox (after a UIDVALIDITY change, or a
crash before the move) is not spooled again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from peewee import DatabaseError

from tierdesk.storage.db import StorageError, reset_connection
from tierdesk.storage.spool import Arrival, insert
from tierdesk.storage.sql import Sql


@dataclass(frozen=True)
class Checkpoint:
    """The UIDVALIDITY of a mailbox's folder and the last UID spooled from it."""

    uidvalidity: int
    last_uid: int


def load_checkpoint(sql: Sql, mailbox: str) -> Checkpoint | None:
    """The checkpoint of a mailbox, or None before its first message."""
    row = sql.one(
        "SELECT uidvalidity, last_uid FROM imap_checkpoint WHERE mailbox = ?", mailbox
    )
    return Checkpoint(row[0], row[1]) if row else None


def spool_fetched(
    sql: Sql,
    mailbox: str,
    uidvalidity: int,
    last_uid: int,
    messages: list[bytes],
    peer: str,
    now: datetime,
) -> list[int | None]:
    """Spool fetched messages and move the checkpoint to `last_uid`, in one commit.

    Returns each message's spool id, or None for bytes already spooled from
    this mailbox. Raises StorageError when the database cannot take them.
    """
    try:
        with sql.db.atomic():
            ids = []
            for raw in messages:
                digest = hashlib.sha256(raw).hexdigest()
                seen = sql.one(
                    "SELECT id FROM spool WHERE sha256 = ? AND mailbox = ?",
                    digest,
                    mailbox,
                )
                if seen is not None:
                    ids.append(None)
                    continue
                ids.append(
                    insert(
                        sql, Arrival(raw, "imap", None, (), peer, mailbox), now, digest
                    )
                )
            save_checkpoint(sql, mailbox, Checkpoint(uidvalidity, last_uid), now)
            return ids
    except DatabaseError as exc:
        reset_connection(sql.db)
        raise StorageError(f"cannot spool from mailbox {mailbox!r}: {exc}") from exc


def save_checkpoint(
    sql: Sql, mailbox: str, checkpoint: Checkpoint, now: datetime
) -> None:
    """Record how far a mailbox has been read (inside the caller's transaction)."""
    sql.run(
        "INSERT INTO imap_checkpoint (mailbox, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
        " last_uid = excluded.last_uid, updated_at = excluded.updated_at",
        mailbox,
        checkpoint.uidvalidity,
        checkpoint.last_uid,
        now,
    )
