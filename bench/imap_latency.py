"""IMAP pick-up latency: from a message landing in an IDLE-watched Dovecot folder to its ticket.

    python bench/imap_latency.py            # 40 messages, one at a time
    python bench/imap_latency.py -n 100 --no-idle   # the polling fallback (poll_interval 1s)

Each message is appended to a real Dovecot INBOX that `tierdesk run` watches;
the clock stops when the ticket is in the database. Prints p50/p90/max.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.storage.db import open_database
from tierdesk.storage.models import Message

from tests.support.daemon_process import DaemonProcess
from tests.support.dovecot import DovecotServer, ensure_dovecot_installed


def main() -> int:
    """Measure and print the pick-up latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument(
        "--no-idle", action="store_true", help="hide IDLE: measure the polling fallback"
    )
    args = parser.parse_args()
    reason = ensure_dovecot_installed()
    if reason:
        print(f"skipped: {reason}")
        return 0
    work = Path(
        tempfile.mkdtemp(
            prefix="tierdesk-imaplat-", dir=os.environ.get("TMPDIR_DISK", "/var/tmp")
        )
    )
    dovecot = DovecotServer(
        work / "dovecot", capabilities_without=("IDLE",) if args.no_idle else ()
    ).start()
    dovecot.add_user("support", "pw")
    imap = (
        f"imap:\n  - name: bench\n    host: 127.0.0.1\n    port: {dovecot.port}\n    security: none\n"
        "    username: support\n    password_env: BENCH_IMAP_PW\n    poll_interval: 1s\n"
    )
    storage = f"sqlite:///{work / 'data' / 'tierdesk.db'}"
    daemon = DaemonProcess(work, storage, extra_yaml=imap + "log_level: warning\n")
    daemon.start(env={"BENCH_IMAP_PW": "pw"})
    db = open_database(storage)
    latencies = []
    try:
        time.sleep(2.0)  # connected and idling
        for i in range(args.n):
            message_id = f"latency-{i}@customer.example"
            raw = (
                f"From: c{i}@customer.example\r\nTo: support@example.com\r\nSubject: latency {i}\r\n"
                f"Message-ID: <{message_id}>\r\n\r\nhello\r\n"
            ).encode()
            started = time.perf_counter()
            dovecot.append("support", raw)
            while not Message.select().where(Message.message_id == message_id).exists():
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.2)
    finally:
        db.close()
        daemon.stop()
        dovecot.close()
        shutil.rmtree(work, ignore_errors=True)
    latencies.sort()
    mode = "polling (1s)" if args.no_idle else "IDLE"
    print(f"# {mode}: append to Dovecot -> ticket in the database, {args.n} messages")
    print(
        f"p50 {statistics.median(latencies) * 1000:.0f} ms  p90 {latencies[int(len(latencies) * 0.9) - 1] * 1000:.0f} ms"
        f"  max {latencies[-1] * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
