"""IMAP intake state: how far each mailbox has been read, moved forward with the spool.

A fetched batch is committed in one transaction: its new messages, the
attempts counted for messages the server listed but sent without their body,
and the checkpoint. The checkpoint passes a UID only once its bytes are
stored, or once it has been given up after `missing_body_attempts` rounds,
so a crash or a server that leaves a body out never loses a message. A
message whose exact bytes were already spooled from the same mailbox (after
a UIDVALIDITY change, or a crash before the move) is not spooled again; its
bytes are stored all the same, so it may be moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Mailbox:
    """Which mailbox (and folder incarnation) a batch came from, and from where."""

    name: str
    uidvalidity: int
    peer: str
    missing_body_attempts: int


@dataclass
class BatchIntake:
    """What became of one fetched batch, UID by UID, and where the checkpoint is now."""

    checkpoint: int
    advancing: bool  # False once a UID this round holds the checkpoint back
    new: dict[int, int] = field(default_factory=dict)  # UID -> spool id
    already_spooled: dict[int, int] = field(default_factory=dict)  # UID -> spool id
    missing: dict[int, int] = field(default_factory=dict)  # UID -> attempts so far
    given_up: list[int] = field(default_factory=list)  # given up on just now

    @property
    def stored(self) -> list[int]:
        """UIDs whose bytes are in the spool: only these may be moved or flagged."""
        return sorted([*self.new, *self.already_spooled])


@contextmanager
def _storage_errors(sql: Sql, mailbox: str) -> Iterator[None]:
    """Turn a database failure into StorageError (the poller retries the session)."""
    try:
        yield
    except DatabaseError as exc:
        reset_connection(sql.db)
        raise StorageError(f"cannot spool from mailbox {mailbox!r}: {exc}") from exc


def load_checkpoint(sql: Sql, mailbox: str) -> Checkpoint | None:
    """The checkpoint of a mailbox, or None before its first message."""
    row = sql.one(
        "SELECT uidvalidity, last_uid FROM imap_checkpoint WHERE mailbox = ?", mailbox
    )
    return Checkpoint(row[0], row[1]) if row else None


def take_batch(
    sql: Sql,
    mailbox: Mailbox,
    batch: Sequence[int],
    bodies: dict[int, bytes],
    checkpoint: int,
    advancing: bool,
    now: datetime,
) -> BatchIntake:
    """Spool a fetched batch (UIDs ascending), count the missing bodies, move the checkpoint.

    The checkpoint moves to each UID that is stored or given up, as long as
    no UID before it (this round, `advancing`) held it back. One commit.
    Raises StorageError when the database cannot take them.
    """
    intake = BatchIntake(checkpoint, advancing)
    with _storage_errors(sql, mailbox.name), sql.db.atomic():
        for uid in batch:
            raw = bodies.get(uid)
            if raw is not None:
                _spool_one(sql, mailbox, uid, raw, intake, now)
                passable = True
            else:
                passable = _count_missing(sql, mailbox, uid, intake, now)
            if intake.advancing and passable:
                intake.checkpoint = max(intake.checkpoint, uid)
            else:
                intake.advancing = False
        _forget_settled(sql, mailbox, intake)
        save_checkpoint(
            sql,
            mailbox.name,
            Checkpoint(mailbox.uidvalidity, intake.checkpoint),
            now,
        )
    return intake


def _spool_one(
    sql: Sql, mailbox: Mailbox, uid: int, raw: bytes, intake: BatchIntake, now: datetime
) -> None:
    digest = hashlib.sha256(raw).hexdigest()
    seen = sql.scalar(
        "SELECT id FROM spool WHERE sha256 = ? AND mailbox = ? ORDER BY id LIMIT 1",
        digest,
        mailbox.name,
    )
    if seen is not None:
        intake.already_spooled[uid] = seen
        return
    arrival = Arrival(raw, "imap", None, (), mailbox.peer, mailbox.name)
    intake.new[uid] = insert(sql, arrival, now, digest)


def _count_missing(
    sql: Sql, mailbox: Mailbox, uid: int, intake: BatchIntake, now: datetime
) -> bool:
    """Count one more round without a body; True when the UID is (now) given up."""
    key = (mailbox.name, mailbox.uidvalidity, uid)
    sql.run(
        "INSERT INTO imap_missing_body (mailbox, uidvalidity, uid, attempts, last_missing_at)"
        " VALUES (?, ?, ?, 1, ?) ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE"
        " SET attempts = imap_missing_body.attempts + 1, last_missing_at = excluded.last_missing_at"
        " WHERE imap_missing_body.given_up_at IS NULL",
        *key,
        now,
    )
    attempts, given_up_at = sql.one(
        "SELECT attempts, given_up_at FROM imap_missing_body"
        " WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
        *key,
    )
    if given_up_at is not None:
        return True  # given up in an earlier round, and logged then
    if attempts < max(1, mailbox.missing_body_attempts):
        intake.missing[uid] = attempts
        return False
    sql.run(
        "UPDATE imap_missing_body SET given_up_at = ?"
        " WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
        now,
        *key,
    )
    intake.given_up.append(uid)
    return True


def _forget_settled(sql: Sql, mailbox: Mailbox, intake: BatchIntake) -> None:
    """Drop the counts of bodies that came after all, and of UIDs that vanished."""
    stored = intake.stored
    if stored:
        marks = ", ".join("?" * len(stored))
        sql.run(
            "DELETE FROM imap_missing_body WHERE mailbox = ? AND uidvalidity = ?"
            f" AND uid IN ({marks})",
            mailbox.name,
            mailbox.uidvalidity,
            *stored,
        )
    # below the checkpoint and not given up: expunged while being retried
    sql.run(
        "DELETE FROM imap_missing_body WHERE mailbox = ? AND uidvalidity = ?"
        " AND uid <= ? AND given_up_at IS NULL",
        mailbox.name,
        mailbox.uidvalidity,
        intake.checkpoint,
    )


def given_up_uids(sql: Sql, mailbox: str, uidvalidity: int) -> set[int]:
    """UIDs left in the folder because their body never came (never moved or flagged)."""
    with _storage_errors(sql, mailbox):
        rows = sql.all(
            "SELECT uid FROM imap_missing_body WHERE mailbox = ? AND uidvalidity = ?"
            " AND given_up_at IS NOT NULL",
            mailbox,
            uidvalidity,
        )
    return {row[0] for row in rows}


def forget_missing_bodies(sql: Sql, mailbox: str, keep_uidvalidity: int) -> None:
    """After a UIDVALIDITY change: the counts of the old folder's UIDs mean nothing now."""
    with _storage_errors(sql, mailbox), sql.db.atomic():
        sql.run(
            "DELETE FROM imap_missing_body WHERE mailbox = ? AND uidvalidity <> ?",
            mailbox,
            keep_uidvalidity,
        )


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
