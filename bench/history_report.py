"""What bench/history.py measured, and how it prints it: one `Run` per database and
size, the figures table, the 1M/1k ratios and, with --explain, statements and plans."""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.history_explain import query_table

# a round during which others used more CPU than this (in cores) is left out
DISTURBED = 0.1


@dataclass
class Run:
    """One database at one history size: where it is, and its figures."""

    kind: str
    size: int
    url: str
    generated: dict[str, Any]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    traced: dict[str, Any] | None = None

    @property
    def clean(self) -> list[dict[str, Any]]:
        """The rounds nothing else disturbed (all of them if every one was)."""
        quiet = [r for r in self.rounds if r["foreign"] <= DISTURBED]
        return quiet or self.rounds

    def rate(self, how: str = "median") -> float:
        """Messages/s of the clean rounds: their median, or the best."""
        rates = [r["msgs_per_s"] for r in self.clean]
        return statistics.median(rates) if how == "median" else max(rates)


def table_row(run: Run) -> str:
    """One row of the figures table."""
    gen, rounds, clean = run.generated, run.rounds, run.clean
    each = " ".join(
        f"{r['msgs_per_s']:.0f}{'' if r['foreign'] <= DISTURBED else '*'}"
        for r in rounds
    )
    outcomes = " ".join(f"{k}={v}" for k, v in sorted(rounds[0]["outcomes"].items()))
    return (
        f"{run.kind:8} {run.size:>9} {gen['generate_s']:6.1f} {gen['analyze_s']:6.1f}"
        f" {gen['db_mb']:6.0f} {gen['peak_rss_mb']:6.0f}"
        f" {run.rate():7.0f} {run.rate('best'):5.0f}  ({each})"
        f" {statistics.median(r['p50_ms'] for r in clean):6.0f}"
        f" {statistics.median(r['p99_ms'] for r in clean):6.0f}"
        f" {max(r['peak_rss_mb'] for r in rounds):6.0f}"
        f" {statistics.median(r['cpu_ms_per_msg'] for r in clean):6.2f}  {outcomes}"
    )


def report(args: argparse.Namespace, runs: list[Run], began: float) -> None:
    """The figures table, the ratios, and with --explain the statements and plans."""
    print(
        "\n# db         tickets  gen_s anlz_s  db_mb gen_rss  msgs/s  best  (each round,"
        " * disturbed)  p50_ms p99_ms rss_mb cpu_ms  outcomes of round 1"
    )
    for run in runs:
        print(table_row(run))
    generating = sum(r.generated["generate_s"] + r.generated["analyze_s"] for r in runs)
    print(
        f"# generating took {generating:.0f} s in all; wall time {time.perf_counter() - began:.0f} s"
    )
    sizes = sorted(args.sizes)
    for kind in args.db:
        by_size = {r.size: r for r in runs if r.kind == kind}
        small, large = by_size[sizes[0]], by_size[sizes[-1]]
        ratio = large.rate() / small.rate()
        cpu = [
            statistics.median(r["cpu_ms_per_msg"] for r in run.clean)
            for run in (small, large)
        ]
        print(
            f"# {kind}: msgs/s at {sizes[-1]} / at {sizes[0]} = {ratio:.2f} (median),"
            f" {large.rate('best') / small.rate('best'):.2f} (best):"
            f" {'within' if ratio >= 0.8 else 'NOT within'} 20 %;"
            f" client CPU per message x{cpu[1] / cpu[0]:.2f}"
        )
    if not args.explain:
        return
    for kind in args.db:
        traced = {r.size: r.traced for r in runs if r.kind == kind and r.traced}
        print(f"\n# {kind}: the statements of the traced round (mean us per run)")
        print(query_table({n: t["queries"] for n, t in traced.items()}))
        print(f"\n# {kind}: plans at {sizes[-1]} tickets\n")
        print(traced[sizes[-1]]["plans"])
