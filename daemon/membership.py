"""This daemon among the others on one database: its heartbeat and the leases it holds.

A `heartbeat` worker touches the daemon's row and renews its leases every
`cluster.heartbeat` seconds. An IMAP mailbox is watched under a lease
(`imap:NAME`): the poller takes it before a session and ends the session
when it no longer holds it; a poller without it stands by and tries again
each heartbeat, so a mailbox whose daemon died is taken over within
`cluster.mailbox_takeover` (plus one heartbeat). A lease counts as held only
while its last renewal is younger than the takeover time, so a daemon cut
off from the database stops watching before another one may start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

from peewee import DatabaseError
from tierdesk.daemon.config import ClusterConfig
from tierdesk.daemon.workers import Backoff, Worker
from tierdesk.storage.claims import Claimant
from tierdesk.storage.db import reset_connection
from tierdesk.storage.membership import (
    DaemonInfo,
    beat,
    daemons,
    drop_lease,
    join,
    leave,
    take_lease,
)
from tierdesk.storage.schema import SCHEMA_VERSION
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk.cluster")


def tierdesk_version() -> str:
    """The installed tierdesk's version, as heartbeats and `tierdesk status` show it."""
    try:
        return version("tierdesk")
    except PackageNotFoundError:
        return "unknown"


class Membership:
    """This daemon's heartbeat row and leases, kept fresh by a worker thread."""

    def __init__(
        self,
        sql: Sql,
        claimant: Claimant,
        cluster: ClusterConfig,
        sole: bool = False,
    ) -> None:
        self.sql = sql
        self.sole = sole  # no other daemon can be running (SQLite's claim)
        self.clock = claimant.clock  # the wall clock, like the claims
        now = self.clock()
        self.me = DaemonInfo(
            claimant.holder,
            socket.gethostname(),
            os.getpid(),
            tierdesk_version(),
            SCHEMA_VERSION,
            now,
            now,
        )
        self.takeover = timedelta(seconds=cluster.mailbox_takeover)
        self.retry_seconds = float(cluster.heartbeat)
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # lease -> monotonic time it is good until
        self.worker = Worker(
            "heartbeat",
            self._beat,
            float(cluster.heartbeat),
            sql.db.close,
            # a beat missed for a database that is away is retried at the next one
            backoff=Backoff(ceiling=float(cluster.heartbeat)),
        )

    @property
    def id(self) -> str:
        """This daemon's id (its heartbeat row, and the holder of its leases and claims)."""
        return self.me.id

    def start(self) -> None:
        """Add the heartbeat row and start beating."""
        with self.sql.db.connection_context():  # the caller's thread keeps none
            join(self.sql, self.me)
            self._reap_the_dead()
        self.worker.start()

    def stop(self) -> None:
        """Stop beating; free the leases, hand back the claims, remove the row."""
        self.worker.stop()
        with self._lock:
            self._held.clear()
        try:
            leave(self.sql, self.me.id)
        except DatabaseError as exc:  # the database is away: the leases run out instead
            log.warning("could not sign off (leases run out by themselves): %s", exc)
        finally:
            self.sql.db.close()

    def _beat(self) -> int:
        started = time.monotonic()
        now = self.clock()
        try:
            held = beat(self.sql, self.me, now, now + self.takeover)
            self._reap_the_dead()
        except DatabaseError:
            reset_connection(self.sql.db)
            raise
        good_until = started + self.takeover.total_seconds()
        with self._lock:
            # one not renewed runs out by itself: no other daemon can take it
            # before then, and one taken while this beat ran stays taken
            self._held.update(dict.fromkeys(held, good_until))
        return 0

    def _reap_the_dead(self) -> None:
        """Free at once what daemons known to be dead held, instead of waiting for it to expire.

        Known dead: on SQLite, every other (only one daemon can run); else a
        daemon on this host whose process is gone and which missed two beats
        (a restart after a crash takes its mailboxes back within seconds).
        """
        now = self.clock()
        quiet = timedelta(seconds=2 * self.retry_seconds)
        for other in daemons(self.sql):
            if other.id == self.me.id:
                continue
            dead = self.sole or (
                other.host == self.me.host
                and now - other.beat_at > quiet
                and not _process_exists(other.pid)
            )
            if dead:
                log.info(
                    "daemon %s (pid %d) is gone; its holdings are free",
                    other.id,
                    other.pid,
                )
                leave(self.sql, other.id)

    def take(self, name: str) -> str:
        """Take the lease `name` if it is free or ours; returns who holds it now."""
        started = time.monotonic()
        now = self.clock()
        holder = take_lease(self.sql, name, self.me.id, now, now + self.takeover)
        with self._lock:
            if holder == self.me.id:
                self._held[name] = started + self.takeover.total_seconds()
            else:
                self._held.pop(name, None)
        return holder

    def holds(self, name: str) -> bool:
        """True while this daemon holds `name` and renewed it recently enough."""
        with self._lock:
            return self._held.get(name, 0.0) > time.monotonic()

    def give_up(self, name: str) -> None:
        """Let another daemon have `name` at once."""
        with self._lock:
            self._held.pop(name, None)
        try:
            drop_lease(self.sql, name, self.me.id)
        except DatabaseError as exc:
            log.warning("could not give up %s (it runs out by itself): %s", name, exc)


def _process_exists(pid: int) -> bool:
    """True when a process with this pid runs on this host (or we may not ask)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
