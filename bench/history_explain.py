"""What bench/history.py --explain shows: each statement the pipeline ran, its time, its plan.

A `Trace` records every statement that goes through `storage.sql.Sql` (the
hand-written SQL of the per-message path) with its exact text, the storage
function that ran it, how often and how long, and the parameters of its slowest
run. `explain` then asks the database how it runs each of them with the
parameters of its slowest run: EXPLAIN ANALYZE on PostgreSQL (inside a transaction that is rolled
back), EXPLAIN QUERY PLAN on SQLite.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from peewee import Database
from tierdesk.storage.db import is_sqlite, open_database
from tierdesk.storage.sql import Sql

# the per-message look-ups the history question is about, by the function that runs them
HOT = (
    "threads.find_thread",
    "threads._ticket_of_first_known",
    "threads.find_duplicate",
    "tickets.ticket_by_number",
    "tickets.ticket_by_id",
    "tickets.contact_for",
    "assign.is_known_contact",
    "outbox.sent_since",
    "threads.recent_tickets_of",
)


@dataclass
class Statement:
    """One statement text as the pipeline ran it."""

    text: str
    callers: set[str] = field(default_factory=set)
    calls: int = 0
    seconds: float = 0.0
    params: tuple[Any, ...] = ()  # of its slowest run
    slowest: float = 0.0

    @property
    def mean_us(self) -> float:
        """Mean time per run, in microseconds."""
        return self.seconds / self.calls * 1e6 if self.calls else 0.0

    @property
    def label(self) -> str:
        """The storage functions that ran it."""
        return ", ".join(sorted(self.callers))


class Trace:
    """Records every statement run through `Sql`, and every commit, while installed."""

    def __init__(self) -> None:
        self.statements: dict[str, Statement] = {}
        self._original = Sql.run
        self._commit = Database.commit

    def install(self) -> None:
        """Start recording (every Sql instance in this process)."""
        original, statements = self._original, self.statements

        def run(sql: Sql, text: str, *params: Any) -> Any:
            began = time.perf_counter()
            cursor = original(sql, text, *params)
            elapsed = time.perf_counter() - began
            entry = statements.get(text)
            if entry is None:
                entry = statements[text] = Statement(text)
            entry.calls += 1
            entry.seconds += elapsed
            if elapsed >= entry.slowest:
                entry.slowest, entry.params = elapsed, params
            entry.callers.add(_caller())
            return cursor

        def commit(db: Database) -> Any:
            began = time.perf_counter()
            try:
                return commit_original(db)
            finally:
                entry = statements.setdefault("COMMIT", Statement("COMMIT"))
                entry.calls += 1
                entry.seconds += time.perf_counter() - began
                entry.callers.add("peewee.commit")

        commit_original = self._commit
        Sql.run = run  # type: ignore[method-assign]
        Database.commit = commit  # type: ignore[method-assign]

    def remove(self) -> None:
        """Stop recording."""
        Sql.run = self._original  # type: ignore[method-assign]
        Database.commit = self._commit  # type: ignore[method-assign]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per statement text: its callers, calls and mean time (for the parent process)."""
        return {
            s.text: {"label": s.label, "calls": s.calls, "mean_us": s.mean_us}
            for s in self.statements.values()
        }


def _caller() -> str:
    """`module.function < module.function` of the code that ran the statement, and its caller."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.endswith("storage/sql.py"):
        frame = frame.f_back
    names = []
    while frame is not None and len(names) < 2:
        module = frame.f_code.co_filename.rsplit("/", 1)[-1].removesuffix(".py")
        names.append(f"{module}.{frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(names) or "?"


def explain(url: str, trace: Trace) -> str:
    """The plan of each read (and keyed write) the trace saw: the hot look-ups first."""
    db = open_database(url)
    sql = Sql(db)
    sqlite = is_sqlite(db)
    chosen = [
        s
        for s in trace.statements.values()
        if s.text.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        and "WHERE" in s.text.upper()
    ]
    chosen.sort(key=lambda s: (not _is_hot(s), -s.seconds))
    out = []
    for statement in chosen:
        hot = "hot look-up" if _is_hot(statement) else "also per message"
        out.append(
            f"-- {statement.label} ({hot}; {statement.calls} runs in the traced round,"
            f" mean {statement.mean_us:.0f} us, slowest {statement.slowest * 1e6:.0f} us)\n"
            f"{statement.text}\n-- parameters of the slowest run: {_shown(statement.params)}"
        )
        try:
            out.append(_plan(sql, statement, sqlite))
        except Exception as exc:  # noqa: BLE001 - a plan we cannot get is reported, not fatal
            out.append(f"(no plan: {type(exc).__name__}: {exc})")
        out.append("")
    db.close()
    return "\n".join(out)


def _is_hot(statement: Statement) -> bool:
    return any(caller.split(" < ")[0] in HOT for caller in statement.callers)


def _plan(sql: Sql, statement: Statement, sqlite: bool) -> str:
    if sqlite:
        rows = sql.all(f"EXPLAIN QUERY PLAN {statement.text}", *statement.params)
        depth: dict[int, int] = {0: 0}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)
    with sql.db.atomic() as transaction:  # EXPLAIN ANALYZE runs it: a write is undone
        rows = sql.all(f"EXPLAIN ANALYZE {statement.text}", *statement.params)
        transaction.rollback()
    return "\n".join(row[0] for row in rows)


def _shown(params: tuple[Any, ...]) -> str:
    shown = []
    for value in params:
        text = repr(value)
        shown.append(text if len(text) <= 60 else text[:57] + "...")
    return "(" + ", ".join(shown) + ")"


def query_table(per_size: dict[int, dict[str, dict[str, Any]]], top: int = 25) -> str:
    """Mean time per statement at each size, the costliest at the largest size first."""
    sizes = sorted(per_size)
    largest = per_size[sizes[-1]]
    texts = sorted(largest, key=lambda t: -largest[t]["mean_us"] * largest[t]["calls"])[
        :top
    ]
    header = "".join(f"{n:>10}" for n in sizes)
    lines = [
        f"# mean us per run at each size{header}  x(largest/smallest)  calls  statement"
    ]
    for text in texts:
        means = [per_size[n].get(text, {}).get("mean_us", 0.0) for n in sizes]
        ratio = means[-1] / means[0] if means[0] else float("inf")
        row = "".join(f"{m:10.0f}" for m in means)
        label = largest[text]["label"].split(" < ")[0]
        short = " ".join(text.split())
        short = short if len(short) <= 90 else short[:87] + "..."
        lines.append(
            f"  {label[:30]:30}{row}  {ratio:8.2f}  {largest[text]['calls']:6}  {short}"
        )
    return "\n".join(lines)
