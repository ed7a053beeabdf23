"""Crash safety, proved: mail over SMTP and IMAP while `tierdesk run` is SIGKILLed and restarted.

    python bench/crash.py -n 500 --kills 6            # prints one JSON line of findings
    python bench/crash.py -n 60 --kills 3 --storage postgresql://postgres@127.0.0.1/test

SMTP clients behave like an MTA: a message counts as acknowledged when it
got 250; anything else (refused connection, 4xx, a dropped session) is
retried with the same bytes. IMAP messages are appended to a real Dovecot
and count as acknowledged once moved out of INBOX. After the last restart
the daemon settles, and the findings are: acknowledged messages in no
ticket (lost), Message-IDs in more than one ticket, tickets beyond one per
request, and acknowledgements that reached the relay more than once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.storage.db import open_database
from tierdesk.storage.models import Message, OutboxItem, SpoolItem, Ticket

from tests.support.daemon_process import DaemonProcess, wait_until
from tests.support.dovecot import DovecotServer, ensure_dovecot_installed
from tests.support.relay_sink import start_sink

IMAP_USER, IMAP_PASSWORD = "support", "crash-test"


def request(i: int, channel: str) -> tuple[str, bytes]:
    """A new request from its own customer; returns (Message-ID, raw)."""
    message_id = f"crash-{channel}-{i}@customer{i}.example"
    # delivered into the mailbox by an MTA, which puts the envelope sender on top
    trace = f"Return-Path: <c{i}@customer{i}.example>\r\n" if channel == "imap" else ""
    raw = (
        f"{trace}From: Customer {i} <c{i}@customer{i}.example>\r\nTo: support@example.com\r\n"
        f"Subject: Request {channel} {i}\r\nMessage-ID: <{message_id}>\r\n"
        f"Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n\r\nPlease help with problem {i}.\r\n"
    ).encode()
    return message_id, raw


class Scenario:
    """The daemon, its clients and the killer, with what each saw."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.done_sending = threading.Event()
        self.kills = 0
        self.sink, self.sink_controller = start_sink()
        self.dovecot = DovecotServer(work / "dovecot").start()
        self.dovecot.add_user(IMAP_USER, IMAP_PASSWORD)
        imap = (
            f"imap:\n  - name: crash\n    host: 127.0.0.1\n    port: {self.dovecot.port}\n"
            f"    security: none\n    username: {IMAP_USER}\n    password_env: CRASH_IMAP_PW\n"
            "    poll_interval: 1s\n    trust_return_path: true\n"
        )
        self.daemon = DaemonProcess(
            work, args.storage, extra_yaml=imap, relay_port=self.sink_controller.port
        )
        self.env = {"CRASH_IMAP_PW": IMAP_PASSWORD}

    def run(self) -> dict[str, object]:
        """Send, kill and restart, settle, then count."""
        self.daemon.start(env=self.env)
        smtp_n = self.args.n // 2
        threads = [
            threading.Thread(target=self.smtp_client, args=(range(k, smtp_n, 2),))
            for k in range(2)
        ] + [
            threading.Thread(
                target=self.imap_client, args=(range(self.args.n - smtp_n),)
            )
        ]
        killer = threading.Thread(target=self.killer)
        for t in [*threads, killer]:
            t.start()
        for t in threads:
            t.join()
        self.done_sending.set()
        killer.join()
        if self.daemon.proc is None or self.daemon.proc.poll() is not None:
            self.daemon.start(env=self.env)
        self.settle()
        findings = self.count()
        self.daemon.stop()
        return findings

    def smtp_client(self, numbers: range) -> None:
        for i in numbers:
            message_id, raw = request(i, "smtp")
            while True:
                try:
                    with smtplib.SMTP(
                        "127.0.0.1", self.daemon.port, timeout=30
                    ) as smtp:
                        smtp.sendmail(
                            f"c{i}@customer{i}.example", ["support@example.com"], raw
                        )
                    break
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.05)  # an MTA retries the same message later
            with self.lock:
                self.acked.append(message_id)
            time.sleep(self.args.pace)

    def imap_client(self, numbers: range) -> None:
        for i in numbers:
            message_id, raw = request(i, "imap")
            self.dovecot.append(IMAP_USER, raw)
            with self.lock:
                self.acked.append(
                    message_id
                )  # counted once it has left INBOX (checked in settle)
            time.sleep(0.002)

    def killer(self) -> None:
        while self.kills < self.args.kills and not self.done_sending.is_set():
            time.sleep(self.rng.uniform(0.3, 1.5))
            self.daemon.kill()
            self.kills += 1
            time.sleep(self.rng.uniform(0.05, 0.5))
            self.daemon.start(wait=False, env=self.env)
            self.daemon.wait_listening(60)

    def settle(self) -> None:
        db = open_database(self.args.storage)
        try:

            def quiet() -> bool:
                pending = SpoolItem.select().where(SpoolItem.state == "new").count()
                unsent = (
                    OutboxItem.select().where(OutboxItem.state == "pending").count()
                )
                return (
                    pending == 0
                    and unsent == 0
                    and self.dovecot.list_uids(IMAP_USER) == []
                )

            wait_until(quiet, timeout=300, interval=0.5, message="the daemon to settle")
        finally:
            db.close()
        time.sleep(1.0)

    def count(self) -> dict[str, object]:
        db = open_database(self.args.storage)
        try:
            stored = dict(
                Message.select(Message.message_id, Message.ticket)
                .where(Message.direction == "in")
                .tuples()
            )
            tickets = Ticket.select().count()
            outcomes = Counter(s.outcome for s in SpoolItem.select(SpoolItem.outcome))
            quarantined = (
                SpoolItem.select().where(SpoolItem.state == "quarantined").count()
            )
        finally:
            db.close()
        acks = Counter(r.message["In-Reply-To"] for r in self.sink.received)
        lost = [m for m in self.acked if m not in stored]
        return {
            "messages": self.args.n,
            "acknowledged": len(self.acked),
            "kills": self.kills,
            "lost": len(lost),
            "tickets": tickets,
            "extra_tickets": tickets
            - len(stored),  # every request is a ticket of its own
            "acks_received": sum(acks.values()),
            "tickets_without_ack": len({f"<{m}>" for m in stored} - set(acks)),
            "duplicate_acks": sum(n - 1 for n in acks.values() if n > 1),
            "spool_outcomes": dict(outcomes),
            "quarantined": quarantined,
        }

    def close(self) -> None:
        self.daemon.kill()
        self.dovecot.close()
        self.sink_controller.stop()


def main() -> int:
    """Run the scenario once and print its findings as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n", type=int, default=500, help="messages, half over SMTP, half over IMAP"
    )
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pace",
        type=float,
        default=0.01,
        help="seconds each client waits between messages",
    )
    parser.add_argument(
        "--storage", help="database URL (default: SQLite in the work dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()
    reason = ensure_dovecot_installed()
    if reason:
        print(json.dumps({"skipped": reason}))
        return 0
    work = Path(
        tempfile.mkdtemp(
            prefix="tierdesk-crash-", dir=os.environ.get("TMPDIR_DISK", "/var/tmp")
        )
    )
    args.storage = args.storage or f"sqlite:///{work / 'data' / 'tierdesk.db'}"
    scenario = Scenario(args, work)
    try:
        findings = scenario.run()
    finally:
        scenario.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(findings))
    return 0 if findings["lost"] == 0 and findings["extra_tickets"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
