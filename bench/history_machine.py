"""The machine around bench/history.py's rounds: an idle machine, a cached database.

A timed round should measure tierdesk, not what else runs or what the page
cache dropped. `wait_for_quiet` waits until the CPUs are idle; `Foreign`
tells afterwards how much CPU others used while the round ran (what the
machine spent, minus this round's processes and, for a PostgreSQL round,
the PostgreSQL server). `held` keeps a database in the page cache while a
round runs: it maps every file of it and touches every page. Reading the
files once is not enough where the kernel pages out page cache that no one
has mapped after a minute or so (as on the machine this was written on);
a mapping keeps the pages. It needs the files: a PostgreSQL server on this
host whose data directory we may read; otherwise the database is left as is.
"""

from __future__ import annotations

import mmap
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.history_data import SQLITE, connect

PAGE = mmap.PAGESIZE
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@contextmanager
def held(url: str) -> Iterator[float]:
    """Map and touch every file of the database at `url` until the block ends.

    Yields the seconds the touching took (0 when the files are out of reach).
    """
    began = time.perf_counter()
    with ExitStack() as stack:
        for path in _files(url):
            try:
                f = stack.enter_context(open(path, "rb"))
                view = stack.enter_context(
                    mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                )
            except (OSError, ValueError):  # gone meanwhile, or empty
                continue
            for offset in range(0, len(view), PAGE):
                _ = view[offset]  # reading a byte brings the page in
        yield time.perf_counter() - began


def _files(url: str) -> list[Path]:
    """The files of a database: the SQLite file, or every relation file of the schema."""
    if url.startswith(SQLITE):
        return [Path(url[len(SQLITE) :])]
    try:
        with connect(url) as conn:
            rows = conn.execute(
                "SELECT current_setting('data_directory'), pg_relation_filepath(c.oid)"
                " FROM pg_class c WHERE c.relkind IN ('r', 'i', 't') AND (c.relnamespace"
                " = current_schema()::regnamespace OR c.oid IN (SELECT reltoastrelid"
                " FROM pg_class WHERE relnamespace = current_schema()::regnamespace))"
            ).fetchall()
    except Exception as exc:  # noqa: BLE001 - no data directory for us: time it as it is
        print(f"# PostgreSQL files not held in the cache: {exc}", file=sys.stderr)
        return []
    files = []
    for directory, relation in rows:
        base = Path(directory) / relation
        files += [base] if base.exists() else []
        segment = 1
        while (more := Path(f"{base}.{segment}")).exists():  # 1 GB segments
            files.append(more)
            segment += 1
    if rows and not files:
        print("# PostgreSQL files not held in the cache: not readable", file=sys.stderr)
    return files


def busy_fraction(interval: float = 1.0) -> float:
    """How busy all CPUs were over `interval` seconds (0..1; 0 without /proc/stat)."""
    try:
        busy0, total0 = _machine()
        time.sleep(interval)
        busy1, total1 = _machine()
    except OSError:
        return 0.0
    return (busy1 - busy0) / max(1e-9, total1 - total0)


def wait_for_quiet(limit: float, most: float = 0.15) -> float:
    """Wait (up to `limit` seconds) until the machine is at most `most` busy; how busy it was."""
    deadline = time.monotonic() + limit
    busy = busy_fraction()
    while busy > most and time.monotonic() < deadline:
        time.sleep(4)
        busy = busy_fraction()
    return busy


@dataclass
class Foreign:
    """CPU seconds others spent on the machine between `start` and `stop`."""

    postgres: bool  # the round's own PostgreSQL server work is not foreign
    began: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def start(self) -> None:
        """Take the counters before the round."""
        self.began = self._counters()

    def stop(self) -> float:
        """Foreign CPU seconds since `start` (0 without /proc)."""
        machine, _, children, server = (
            now - then for now, then in zip(self._counters(), self.began, strict=True)
        )
        return max(0.0, machine - children - (server if self.postgres else 0.0))

    @staticmethod
    def _counters() -> tuple[float, float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            busy, total = _machine()
        except OSError:
            return (0.0, 0.0, 0.0, 0.0)
        return (busy, total, usage.ru_utime + usage.ru_stime, _postgres_cpu())


def _machine() -> tuple[float, float]:
    """CPU seconds busy and in all since boot, over all CPUs."""
    fields = [
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # guest time is in user already
    return (total - idle) / TICKS, total / TICKS


def _postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL processes, with those that ended (the postmaster's children)."""
    seconds = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text[: text.find(")") + 1]:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        seconds += (
            sum(int(v) for v in fields[11:15]) / TICKS
        )  # utime stime cutime cstime
    return seconds
