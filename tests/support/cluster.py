"""Several `tierdesk run` processes on one PostgreSQL schema, and a burst of mail across them."""

from __future__ import annotations

import contextlib
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from peewee import DatabaseError
from tierdesk.storage.db import reset_connection
from tierdesk.storage.sql import Sql

from tests.support.daemon_process import DaemonProcess

GIVE_UP_AFTER = 60.0  # seconds of failures in a row, as an MTA's patience in short


def cluster_yaml(imap: str = "", heartbeat: str = "1s", takeover: str = "4s") -> str:
    """Config for daemons that notice each other quickly (the tests cannot wait minutes)."""
    return (
        f"cluster:\n  heartbeat: {heartbeat}\n  mailbox_takeover: {takeover}\n"
        "  claim_timeout: 8s\npipeline:\n  parse_workers: 0\n" + imap
    )


def start_daemons(
    workdir: Path,
    storage_url: str,
    count: int,
    extra_yaml: str,
    relay_port: int,
    env: dict[str, str],
) -> list[DaemonProcess]:
    """`count` daemons on one database, each with its own SMTP port and log."""
    daemons = []
    for n in range(count):
        home = workdir / f"daemon-{n}"
        home.mkdir()
        daemons.append(
            DaemonProcess(
                home, storage_url, extra_yaml=extra_yaml, relay_port=relay_port
            )
        )
    try:
        for d in daemons:
            d.start(wait=False, env=env)
        for d in daemons:
            d.wait_listening(60)
    except BaseException:
        for d in daemons:  # none left running behind a failed start
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        raise
    return daemons


@dataclass
class Burst:
    """Messages sent over SMTP to several daemons at once, one client thread per list
    (list n starts at daemon n, modulo the number of daemons).

    When a client's daemon refuses, defers or dies, it sends that message
    (and the rest of its list) to the next daemon a moment later, as an MTA
    tries the next MX.
    """

    daemons: list[DaemonProcess]
    lists: list[list[tuple[str, str, bytes]]]  # per client: (Message-ID, sender, raw)
    accepted: set[str] = field(default_factory=set)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    deferred: int = 0  # 4xx answers: try again later

    def run(self, on_progress: Callable[[int], None] = lambda sent: None) -> None:
        """Send everything; returns when every list is through."""
        threads = [
            threading.Thread(target=self._client, args=(n, on_progress))
            for n in range(len(self.lists))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _client(self, n: int, on_progress: Callable[[int], None]) -> None:
        queue = list(self.lists[n])
        target = n % len(self.daemons)
        smtp: smtplib.SMTP | None = None
        failing_since: float | None = None
        while queue:
            message_id, sender, raw = queue[0]
            try:
                if smtp is None:
                    smtp = smtplib.SMTP(
                        "127.0.0.1", self.daemons[target].port, timeout=30
                    )
                smtp.sendmail(sender, ["support@example.com"], raw)
            except (OSError, smtplib.SMTPException) as exc:
                if isinstance(exc, smtplib.SMTPResponseException) and (
                    400 <= exc.smtp_code < 500
                ):
                    with self.lock:
                        self.deferred += 1
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > GIVE_UP_AFTER:
                    self.errors.append(f"client {n}: gave up on {message_id}: {exc}")
                    return
                if smtp is not None:
                    smtp.close()
                smtp = None
                target = (target + 1) % len(self.daemons)  # the next MX
                time.sleep(0.1)
                continue
            failing_since = None
            queue.pop(0)
            with self.lock:
                self.accepted.add(message_id)
                self.sent += 1
                sent = self.sent
            on_progress(sent)
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()


def settled(sql: Sql) -> bool:
    """Nothing waits in the spool or the outbox (a connection the test lost is let go)."""
    try:
        waiting = sql.scalar("SELECT COUNT(*) FROM spool WHERE state = 'new'")
        pending = sql.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
    except DatabaseError:
        reset_connection(sql.db)
        return False
    return waiting == 0 and pending == 0
