"""Retention: the raw bytes of mail processed long ago, and attachment bytes nothing uses.

Safe while a daemon runs: the work goes in batches of a few hundred rows,
each its own short transaction, so SQLite's single writer is never held for
long and PostgreSQL locks only one batch's rows (skipping rows another
transaction holds). Only `done` and `dropped` spool rows lose their bytes;
`new` and `quarantined` ones are never touched. The row, its metadata and
its sha256 stay (IMAP intake still recognises the bytes if they come again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from peewee import IntegrityError
from tierdesk.storage.sql import Sql

PURGE_BATCH = 200

# a spool row whose raw bytes may go: finished with, before the cutoff, not yet purged
PURGEABLE = "state IN ('done', 'dropped') AND purged_at IS NULL AND processed_at < ?"
UNUSED_BLOB = "NOT EXISTS (SELECT 1 FROM attachment a WHERE a.sha256 = blob.sha256)"


@dataclass
class Freed:
    """How many rows gave up their bytes, and how many bytes that was."""

    rows: int = 0
    bytes: int = 0

    def add(self, sizes: list[int]) -> None:
        """Count rows of these sizes."""
        self.rows += len(sizes)
        self.bytes += sum(sizes)


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove)."""

    raw_mail: Freed = field(default_factory=Freed)
    blobs: Freed = field(default_factory=Freed)

    @property
    def bytes(self) -> int:
        """Bytes freed in all."""
        return self.raw_mail.bytes + self.blobs.bytes


def purge(
    sql: Sql,
    cutoff: datetime,
    now: datetime,
    dry_run: bool = False,
    batch: int = PURGE_BATCH,
) -> PurgeReport:
    """Empty the raw bytes of mail done or dropped before `cutoff`, delete unused blobs."""
    if dry_run:
        return PurgeReport(
            _sizes_sum(sql, f"SELECT size FROM spool WHERE {PURGEABLE}", cutoff),
            _sizes_sum(sql, f"SELECT size FROM blob WHERE {UNUSED_BLOB}"),
        )
    return PurgeReport(
        _purge_raw_mail(sql, cutoff, now, batch), _delete_unused_blobs(sql, batch)
    )


def _sizes_sum(sql: Sql, query: str, *params: object) -> Freed:
    rows, total = sql.one(
        f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ({query}) AS sizes", *params
    )
    return Freed(rows, int(total))


def _purge_raw_mail(sql: Sql, cutoff: datetime, now: datetime, batch: int) -> Freed:
    freed = Freed()
    select = f"SELECT id FROM spool WHERE {PURGEABLE} AND id > ? ORDER BY id LIMIT ?"
    if not sql.sqlite:
        select += (
            " FOR UPDATE SKIP LOCKED"  # a row in use elsewhere waits for the next run
        )
    after = 0
    while True:
        with sql.db.atomic():
            ids = [row[0] for row in sql.all(select, cutoff, after, batch)]
            if not ids:
                return freed
            marks = ", ".join("?" * len(ids))
            sizes = sql.all(
                f"UPDATE spool SET raw = ?, purged_at = ? WHERE id IN ({marks})"
                f" AND {PURGEABLE} RETURNING size",
                b"",
                now,
                *ids,
                cutoff,
            )
        freed.add([row[0] for row in sizes])
        after = ids[-1]


def _delete_unused_blobs(sql: Sql, batch: int) -> Freed:
    freed = Freed()
    select = (
        f"SELECT sha256 FROM blob WHERE sha256 > ? AND {UNUSED_BLOB}"
        " ORDER BY sha256 LIMIT ?"
    )
    after = ""
    while True:
        keys: list[str] = []
        try:
            with sql.db.atomic():
                keys = [row[0] for row in sql.all(select, after, batch)]
                if not keys:
                    return freed
                marks = ", ".join("?" * len(keys))
                sizes = sql.all(
                    f"DELETE FROM blob WHERE sha256 IN ({marks}) AND {UNUSED_BLOB}"
                    " RETURNING size",
                    *keys,
                )
            freed.add([row[0] for row in sizes])
        except IntegrityError:
            # a new attachment took one of these bytes meanwhile (PostgreSQL; the
            # foreign key refused the delete): this batch stays, the next run looks again
            pass
        after = keys[-1]
