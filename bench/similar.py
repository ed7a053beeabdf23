"""Similar-ticket look-up benchmark: its cost per new ticket, and ingestion with it on and off.

    python bench/similar.py                      # 1k and 100k tickets, SQLite and PostgreSQL
    python bench/similar.py --sizes 1000 --db sqlite --rounds 2

For each database and size it writes a history straight into a fresh
database (bench/history_data.py's generator: every ticket with its messages,
three years of them, most resolved or closed, in the full-text index),
rebuilds that index as `tierdesk db reindex` does (timed) and then, in one
process:

- look-up: `similar_solved` for the new requests of a corpus (subject and
  text, as a notice asks), timed one by one, with one `IndexMemo` for all
  as a daemon's pipeline keeps: the cost per new ticket;
- ingest: rounds of the history corpus (bench/history_corpus.py: new
  requests and replies, stored tickets named by position) through the real
  pipeline in-process with `search.similar_tickets` 3 and 0 in turns, so the
  machine's noise falls on both alike; messages/s per setting (median).

The rules give tier 1 two agents, so every new ticket sends notices and the
look-up runs. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.daemon.config import (
    Config,
    OutgoingConfig,
    PipelineConfig,
    StorageConfig,
    SupportConfig,
)
from tierdesk.daemon.config_search import SearchConfig
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.parse import parse_mail
from tierdesk.storage import spool
from tierdesk.storage.clock import system_clock
from tierdesk.storage.db import open_database
from tierdesk.storage.search import rebuild_search_index
from tierdesk.storage.search_memo import IndexMemo
from tierdesk.storage.search_similar import similar_solved
from tierdesk.storage.sql import Sql

from bench.history import fresh_database
from bench.history_corpus import history_corpus
from bench.history_data import generate
from bench.history_shape import Shape
from bench.ingest import envelope_sender

RULES = """
agents:
  alice: {address: alice@acme.example, name: Alice Smith, tier: 1}
  bob: {address: bob@acme.example, name: Bob Jones, tier: 1}
"""
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def lookup_costs(url: str, shape: Shape, count: int) -> list[float]:
    """Milliseconds of `similar_solved` for each of `count` new requests."""
    corpus, _ = history_corpus(shape, count * 4, seed=99)
    texts = []
    for raw in corpus:
        mail = parse_mail(raw)
        if not mail.subject.lower().startswith("re:"):
            texts.append(f"{mail.subject}\n{mail.text}")
    db = open_database(url)
    sql = Sql(db)
    costs = []
    memo = IndexMemo()
    for text in texts[:count]:
        began = time.perf_counter()
        with db.atomic():
            similar_solved(sql, 0, text, limit=3, answer_lines=4, memo=memo)
        costs.append((time.perf_counter() - began) * 1000)
    db.close()
    return costs


def ingest_round(
    url: str, work: Path, shape: Shape, messages: int, seed: int, similar: int
) -> float:
    """Messages/s of one round through the pipeline, with `similar` tickets per notice."""
    rules = work / "rules.yaml"
    rules.write_text(RULES)
    config = Config(
        data_dir=work / "data",
        storage=StorageConfig(url=url),
        support=SupportConfig(addresses=["support@example.com"], subject_tag="ACME"),
        outgoing=OutgoingConfig(maildir=work / "outgoing"),
        pipeline=PipelineConfig(parse_workers=0),
        rules=rules,
    )
    config = replace(config, search=SearchConfig(similar_tickets=similar))
    later = timedelta(days=2 * seed)
    runtime = open_runtime(config, clock=lambda: system_clock() + later)
    corpus, _ = history_corpus(shape, messages, seed)
    arrivals = [spool.Arrival(raw, "bench", envelope_sender(raw)) for raw in corpus]
    ids = spool.spool(runtime.sql, arrivals, runtime.clock())
    began = time.perf_counter()
    for first in range(0, len(ids), 200):
        runtime.pipeline.process_many(ids[first : first + 200])
    rate = len(ids) / (time.perf_counter() - began)
    runtime.close()
    return rate


def main() -> int:
    """Every database and size: generate, index, time look-ups, ingest on and off."""
    args = parse_args()
    print(
        "| database | tickets | index fill | look-up median | look-up p95 |"
        " ingest on | ingest off |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in args.db:
        for size in args.sizes:
            with fresh_database(kind, args, size) as url:
                shape = Shape.make(size, int(time.time()))
                generate(url, shape)
                db = open_database(url)
                began = time.perf_counter()
                # the generator indexed the messages in bulk; timed here is the
                # daemon's own way, message by message, as `tierdesk db reindex` does
                indexed = rebuild_search_index(db)
                fill = time.perf_counter() - began
                db.close()
                costs = sorted(lookup_costs(url, shape, args.lookups))
                rates: dict[int, list[float]] = {3: [], 0: []}
                work = Path(tempfile.mkdtemp(dir=args.dir))
                for number in range(args.rounds):
                    for similar in (3, 0) if number % 2 == 0 else (0, 3):
                        seed = args.seed + 2 * number + (similar == 0)
                        rates[similar].append(
                            ingest_round(url, work, shape, args.messages, seed, similar)
                        )
                p95 = costs[int(len(costs) * 0.95) - 1]
                print(
                    f"| {kind} | {size:,} | {indexed:,} msgs in {fill:.1f} s |"
                    f" {statistics.median(costs):.1f} ms | {p95:.1f} ms |"
                    f" {statistics.median(rates[3]):.0f} msgs/s |"
                    f" {statistics.median(rates[0]):.0f} msgs/s |",
                    flush=True,
                )
    return 0


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1000, 100_000],
    )
    parser.add_argument(
        "--db", type=lambda s: s.split(","), default=["sqlite", "postgres"]
    )
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL base URL")
    parser.add_argument("--messages", type=int, default=500, help="a round's corpus")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per setting")
    parser.add_argument("--lookups", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TMPDIR_DISK", "/var/tmp"))
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
