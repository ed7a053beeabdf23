"""Scale-out: messages/s end to end with 1, 2 and 4 daemons on PostgreSQL, and SQLite with one.

    python bench/scale.py                       # N=2,000 each, prints a table and JSON lines
    python bench/scale.py -n 4000 --daemons 1,2,4,8 --pg postgresql://postgres@127.0.0.1/test

Each run starts fresh: a new database (a SQLite file, or a private PostgreSQL
schema), K `tierdesk run` processes on it, and `--sessions` SMTP clients
(default 8, as a busy MX keeps several sessions open) spread over the
daemons, each with one session at a time, sending the same corpus as bench/ingest.py (40 % new requests, 60 %
replies) with its own From as the envelope sender. The clock runs from the
first message sent until every message is processed and every
acknowledgement written to the daemons' Maildirs. It prints messages/s,
acceptance rate (the SMTP side alone), p50/p95/p99 of spool-to-processed
latency, peak RSS per daemon, and the CPU seconds spent by the daemons, by
PostgreSQL and by the clients, against the cores the machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from bench.corpus import generate
from bench.ingest import envelope_sender
from tests.support.cluster import Burst, start_daemons
from tests.support.pg_schema import postgres_schema

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and the children it waited for (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def family(pid: int) -> list[int]:
    """A process and its descendants (the daemon and its parse workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(family(int(child)))
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this host (its backends included)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += cpu_seconds(int(proc.name))
        except OSError:
            continue
    return total


def settled(sql: Sql, total: int) -> bool:
    """Every message processed and every mail handed over."""
    row = sql.one(
        "SELECT (SELECT COUNT(*) FROM spool WHERE state = 'done'),"
        " (SELECT COUNT(*) FROM outbox WHERE state = 'pending')"
    )
    return row is not None and row[0] >= total and row[1] == 0


def one_run(
    storage_url: str, daemons: int, sessions: int, messages: list[bytes], work: Path
) -> dict:
    """K daemons on one database, the corpus over SMTP, measured to the last ack."""
    clients = max(sessions, daemons)  # client n sends to daemon n % K
    lists: list[list[tuple[str, str, bytes]]] = [[] for _ in range(clients)]
    for i, raw in enumerate(messages):
        lists[i % clients].append((f"m{i}", envelope_sender(raw), raw))
    extra = "log_level: warning\n"
    procs = start_daemons(work, storage_url, daemons, extra, 0, {})  # 0: Maildir
    db = open_database(storage_url)
    sql = Sql(db)
    try:
        pg_before = postgres_cpu() if storage_url.startswith("postgres") else 0.0
        daemons_before = sum(cpu_seconds(p) for d in procs for p in family(d.proc.pid))
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        burst = Burst(procs, lists)
        started = time.perf_counter()
        sender = threading.Thread(target=burst.run)
        sender.start()
        sender.join()
        accepted = time.perf_counter() - started
        while not settled(sql, len(messages)):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        daemon_cpu = (
            sum(cpu_seconds(p) for d in procs for p in family(d.proc.pid))
            - daemons_before
        )
        pg_cpu = (postgres_cpu() - pg_before) if pg_before else 0.0
        latencies = [
            (as_aware_utc(done) - as_aware_utc(received)).total_seconds()
            for received, done in sql.all(
                "SELECT received_at, processed_at FROM spool WHERE state = 'done'"
            )
        ]
        rss = [round(peak_rss_mb(d.proc.pid), 1) for d in procs]
    finally:
        db.close()
        for d in procs:
            d.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    return {
        "storage": "postgresql" if storage_url.startswith("postgres") else "sqlite",
        "daemons": daemons,
        "smtp_sessions": clients,
        "messages": len(messages),
        "errors": burst.errors,
        "msg_per_s": round(len(messages) / elapsed, 1),
        "accept_per_s": round(len(messages) / accepted, 1),
        "seconds": round(elapsed, 2),
        "latency_p50_s": round(quantiles[49], 3),
        "latency_p95_s": round(quantiles[94], 3),
        "latency_p99_s": round(quantiles[98], 3),
        "peak_rss_mb_per_daemon": rss,
        "cpu_s_daemons": round(daemon_cpu, 1),
        "cpu_s_postgres": round(pg_cpu, 1),
        "cpu_s_clients": round(client_cpu, 1),
        "cores": os.cpu_count(),
    }


def main() -> int:
    """Run every configuration once, in this order, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="messages per run")
    parser.add_argument(
        "--daemons", default="1,2,4", help="daemon counts on PostgreSQL"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "TIERDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--dir", default="/var/tmp", help="where SQLite files and logs go"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=8,
        help="concurrent SMTP sessions, spread over the daemons",
    )
    args = parser.parse_args()
    messages = generate(args.n)
    results = []
    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.dir)))
        work = base / "sqlite-1"
        work.mkdir()
        runs = [(f"sqlite:///{work / 'tierdesk.db'}", 1, work)]
        for k in (int(k) for k in args.daemons.split(",")):
            work = base / f"pg-{k}"
            work.mkdir()
            url = stack.enter_context(postgres_schema(args.pg, prefix="scale"))
            runs.append((url, k, work))
        for url, k, work in runs:
            result = one_run(url, k, args.sessions, messages, work)
            results.append(result)
            print(json.dumps(result), flush=True)
    print(f"\n{os.cpu_count()} cores; N={args.n} per run")
    print(
        "| storage | daemons | msg/s | accepted msg/s | p50 / p95 / p99 s | CPU s daemons / PostgreSQL / clients |"
    )
    print("|---|---:|---:|---:|---|---|")
    for r in results:
        print(
            f"| {r['storage']} | {r['daemons']} | {r['msg_per_s']} | {r['accept_per_s']}"
            f" | {r['latency_p50_s']} / {r['latency_p95_s']} / {r['latency_p99_s']}"
            f" | {r['cpu_s_daemons']} / {r['cpu_s_postgres']} / {r['cpu_s_clients']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
