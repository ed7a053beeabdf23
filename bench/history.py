"""History benchmark: does ingestion stay as fast with years of history stored?

    python bench/history.py                          # 1k, 100k and 1M tickets, SQLite and PostgreSQL
    python bench/history.py --sizes 1000,1000000 --db sqlite
    python bench/history.py --explain                # + the plans of the per-message look-ups at 1M
    python bench/history.py --pg postgresql://postgres@127.0.0.1:5432/test

For each database and history size it creates a fresh database (SQLite: a
file under --dir; PostgreSQL: a private schema, dropped afterwards), writes
that many tickets with their contacts, messages, spool and outbox rows,
participants and events straight into it by bulk SQL (bench/history_data.py),
analyzes it, and then ingests the same corpus through the real pipeline as
bench/ingest.py does: new requests from new and from known customers, and
replies that thread by subject token, by In-Reply-To/References to stored
messages, and by signed reply address. The corpus is the same at every
size: it refers to the history by position (the newest tickets, the ones
resolved lately, any old one), so the same mix of outcomes follows.

It prints messages/s per round, generation time and peak memory for each
size, and the rate at the largest size against the rate at the smallest.
Nothing here asserts a timing. With --explain it also traces every statement
of one more round at each size (mean time per statement, per size) and
prints the plan of each at the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.parsers.reply_address import SigningKey, sign
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from bench.corpus import TOPICS_EN, Thread, message, new_thread
from bench.history_data import (
    HEAVY,
    HEAVY_EVERY,
    RECENT,
    SIGNING_SECRET,
    SUPPORT,
    TAG,
    Shape,
    email,
    generate,
    name,
    sqlite_url,
    ticket_day,
)
from bench.history_explain import Trace, explain, query_table
from bench.ingest import end_to_end, fs_type
from tests.support.pg_schema import postgres_schema

DEFAULT_PG = os.environ.get(
    "TIERDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)
# what a round's messages are, in parts per hundred
MIX = {
    "new": 30,  # a new request from a new customer
    "fresh_reply": 25,  # a reply in a conversation this corpus started (In-Reply-To)
    "known_new": 10,  # a new request from a stored contact (one in ten: a daily writer)
    "token": 12,  # a reply to a stored ticket with [ACME #n] in the subject
    "headers": 12,  # a reply to a stored message, found by In-Reply-To/References only
    "signed": 11,  # a reply to a stored ticket's signed reply address
}


# -- the corpus --------------------------------------------------------------


def history_corpus(shape: Shape, count: int, seed: int) -> tuple[list[bytes], Counter]:
    """`count` messages that refer to the history of `shape`, and how many of each kind.

    Every random draw is the same at every size (stored tickets are picked by
    position: one of the newest RECENT, one of the RECENT resolved lately, or
    any old one), so the corpus differs between sizes only in the numbers,
    addresses and Message-IDs it names.
    """
    rng = random.Random(seed)
    key = SigningKey("00", bytes.fromhex(SIGNING_SECRET))
    kinds, weights = list(MIX), list(MIX.values())
    fresh: list[Thread] = []
    out: list[bytes] = []
    counts: Counter = Counter()
    start = datetime.fromtimestamp(shape.now, UTC)
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "fresh_reply" and not fresh:
            kind = "new"
        to = f"ACME Support <{SUPPORT}>"
        if kind == "new":
            thread = new_thread(rng, seed * 1_000_000 + len(fresh))
            fresh.append(thread)
            subject, reply = thread.subject, False
        elif kind == "fresh_reply":
            thread = fresh[max(0, len(fresh) - 1 - int(rng.expovariate(0.15)))]
            subject, reply = f"Re: {thread.subject}", True
        elif kind == "known_new":
            j = _known_contact(rng, shape)
            topic = rng.choice(TOPICS_EN)
            thread = Thread(
                n, f"{topic} (again, {seed}.{n})", email(j), name(j), "utf-8", False
            )
            subject, reply = thread.subject, False
        else:
            i = _stored_ticket(rng, shape, signed=kind == "signed")
            j = shape.requester(i)
            charset = rng.choice(["utf-8", "utf-8", "iso-8859-1"])
            ids = shape.message_ids(i)
            thread = Thread(i, shape.subject(i), email(j), name(j), charset, False, ids)
            subject, reply = f"Re: {shape.subject(i)}", True
            if kind == "token":
                subject = f"Re: [{TAG} #{i}] {shape.subject(i)}"
            elif kind == "signed":
                to = sign(SUPPORT, key, i, "customer", issued=ticket_day(shape, i))
        domain = thread.sender.split("@")[1]
        message_id = f"h{seed}.{n}.{rng.getrandbits(40):x}@{domain}"
        when = start + timedelta(seconds=n)
        out.append(message(rng, thread, subject, message_id, reply, when, to))
        thread.message_ids.append(message_id)
        counts[kind] += 1
    return out, counts


def _stored_ticket(rng: random.Random, shape: Shape, signed: bool) -> int:
    """A stored ticket to reply to: open lately, resolved lately, or (not signed) long closed.

    A signed address is valid for 90 days, so signed replies go to recent tickets only.
    """
    draw, position = rng.random(), rng.random()
    if draw < (0.6 if signed else 0.4):
        return shape.tickets - RECENT + 1 + int(position * RECENT)
    if signed or draw < 0.6:
        return shape.old + 1 + int(position * RECENT)
    return 1 + int(position * shape.old)


def _known_contact(rng: random.Random, shape: Shape) -> int:
    """A stored contact: one in ten writes daily, the others opened a ticket long ago."""
    daily, position = rng.random(), rng.random()
    if daily < 0.1:
        return 1 + int(position * HEAVY)
    i = 1 + int(position * shape.old)
    if i % HEAVY_EVERY == 0:  # that one is a daily writer's: take its neighbour
        i += 1
    return shape.requester(i)


# -- the children: one database, one size ------------------------------------


def child_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write the history of args.size tickets into args.url; the figures."""
    shape = Shape.make(args.size, int(time.time()))
    figures = generate(args.url, shape, analyze=not args.no_analyze)
    figures["shape"] = shape.__dict__
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def child_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest args.rounds corpora into the history at args.url; the figures of each round."""
    shape = Shape(**json.loads(args.shape))
    rounds = []
    kinds: Counter = Counter()
    for number in range(args.rounds):
        corpus, counts = history_corpus(shape, args.messages, args.seed + number)
        kinds += counts
        rounds.append(_ingest_round(corpus, args))
    figures: dict[str, Any] = {
        "rounds": rounds,
        "kinds": dict(kinds),
        "outcomes": _outcomes(args.url, shape),
        "peak_rss_mb": _peak_rss_mb(),
    }
    if args.explain:
        trace = Trace()
        trace.install()
        corpus, _ = history_corpus(shape, args.messages, args.seed + args.rounds)
        figures["traced_round"] = _ingest_round(corpus, args)
        trace.remove()
        figures["queries"] = trace.summary()
        if args.plans:
            figures["plans"] = explain(args.url, trace)
    return figures


def _ingest_round(corpus: list[bytes], args: argparse.Namespace) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="tierdesk-history-", dir=args.dir))
    try:
        return end_to_end(corpus, work, args, args.intake_chunk, storage_url=args.url)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _outcomes(url: str, shape: Shape) -> dict[str, int]:
    """How the corpus's messages ended (the history's spool rows aside)."""
    db = open_database(url)
    rows = Sql(db).all(
        "SELECT outcome, COUNT(*) FROM spool WHERE id > ? GROUP BY outcome",
        2 * shape.tickets,
    )
    db.close()
    return {outcome: count for outcome, count in rows}


def _peak_rss_mb() -> float:
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
    cmd += ["--messages", str(args.messages), "--rounds", str(args.rounds)]
    cmd += ["--seed", str(args.seed), "--parse-workers", str(args.parse_workers)]
    cmd += ["--intake", args.intake]
    if args.rules:
        cmd += ["--rules", str(args.rules)]
    if args.no_analyze:
        cmd.append("--no-analyze")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"child failed ({out.returncode}): {' '.join(extra)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(args: argparse.Namespace, kind: str, size: int, plans: bool) -> dict[str, Any]:
    """Generate and ingest one size on one database, each in a fresh process."""
    with fresh_database(kind, args, size) as url:
        gen = run_child(args, "--child", "generate", "--url", url, "--size", str(size))
        extra = ["--child", "ingest", "--url", url, "--shape", json.dumps(gen["shape"])]
        if args.explain:
            extra.append("--explain")
        if plans:
            extra.append("--plans")
        return {"generate": gen, "ingest": run_child(args, *extra)}


def report_line(kind: str, size: int, result: dict[str, Any]) -> str:
    """One row of the figures table."""
    gen, ing = result["generate"], result["ingest"]
    rates = [r["msgs_per_s"] for r in ing["rounds"]]
    median = statistics.median(rates)
    each = " ".join(f"{r:.0f}" for r in rates)
    p50 = statistics.median(r["p50_ms"] for r in ing["rounds"])
    p99 = max(r["p99_ms"] for r in ing["rounds"])
    outcomes = " ".join(f"{k}={v}" for k, v in sorted(ing["outcomes"].items()))
    return (
        f"{kind:8} {size:>9}  {gen['generate_s']:7.1f}  {gen['analyze_s']:6.1f}"
        f"  {gen['db_mb']:7.0f}  {gen['peak_rss_mb']:6.0f}  {median:6.0f}  ({each})"
        f"  {p50:6.0f}  {p99:6.0f}  {ing['peak_rss_mb']:6.0f}  {outcomes}"
    )


def main() -> int:
    """Each database, each size: generate, ingest, print; then the ratio and the plans."""
    args = parse_args()
    args.intake_chunk = 100 if args.intake == "batch" else 1
    if args.child == "generate":
        print(json.dumps(child_generate(args)))
        return 0
    if args.child == "ingest":
        print(json.dumps(child_ingest(args)))
        return 0
    sizes = sorted(args.sizes)
    print(
        f"# history benchmark: SQLite under {args.dir} ({fs_type(args.dir)}), PostgreSQL"
        f" {args.pg.split('@')[-1]}; corpus {args.messages} messages x {args.rounds} rounds,"
        f" intake {args.intake}; parse workers {args.parse_workers};"
        f" {'' if not args.no_analyze else 'NO '}ANALYZE after generating;"
        f" load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "# db       tickets  gen_s  analyze_s  db_mb  gen_rss  msgs/s (each round)"
        "  p50_ms  p99_ms  ingest_rss_mb  outcomes of the corpus"
    )
    total = time.perf_counter()
    summary = []
    for kind in args.db:
        results = {}
        for size in sizes:
            result = one(args, kind, size, plans=args.explain and size == sizes[-1])
            results[size] = result
            print(report_line(kind, size, result), flush=True)
        summary.append((kind, results))
    print(f"# total wall time {time.perf_counter() - total:.0f} s")
    for kind, results in summary:
        rates = {
            n: statistics.median(
                r["msgs_per_s"] for r in results[n]["ingest"]["rounds"]
            )
            for n in sizes
        }
        ratio = rates[sizes[-1]] / rates[sizes[0]]
        verdict = "within" if ratio >= 0.8 else "NOT within"
        print(
            f"# {kind}: rate at {sizes[-1]} / rate at {sizes[0]} = {ratio:.2f}"
            f" ({verdict} 20 %); generating {sizes[-1]} took"
            f" {results[sizes[-1]]['generate']['generate_s']:.0f} s"
            f" + {results[sizes[-1]]['generate']['analyze_s']:.0f} s analyze"
        )
    if args.explain:
        for kind, results in summary:
            print(f"\n# {kind}: statements of the traced round")
            print(query_table({n: results[n]["ingest"]["queries"] for n in sizes}))
            print(f"\n# {kind}: plans at {sizes[-1]} tickets\n")
            print(results[sizes[-1]]["ingest"]["plans"])
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
    parser.add_argument("--messages", type=int, default=2000, help="per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds (median shown)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TMPDIR_DISK", "/var/tmp"))
    )
    parser.add_argument("--intake", choices=["batch", "smtp"], default="batch")
    parser.add_argument("--parse-workers", type=int, default=1)
    parser.add_argument("--rules", type=Path, help="route with this rules file")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="leave the statistics out (tierdesk itself never runs ANALYZE on SQLite)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="trace a round per size; plans at the largest",
    )
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--child", choices=["generate", "ingest"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--plans", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
