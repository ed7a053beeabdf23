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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import generate
from daemon.config import Config, OutgoingConfig, StorageConfig, SupportConfig
from daemon.runtime import open_runtime
from parsers.parse import parse_mail
from storage import spool
from storage.models import Ticket


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


def end_to_end(messages: list[bytes], work: Path, profile: bool) -> dict[str, float]:
    """Run intake and pipeline concurrently, as the daemon does; returns the figures."""
    config = Config(
        data_dir=work / "data",
        storage=StorageConfig(url=f"sqlite:///{work / 'data' / 'tierdesk.db'}"),
        support=SupportConfig(addresses=["support@example.com"], subject_tag="ACME"),
        outgoing=OutgoingConfig(maildir=work / "outgoing"),
    )
    runtime = open_runtime(config)
    wake = threading.Event()
    done_intake = threading.Event()
    spooled_at: dict[int, float] = {}

    def intake() -> None:
        for raw in messages:
            (spool_id,) = spool.spool(
                runtime.db, [spool.Arrival(raw, "bench", "customer@example.org")]
            )
            spooled_at[spool_id] = time.perf_counter()
            wake.set()
        done_intake.set()
        wake.set()

    latencies: list[float] = []
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    producer = threading.Thread(target=intake)
    producer.start()
    processed = 0
    if profiler:
        profiler.enable()
    while processed < len(messages):
        wake.wait(0.5)
        wake.clear()
        for spool_id in spool.pending_ids(200):
            if runtime.pipeline.process(spool_id) is not None:
                processed += 1
                latencies.append(
                    time.perf_counter() - spooled_at.get(spool_id, time.perf_counter())
                )
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    producer.join()
    tickets = Ticket.select().count()
    runtime.db.close()
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


def one_size(n: int, seed: int, base: Path, profile: bool) -> dict[str, float]:
    """All figures for one N, in this process."""
    messages = generate(n, seed)
    work = Path(tempfile.mkdtemp(prefix=f"tierdesk-bench-{n}-", dir=base))
    try:
        figures = end_to_end(messages, work, profile)
        figures["floor_msgs_per_s"] = floor(messages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["n"] = n
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["mb"] = sum(len(m) for m in messages) / 1e6
    return figures


def main() -> int:
    """Run each size in a fresh process (so peak RSS is per size) and print the figures."""
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.n or [1000, 10000]
    if args.child:
        print(json.dumps(one_size(sizes[0], args.seed, args.dir, args.profile)))
        return 0
    print(
        f"# storage: SQLite WAL synchronous=FULL under {args.dir} ({_fs_type(args.dir)})"
    )
    print(
        "# N  msgs/s  p50_ms  p99_ms  floor_msgs/s  ratio_to_floor  peak_rss_mb  tickets  corpus_mb"
    )
    for n in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "-n",
            str(n),
            "--seed",
            str(args.seed),
            "--dir",
            str(args.dir),
        ]
        if args.profile:
            cmd.append("--profile")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        if args.profile:
            print(out.stderr, file=sys.stderr)
        f = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{f['n']:>6}  {f['msgs_per_s']:7.0f}  {f['p50_ms']:6.1f}  {f['p99_ms']:6.1f}  "
            f"{f['floor_msgs_per_s']:12.0f}  {f['floor_msgs_per_s'] / f['msgs_per_s']:14.2f}  "
            f"{f['peak_rss_mb']:11.0f}  {f['tickets']:7}  {f['mb']:9.1f}"
        )
    return 0


def _fs_type(path: Path) -> str:
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
