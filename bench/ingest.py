"""Ingestion benchmark: messages/s through spool → pipeline → outbox, on disk, durable commits.

    python bench/ingest.py                 # N=1,000 and N=10,000, each in a fresh process
    python bench/ingest.py -n 2000 --profile
    python bench/ingest.py --dir /var/tmp  # where the SQLite files go (must be a real disk)

For each N it prints messages/s end to end (an intake thread spools each
message in its own commit, as the SMTP listener does, while the pipeline
worker processes them), p50/p99 latency from spool commit to processed, peak
RSS, and the floor on the same messages: parse alone plus one durable SQLite
commit each. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import parseaddr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.daemon.config import (
    Config,
    OutgoingConfig,
    PipelineConfig,
    StorageConfig,
    SupportConfig,
)
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.parse import parse_mail
from tierdesk.storage import spool
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.models import Ticket

from bench.corpus import generate


def envelope_sender(raw: bytes) -> str:
    """The From address of a generated message (its envelope sender)."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.splitlines():
        if line[:5].lower() == b"from:":
            return parseaddr(line[5:].decode("utf-8", "replace"))[1]
    return ""


def floor(messages: list[bytes], work: Path) -> float:
    """Messages/s for parse alone plus one durable SQLite commit per message."""
    db = sqlite3.connect(work / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA synchronous=full")
    db.execute("CREATE TABLE m (raw BLOB)")
    start = time.perf_counter()
    for raw in messages:
        parse_mail(raw)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO m VALUES (?)", (raw,))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(messages) / elapsed


def end_to_end(
    messages: list[bytes],
    work: Path,
    args: argparse.Namespace,
    intake_chunk: int,
    storage_url: str | None = None,
    clock: Clock = system_clock,
) -> dict[str, float]:
    """Run intake and pipeline concurrently, as the daemon does; returns the figures.

    The intake thread spools `intake_chunk` messages per durable commit: 1 is
    what the SMTP listener does (one commit per message before its 250), 100
    what `tierdesk inject` and an IMAP fetch do. The database is a fresh
    SQLite file under `work` unless `storage_url` names another; the
    pipeline reads the time from `clock`.
    """
    config = Config(
        data_dir=work / "data",
        storage=StorageConfig(
            url=storage_url or f"sqlite:///{work / 'data' / 'tierdesk.db'}"
        ),
        support=SupportConfig(addresses=["support@example.com"], subject_tag="ACME"),
        outgoing=OutgoingConfig(maildir=work / "outgoing"),
        pipeline=PipelineConfig(parse_workers=args.parse_workers),
        rules=args.rules.resolve() if args.rules else None,
    )
    runtime = open_runtime(config, clock=clock)
    runtime.pipeline.parser.start()  # the daemon starts its parse workers at start-up too
    wake = threading.Event()
    spooled_at: dict[int, float] = {}

    def intake() -> None:
        for first in range(0, len(messages), intake_chunk):
            chunk = messages[first : first + intake_chunk]
            # as an MTA hands over a plain mail: the envelope sender is its From
            arrivals = [
                spool.Arrival(raw, "bench", envelope_sender(raw)) for raw in chunk
            ]
            ids = spool.spool(runtime.sql, arrivals, runtime.clock())
            now = time.perf_counter()
            spooled_at.update(dict.fromkeys(ids, now))
            wake.set()

    latencies: list[float] = []
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    producer = threading.Thread(target=intake)
    producer.start()
    processed = 0
    if profiler:
        profiler.enable()
    while processed < len(messages):
        wake.wait(0.5)
        wake.clear()
        while ids := spool.pending_ids(runtime.sql, 200):
            for spool_id, outcome in zip(
                ids, runtime.pipeline.process_many(ids), strict=True
            ):
                if outcome is not None:
                    processed += 1
                    latencies.append(
                        time.perf_counter() - spooled_at.get(spool_id, start)
                    )
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    producer.join()
    tickets = Ticket.select().count()
    runtime.close()
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(30)
    latencies.sort()
    return {
        "msgs_per_s": len(messages) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "tickets": tickets,
    }


def one_size(args: argparse.Namespace, n: int, intake_chunk: int) -> dict[str, float]:
    """All figures for one N and intake mode, in this process."""
    messages = generate(n, args.seed)
    work = Path(tempfile.mkdtemp(prefix=f"tierdesk-bench-{n}-", dir=args.dir))
    try:
        figures = end_to_end(messages, work, args, intake_chunk)
        figures["floor_msgs_per_s"] = floor(messages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["mb"] = sum(len(m) for m in messages) / 1e6
    return figures


def main() -> int:
    """Run each size and intake mode in a fresh process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n",
        type=int,
        action="append",
        help="messages (repeatable; default 1000 and 10000)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TMPDIR_DISK", "/var/tmp"))
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the pipeline"
    )
    parser.add_argument(
        "--parse-workers",
        type=int,
        default=1,
        help="parse worker processes (0: in-process)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        help="route with this rules file (e.g. rules/example-rules.yaml)",
    )
    parser.add_argument(
        "--intake",
        choices=["smtp", "batch", "both"],
        default="both",
        help="one commit per message, or 100",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.n or [1000, 10000]
    if args.child is not None:
        print(json.dumps(one_size(args, sizes[0], args.child)))
        return 0
    modes = {
        "smtp": [("smtp", 1)],
        "batch": [("batch", 100)],
        "both": [("batch", 100), ("smtp", 1)],
    }[args.intake]
    print(
        f"# storage: SQLite WAL synchronous=FULL under {args.dir} ({fs_type(args.dir)}); "
        f"parse workers: {args.parse_workers}; rules: {args.rules or 'built-in'}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "#      N  intake  msgs/s  p50_ms  p99_ms  floor_msgs/s  floor/msgs  peak_rss_mb  tickets  corpus_mb"
    )
    for n in sizes:
        for name, chunk in modes:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(chunk),
                "-n",
                str(n),
                "--seed",
                str(args.seed),
            ]
            cmd += ["--dir", str(args.dir), "--parse-workers", str(args.parse_workers)]
            if args.rules:
                cmd += ["--rules", str(args.rules)]
            if args.profile:
                cmd.append("--profile")
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            if args.profile:
                print(out.stderr, file=sys.stderr)
            f = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>8}  {name:>6}  {f['msgs_per_s']:6.0f}  {f['p50_ms']:6.1f}  {f['p99_ms']:6.1f}  "
                f"{f['floor_msgs_per_s']:12.0f}  {f['floor_msgs_per_s'] / f['msgs_per_s']:10.2f}  "
                f"{f['peak_rss_mb']:11.0f}  {f['tickets']:7}  {f['mb']:9.1f}"
            )
    return 0


def fs_type(path: Path) -> str:
    """The file system type of `path` (SQLite's durable commits depend on it), or '?'."""
    try:
        return subprocess.run(
            ["stat", "-f", "-c", "%T", str(path)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
