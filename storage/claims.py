"""Claims: which daemon works on which spool and outbox rows, and until when.

Several daemons share one database; each takes its next rows by claiming
them (`claimed_by`, `claimed_until`) in one statement that skips rows
another daemon is claiming at that moment (PostgreSQL's SKIP LOCKED;
SQLite has one writer). A claim is a lease: a daemon that dies leaves its
rows to the others once `claimed_until` has passed, and a daemon always
takes its own claims back. Claims are timed by the wall clock, never by a
test's business clock, since they are about which processes are alive.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.sql import Sql

CLAIM_SECONDS = 300.0


def new_holder_id() -> str:
    """A name for this process that no other daemon, here or on another host, has."""
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Claimant:
    """Who claims rows, and how long a claim holds should its holder die."""

    holder: str = field(default_factory=new_holder_id)
    hold_for: timedelta = timedelta(seconds=CLAIM_SECONDS)
    clock: Clock = system_clock

    def window(self) -> tuple[datetime, datetime]:
        """Now and the end of a claim made now (wall clock)."""
        now = self.clock()
        return now, now + self.hold_for


def skip_locked(sql: Sql, query: str) -> str:
    """`query` (a SELECT) so that it skips rows another transaction holds, where the database can."""
    return query if sql.sqlite else query + " FOR UPDATE SKIP LOCKED"


def release_claims(sql: Sql, holder: str) -> None:
    """A stopping daemon hands back what it claimed and did not finish."""
    with sql.db.atomic():
        sql.run(
            "UPDATE spool SET claimed_until = NULL WHERE claimed_by = ? AND state = 'new'",
            holder,
        )
        sql.run(
            "UPDATE outbox SET claimed_until = NULL"
            " WHERE claimed_by = ? AND state = 'pending'",
            holder,
        )
