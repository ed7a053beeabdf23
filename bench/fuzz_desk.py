"""Running fuzz cases through the daemon's own pipeline on each database.

A `Desk` is one database with an opened runtime (parse workers and their
time limit, a clock the harness moves, agents and a fixed signing secret):
cases are spooled as intake spools them and run by `Pipeline.run_pending`,
a batch at a time; bench/fuzz_results.py reads back how each ended.
"""

from __future__ import annotations

import faulthandler
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierdesk.daemon.config import (
    Config,
    Duration,
    OutgoingConfig,
    PipelineConfig,
    StorageConfig,
    SupportConfig,
)
from tierdesk.daemon.runtime import Runtime, open_runtime
from tierdesk.parsers.reply_address import sign
from tierdesk.storage import spool

from bench.fuzz_cases import RULES, SIGNED, SUPPORT, Case, envelope
from bench.fuzz_results import (
    CRASH_REASON,
    Crash,
    FuzzRun,
    ending_of,
)

BATCH = 16  # cases a pipeline round takes: several share a commit group
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
MAX_ROUNDS_PER_BATCH = 8  # transient failures get five attempts, then quarantine
SECRET = "fuzz-signing-secret-the-same-on-every-database"


class StepClock:
    """A clock the harness moves: the same times on each database."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by timedelta(**delta)."""
        self.now += timedelta(**delta)


def fuzz_config(
    workdir: Path, url: str, parse_timeout: float, parse_workers: int = 1
) -> Config:
    """The daemon's configuration for a fuzz run: agents, a fixed signing secret, parse workers.

    The parse workers give each message the daemon's own time limit; the
    secret is the same for every database, so an agent's signed address is too.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rules.yaml").write_text(RULES, encoding="utf-8")
    (workdir / "secret").write_text(SECRET + "\n", encoding="utf-8")
    return replace(
        Config(),
        data_dir=workdir / "data",
        storage=StorageConfig(url=url),
        support=SupportConfig(
            addresses=[SUPPORT],
            display_name="ACME Support",
            subject_tag="ACME",
            secret_file=workdir / "secret",
        ),
        rules=workdir / "rules.yaml",
        outgoing=OutgoingConfig(maildir=workdir / "outgoing"),
        pipeline=PipelineConfig(
            parse_workers=parse_workers, parse_timeout=Duration(parse_timeout)
        ),
    )


class Desk:
    """One database with a runtime: cases go into its spool and through its pipeline."""

    def __init__(
        self, database: str, url: str, workdir: Path, parse_timeout: float
    ) -> None:
        self.clock = StepClock()
        config = fuzz_config(workdir, url, parse_timeout)
        self.runtime: Runtime = open_runtime(config, clock=self.clock)
        self.runtime.pipeline.parser.start()
        self.run = FuzzRun(database)
        self.instance = self.runtime.instance_id
        self.parse_timeout = parse_timeout

    def close(self) -> None:
        """Stop the parse workers and close the database connection."""
        self.runtime.close()

    def feed(self, cases: Sequence[Case], batch: int = BATCH) -> None:
        """Spool the cases and run the pipeline over them, a batch at a time, as the daemon does."""
        started = time.perf_counter()
        for at in range(0, len(cases), batch):
            chunk = cases[at : at + batch]
            arrivals = [self._arrival(case) for case in chunk]
            ids = spool.spool(self.runtime.sql, arrivals, self.clock())
            self._process(ids, chunk)
            self.run.endings += [
                ending_of(self.runtime.sql, spool_id, case.name, self.instance)
                for spool_id, case in zip(ids, chunk, strict=True)
            ]
            self.clock.advance(minutes=7)
        self.run.seconds += time.perf_counter() - started

    def _arrival(self, case: Case) -> spool.Arrival:
        """The case as our listener would spool it; an agent's mail to its signed address."""
        sender, recipients = envelope(case.raw)
        raw = case.raw
        if case.signed is not None:
            target = case.signed
            key = self.runtime.snapshot.keys.current
            issued = self.clock().date()
            address = sign(
                SUPPORT,
                key,
                target.ticket,
                target.role,
                target.name,
                target.mode,
                issued,
            )
            raw = raw.replace(SIGNED, address.encode())
            recipients = (address,)
        return spool.Arrival(raw, "smtp", sender, recipients, peer="127.0.0.1")

    def _process(self, ids: list[int], chunk: Sequence[Case]) -> None:
        """Run the daemon's pipeline until this batch is disposed of; an escaping exception is a crash."""
        # a hang past the parse timeout (or outside parsing) shows where it hangs
        faulthandler.dump_traceback_later(self.parse_timeout * 4 + 60, exit=False)
        try:
            escaped = self._rounds(len(ids))
        finally:
            faulthandler.cancel_dump_traceback_later()
        if escaped:  # outside the handler, so its traceback stays out of theirs
            self._one_by_one(ids, chunk)

    def _rounds(self, limit: int) -> bool:
        """Pipeline rounds until nothing is left to do; True when an exception escaped one."""
        for _ in range(MAX_ROUNDS_PER_BATCH):
            try:
                if not self.runtime.pipeline.run_pending(limit=limit):
                    return False
            except Exception:  # noqa: BLE001 - exactly what the harness looks for
                return True
        return False

    def _one_by_one(self, ids: list[int], chunk: Sequence[Case]) -> None:
        """After an exception escaped, pin it on a case: each still-pending item on its own.

        The daemon would meet the same exception on every round and stall; the
        harness sets the item aside, so the cases after it still run.
        """
        pending = spool.states(self.runtime.sql, ids)
        for spool_id, case in zip(ids, chunk, strict=True):
            if pending.get(spool_id) != "new":
                continue
            try:
                self.runtime.pipeline.process(spool_id)
            except Exception as exc:  # noqa: BLE001 - recorded, the next case goes on
                self.run.crashes.append(
                    Crash(case.name, type(exc).__name__, traceback.format_exc())
                )
                reason = f"{CRASH_REASON} {type(exc).__name__}: {exc}"
                spool.quarantine(self.runtime.sql, spool_id, reason, "", self.clock())


def fuzz_databases(
    urls: dict[str, str],
    rounds: Iterator[list[Case]],
    workdir: Path,
    parse_timeout: float,
) -> dict[str, FuzzRun]:
    """Feed each round of cases to each database in turn; the runs, by database."""
    with ExitStack() as stack:
        desks = {}
        for name, url in urls.items():
            desk = Desk(name, url, workdir / name, parse_timeout)
            stack.callback(desk.close)
            desks[name] = desk
        for cases in rounds:
            for desk in desks.values():
                desk.feed(cases)
        return {name: desk.run for name, desk in desks.items()}
