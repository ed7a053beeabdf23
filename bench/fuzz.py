"""Fuzzing the whole pipeline: hostile mail through spool → parse → ... → persist, on each database.

    .venv/bin/python bench/fuzz.py -n 2000 --seed 1 --db both
    .venv/bin/python bench/fuzz.py -n 500 --db postgres --minutes 30

Real messages (tests/fixtures, and the generated benchmark corpus) are
mutated by bench/mutations.py (one to three mutations stacked), and the
fixed extreme cases are added. Every case is spooled as intake would spool
it and run by the daemon's own `Pipeline.run_pending`, with its parse
workers and parse timeout. Each must end as a ticket, as a known non-ticket
outcome (duplicate, ignored, answered) or in quarantine with a reason;
nothing may stay in the spool, no exception may escape the pipeline, and
with `--db both` SQLite and PostgreSQL must end each case the same way and
store the same values. A hang is a case the daemon gave up on at its parse
timeout. With `--minutes`, rounds of `-n` cases (seed, seed+1, ...) run on
the same databases until the time is up. tests/test_fuzz.py runs a small
deterministic round in CI.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fuzz_cases import Case, fuzz_cases
from bench.fuzz_desk import fuzz_databases
from bench.fuzz_results import OTHER_OUTCOMES, FuzzRun, divergences
from tests.support.pg_schema import postgres_schema

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PIPELINE_ERROR = (
    "pipeline error:"  # an exception the pipeline caught: a bug all the same
)


def report(runs: dict[str, FuzzRun], cases: int) -> str:
    """The figures per database, and the divergences between them."""
    lines = []
    for name, run in runs.items():
        counts = run.counts()
        others = ", ".join(
            f"{k} {v}"
            for k, v in sorted(counts.items())
            if k not in ("ticket", "quarantined")
        )
        lines += [
            f"== {name}: {len(run.endings)} cases in {run.seconds:.0f} s ==",
            f"crashes (exceptions escaping the pipeline): {len(run.crashes)}",
            f"hangs (parse timeout): {len(run.hangs)}",
            f"tickets: {counts['ticket']}",
            f"other outcomes: {others or 'none'}",
        ]
        for outcome in sorted(OTHER_OUTCOMES):
            lines += [
                f"  {n:5d}  {outcome}: {reason}"
                for reason, n in run.reasons(outcome).most_common(8)
            ]
        lines.append(f"quarantined: {counts['quarantined']}")
        lines += [f"  {n:5d}  {reason}" for reason, n in run.reasons().most_common()]
        caught = run.pipeline_errors
        lines.append(f"pipeline errors (caught, quarantined): {len(caught)}")
        lines += [f"  {e.name}: {e.reason[:300]}" for e in caught[:20]]
        problems = run.problems()
        lines.append(f"problems: {len(problems)}")
        lines += [f"  {p[:600]}" for p in problems[:20]]
        kinds = Counter(c.kind for c in run.crashes)
        lines += [f"  {n:5d} crashes: {kind}" for kind, n in kinds.most_common()]
        shown = {}
        for crash in run.crashes:
            shown.setdefault(crash.kind, crash)
        for crash in shown.values():
            lines += [f"  first {crash.kind}, case {crash.case}:", crash.traceback]
        lines += [f"  hang: {e.name}" for e in run.hangs[:20]]
    names = list(runs)
    if len(names) == 2:
        found = divergences(runs[names[0]], runs[names[1]])
        lines.append(f"== {names[0]} vs {names[1]}: {len(found)} divergent cases ==")
        lines += [f"  {d}" for d in found[:40]]
    return "\n".join(lines)


def main() -> int:
    """Parse the arguments, run the rounds, print the figures; exit 1 on any problem."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="mutated cases per round")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument(
        "--minutes", type=float, default=0.0, help="repeat rounds this long"
    )
    ap.add_argument("--pg", default=os.environ.get("TIERDESK_TEST_PG", PG_DEFAULT))
    ap.add_argument("--parse-timeout", type=float, default=20.0, help="seconds")
    ap.add_argument("--no-extremes", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="the daemon's log lines")
    args = ap.parse_args()
    # every quarantine logs an error with its traceback; the report counts them
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)

    deadline = time.monotonic() + args.minutes * 60
    total = 0

    def rounds() -> Iterator[list[Case]]:
        nonlocal total
        seed = args.seed
        while True:
            cases = fuzz_cases(args.n, seed, extremes=not args.no_extremes)
            total += len(cases)
            print(f"round seed={seed}: {len(cases)} cases", flush=True)
            yield cases
            seed += 1
            if time.monotonic() >= deadline:
                return

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp, ExitStack() as stack:
        urls = {}
        if args.db in ("sqlite", "both"):
            urls["sqlite"] = f"sqlite:///{tmp}/sqlite/db/tierdesk.db"
        if args.db in ("postgres", "both"):
            urls["postgres"] = stack.enter_context(postgres_schema(args.pg, "fuzz"))
        runs = fuzz_databases(urls, rounds(), Path(tmp), args.parse_timeout)
    print(report(runs, total))
    bad = any(
        run.crashes or run.problems() or run.hangs or run.pipeline_errors
        for run in runs.values()
    )
    if len(runs) == 2:
        bad = bad or bool(divergences(*runs.values()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
