"""Copies of a SQLite desk: a consistent backup while the daemon writes, and its restore.

SQLite's online backup API copies the database in one step (`pages=-1`):
a snapshot as of one transaction, and the writer is not held up. In small
steps every commit by another process restarts the copy, which then
finishes only when the writer stops (measured; see docs). A copy is written
under a temporary name, checked, synced and only then given its name, so
a half-made backup never looks like a backup.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class BackupError(Exception):
    """A backup or restore that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class CopyReport:
    """What a backup or restore copied."""

    path: Path
    size: int
    schema_version: int | None
    tickets: int
    messages: int


def backup_sqlite(database: Path, target: Path) -> CopyReport:
    """Copy a live SQLite database to `target` (a new file), consistent as of one instant."""
    if not database.exists():
        raise BackupError(f"{database} does not exist: nothing to back up")
    if target.exists():
        raise BackupError(
            f"{target} exists: a backup never overwrites, name a new file"
        )
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    _copy(database, target)
    return describe(target)


def restore_sqlite(
    backup: Path, database: Path, now: datetime
) -> tuple[CopyReport, Path | None]:
    """Put a backup in place of `database`; a database already there is set aside, not lost.

    Returns what was restored and where the database it replaced now lives.
    The caller makes sure no daemon runs on `database`.
    """
    describe(backup)  # raises for a file that is not a sound tierdesk backup
    database.parent.mkdir(parents=True, exist_ok=True)
    set_aside = None
    if database.exists():
        set_aside = database.with_name(
            f"{database.name}.before-restore-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        )
        _checkpoint(database)  # its WAL must not be laid over the restored copy
        os.replace(database, set_aside)
    for leftover in _wal_files(database):
        leftover.unlink(missing_ok=True)
    _copy(backup, database)
    return describe(database), set_aside


def describe(path: Path) -> CopyReport:
    """Check a copy (SQLite's integrity check, our schema) and count what it holds."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = con.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"{path} is damaged: {verdict}")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "meta" not in tables or "ticket" not in tables:
                raise BackupError(
                    f"{path} is not a tierdesk database (no tierdesk schema)"
                )
            version = con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            tickets = con.execute("SELECT COUNT(*) FROM ticket").fetchone()[0]
            messages = con.execute("SELECT COUNT(*) FROM message").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
    return CopyReport(
        path,
        path.stat().st_size,
        int(version[0]) if version else None,
        tickets,
        messages,
    )


def _copy(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(partial))
    try:
        src.backup(dst)  # one step: a restarted copy never finishes under a busy writer
        # the copy is a file of its own: no WAL beside it to lose on the way
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"copying {source} failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    _sync(partial)
    os.replace(partial, target)
    _sync(target.parent)


def _checkpoint(database: Path) -> None:
    con = sqlite3.connect(str(database), timeout=30)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _wal_files(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")]


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
