"""SMTP intake benchmark: messages/s accepted by `tierdesk run` from concurrent clients.

    python bench/smtp.py                  # 2000 messages, 4 clients, SQLite on disk
    python bench/smtp.py -n 4000 --clients 8 --storage postgresql://postgres@127.0.0.1/test

Each client keeps one SMTP session and sends its share of the corpus as
separate transactions. Printed: messages/s accepted (250 received), p50/p99
time from the end of DATA (the final dot) to the 250, and how long the
pipeline needed afterwards to turn everything into tickets. Nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.storage.db import open_database
from tierdesk.storage.models import SpoolItem, Ticket

from bench.corpus import generate
from tests.support.daemon_process import DaemonProcess, wait_until


def send_share(
    port: int, messages: list[bytes], latencies: list[float], lock: threading.Lock
) -> None:
    """One client: one session, one transaction per message, timing DATA's final dot to 250."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        for raw in messages:
            body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            body = b"\r\n".join(
                b"." + line if line.startswith(b".") else line
                for line in body.split(b"\r\n")
            )
            smtp.mail("customer@example.org")
            smtp.rcpt("support@example.com")
            code, _ = smtp.docmd("DATA")
            assert code == 354, code
            smtp.send(body + b"\r\n.\r\n")
            started = time.perf_counter()
            code, reply = smtp.getreply()
            elapsed = time.perf_counter() - started
            assert code == 250, (code, reply)
            with lock:
                latencies.append(elapsed)


def main() -> int:
    """Start a daemon, drive it with concurrent clients, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--storage", help="database URL (default: SQLite in a work dir on disk)"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TMPDIR_DISK", "/var/tmp"))
    )
    args = parser.parse_args()
    messages = generate(args.n, args.seed)
    work = Path(tempfile.mkdtemp(prefix="tierdesk-smtpbench-", dir=args.dir))
    storage = args.storage or f"sqlite:///{work / 'data' / 'tierdesk.db'}"
    daemon = DaemonProcess(work, storage, extra_yaml="log_level: warning\n").start()
    latencies: list[float] = []
    lock = threading.Lock()
    try:
        shares = [messages[k :: args.clients] for k in range(args.clients)]
        threads = [
            threading.Thread(target=send_share, args=(daemon.port, s, latencies, lock))
            for s in shares
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_s = time.perf_counter() - started
        db = open_database(storage)
        wait_until(
            lambda: SpoolItem.select().where(SpoolItem.state == "new").count() == 0,
            timeout=600,
            interval=0.05,
            message="the pipeline to catch up",
        )
        processed_s = time.perf_counter() - started
        tickets = Ticket.select().count()
        db.close()
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
    latencies.sort()
    print(
        f"# storage {storage.split('?')[0]}, {args.clients} clients, {args.n} messages, load {os.getloadavg()[0]:.2f}"
    )
    print(
        "# accepted_msgs/s  p50_ms  p99_ms  all_ticketed_after_s  end_to_end_msgs/s  tickets"
    )
    print(
        f"{len(latencies) / accepted_s:16.0f}  {statistics.median(latencies) * 1000:6.2f}  "
        f"{latencies[int(len(latencies) * 0.99) - 1] * 1000:6.2f}  {processed_s:20.1f}  "
        f"{args.n / processed_s:17.0f}  {tickets:7}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
