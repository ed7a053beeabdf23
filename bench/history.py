"""History benchmark: does ingestion stay as fast with years of history stored?

    python bench/history.py                          # 1k, 100k and 1M tickets, SQLite and PostgreSQL
    python bench/history.py --sizes 1000,1000000 --db sqlite
    python bench/history.py --explain                # + per-statement times, and plans at 1M
    python bench/history.py --pg postgresql://postgres@127.0.0.1:5432/test
    python bench/history.py --try-sql "CREATE INDEX t_rc ON ticket (requester_id, created_at)"

For each database and history size it creates a fresh database (SQLite: a
file under --dir; PostgreSQL: a private schema of --pg, dropped afterwards)
and writes that many tickets with their contacts, messages, spool and
outbox rows, participants and events straight into it by bulk SQL
(bench/history_data.py, history_sql.py, history_shape.py), then analyzes it.
Then, round by round, it ingests a corpus (bench/history_corpus.py) through
the real pipeline exactly as bench/ingest.py does (its end_to_end): new
requests from new and from stored customers, replies that thread by subject
token, by In-Reply-To/References to stored messages, and by signed reply
address. Round r ingests the same corpus at every size (it names stored
tickets by position, so the same outcomes follow); the rounds of all
databases and sizes take turns, so that whatever else runs on the machine
falls on all of them alike.

Before each round it waits (up to --quiet-wait seconds) until the machine is
idle, and with --cache warm (the default) maps and touches every file of the
database and keeps it mapped while the round runs (bench/history_machine.py):
a kernel that pages out unmapped page cache after a minute (as this
machine's does) would otherwise time its disk. --cache as-is leaves the
cache as it finds it.

It prints messages/s (median and best of the rounds that others did not
disturb: it counts the CPU others used meanwhile), generation time, peak
memory and client CPU per message for each size, and the rate at the
largest size against the rate at the smallest. Nothing here asserts a
timing. With --explain one more round per database and size is traced
(every statement's mean time, per size; bench/history_explain.py) and the
plans of the per-message look-ups are printed for the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.storage.clock import system_clock
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from bench.history_corpus import history_corpus
from bench.history_data import generate, sqlite_url
from bench.history_explain import Trace, explain
from bench.history_machine import Foreign, held, wait_for_quiet
from bench.history_report import Run, report
from bench.history_shape import Shape
from bench.ingest import end_to_end, fs_type
from tests.support.pg_schema import postgres_schema

DEFAULT_PG = os.environ.get(
    "TIERDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)


# -- the children: one process per generation and per round -----------------


def child_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write the history of args.size tickets into args.url; the figures."""
    shape = Shape.make(args.size, int(time.time()))
    figures = generate(args.url, shape, not args.no_analyze, args.try_sql)
    figures["shape"] = shape.__dict__
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def child_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest the corpus of args.seed into the history at args.url; the round's figures.

    The pipeline's clock runs args.day days ahead: each round comes two days
    after the one before, so that what one round's customers did in the last
    hour or day (rate limits, repeated texts) does not count in the next,
    where the same customers write again at a small size but not at a large one.
    """
    shape = Shape(**json.loads(args.shape))
    corpus, kinds = history_corpus(shape, args.messages, args.seed)
    before = _scalar(args.url, "SELECT MAX(id) FROM spool")
    trace = Trace() if args.trace else None
    if trace:
        trace.install()
    work = Path(tempfile.mkdtemp(prefix="tierdesk-history-", dir=args.dir))
    later = timedelta(days=args.day)
    cpu = _cpu_seconds()
    try:
        chunk = 100 if args.intake == "batch" else 1
        figures: dict[str, Any] = end_to_end(
            corpus,
            work,
            args,
            chunk,
            storage_url=args.url,
            clock=lambda: system_clock() + later,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # this process and its parse workers; PostgreSQL's own work is not in it
    figures["cpu_ms_per_msg"] = (_cpu_seconds() - cpu) * 1000 / len(corpus)
    if trace:
        trace.remove()
        figures["queries"] = trace.summary()
        if args.plans:
            figures["plans"] = explain(args.url, trace)
    figures["kinds"] = dict(kinds)
    figures["outcomes"] = _outcomes(args.url, before)
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def _scalar(url: str, query: str, *params: Any) -> Any:
    db = open_database(url)
    try:
        return Sql(db).scalar(query, *params)
    finally:
        db.close()


def _outcomes(url: str, after_spool_id: int) -> dict[str, int]:
    """How the round's messages ended."""
    db = open_database(url)
    rows = Sql(db).all(
        "SELECT outcome, COUNT(*) FROM spool WHERE id > ? GROUP BY outcome",
        after_spool_id,
    )
    db.close()
    return dict(rows)


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (parse workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM: ru_maxrss would count what the
    parent had mapped when it forked us, a whole held database)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the parent --------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, args: argparse.Namespace, size: int) -> Iterator[str]:
    """The storage URL of an empty database of `kind`, removed afterwards."""
    if kind == "postgres":
        with postgres_schema(args.pg, f"history{size}") as url:
            yield url
        return
    directory = Path(tempfile.mkdtemp(prefix=f"tierdesk-history-{size}-", dir=args.dir))
    try:
        yield sqlite_url(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_child(args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    """Run this script as a child with the shared options; its JSON figures."""
    cmd = [sys.executable, __file__, *extra, "--dir", str(args.dir)]
    cmd += ["--messages", str(args.messages), "--cache", args.cache]
    cmd += ["--parse-workers", str(args.parse_workers), "--intake", args.intake]
    if args.rules:
        cmd += ["--rules", str(args.rules)]
    if args.no_analyze:
        cmd.append("--no-analyze")
    for statement in args.try_sql:
        cmd += ["--try-sql", statement]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"child failed ({out.returncode}): {' '.join(extra)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ingest_round(
    args: argparse.Namespace, run: Run, number: int, traced: bool = False
) -> dict[str, Any]:
    """Round `number` on one database, once the machine is quiet, the database cached."""
    busy = wait_for_quiet(args.quiet_wait)
    seed = args.seed + number
    extra = ["--child", "ingest", "--url", run.url, "--seed", str(seed)]
    extra += ["--day", str(2 * number)]
    extra += ["--shape", json.dumps(run.generated["shape"])]
    if traced:
        extra.append("--trace")
        if run.size == max(args.sizes):
            extra.append("--plans")
    with ExitStack() as stack:
        warm_s = stack.enter_context(held(run.url)) if args.cache == "warm" else 0.0
        foreign = Foreign(postgres=run.kind == "postgres")
        foreign.start()
        began = time.perf_counter()
        figures = run_child(args, *extra)
        # others' CPU while the round ran, in cores
        figures["foreign"] = foreign.stop() / (time.perf_counter() - began)
    figures["busy"], figures["warm_s"] = busy, warm_s
    print(
        f"#   {'traced' if traced else 'round'} seed {seed} {run.kind} {run.size}:"
        f" {figures['msgs_per_s']:.0f} msgs/s (cached in {warm_s:.1f} s; machine"
        f" {busy:.0%} busy before, others used {figures['foreign']:.2f} cores meanwhile)",
        flush=True,
    )
    return figures


def main() -> int:
    """Generate every database, ingest round by round in turns, report."""
    args = parse_args()
    if args.child:
        child = child_generate if args.child == "generate" else child_ingest
        print(json.dumps(child(args)))
        return 0
    began = time.perf_counter()
    sizes = sorted(args.sizes)
    print(
        f"# history benchmark: SQLite under {args.dir} ({fs_type(args.dir)}),"
        f" PostgreSQL at {args.pg.split('@')[-1]}; {args.messages} messages a round,"
        f" {args.rounds} rounds, intake {args.intake}, parse workers {args.parse_workers},"
        f" cache {args.cache}, {'no ' if args.no_analyze else ''}ANALYZE after generating;"
        f" load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with ExitStack() as stack:
        runs = []
        for kind in args.db:
            for size in sizes:
                url = stack.enter_context(fresh_database(kind, args, size))
                extra = ("--child", "generate", "--url", url, "--size", str(size))
                runs.append(Run(kind, size, url, run_child(args, *extra)))
                gen = runs[-1].generated
                print(
                    f"#   generated {kind} {size}: {gen['generate_s']:.1f} s"
                    f" + {gen['analyze_s']:.1f} s analyze, {gen['db_mb']:.0f} MB",
                    flush=True,
                )
        for number in range(args.rounds):
            for run in runs:
                run.rounds.append(ingest_round(args, run, number))
        if args.explain:
            for run in runs:
                run.traced = ingest_round(args, run, args.rounds, True)
        report(args, runs, began)
    return 0


def parse_args() -> argparse.Namespace:
    """The command line (the children take the same options, plus hidden ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1000, 100_000, 1_000_000],
        help="history sizes in tickets, comma-separated (default 1000,100000,1000000)",
    )
    parser.add_argument(
        "--db",
        type=lambda s: s.split(","),
        default=["sqlite", "postgres"],
        help="sqlite, postgres or both (comma-separated)",
    )
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL base URL")
    parser.add_argument("--messages", type=int, default=2000, help="a round's corpus")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--seed", type=int, default=1, help="round r's corpus: seed + r"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TMPDIR_DISK", "/var/tmp"))
    )
    parser.add_argument("--intake", choices=["batch", "smtp"], default="batch")
    parser.add_argument("--parse-workers", type=int, default=1)
    parser.add_argument("--rules", type=Path, help="route with this rules file")
    parser.add_argument("--cache", choices=["warm", "as-is"], default="warm")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        help="seconds to wait for an idle machine before each round",
    )
    parser.add_argument(
        "--try-sql",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="run on every database after generating, before ANALYZE (repeatable):"
        " e.g. an index to try",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="no statistics (tierdesk itself never runs ANALYZE on SQLite)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="trace a round; plans at the largest size",
    )
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--child", choices=["generate", "ingest"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plans", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--day", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
