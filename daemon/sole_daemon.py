"""On SQLite, one daemon at a time: a second `tierdesk run` on the same file refuses to start.

SQLite admits one writer, and on SQLite the pipeline, the sender and the
sweeps take it that they are alone; several daemons need PostgreSQL. The
claim is an exclusive `flock` on `<database>.daemon`, which the kernel lets
go when the process ends, however it ends: a killed daemon never keeps the
next one out. `inject` and the admin commands take no claim.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO


class AnotherDaemon(Exception):
    """Another daemon runs on this SQLite database; the message says which and what to do."""


@dataclass
class DaemonClaim:
    """This process's claim on a SQLite database; held until `release` or exit."""

    path: Path
    file: TextIO

    def release(self) -> None:
        """Let the next daemon in."""
        self.file.close()


def claim_path(database: Path) -> Path:
    """The file whose lock says a daemon runs on `database`."""
    return database.with_name(database.name + ".daemon")


def claim_database(database: Path, started: datetime) -> DaemonClaim:
    """Claim a SQLite database for this daemon, or raise AnotherDaemon."""
    path = claim_path(database)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that wrote nothing yet"
        handle.close()
        raise AnotherDaemon(
            f"another tierdesk daemon ({holder}) is running on {database}; "
            "a SQLite database takes one daemon: stop that one first, or give "
            "every daemon the same postgresql:// storage URL to run several"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {started:%Y-%m-%d %H:%M:%S %Z}\n")
    handle.flush()
    return DaemonClaim(path, handle)
