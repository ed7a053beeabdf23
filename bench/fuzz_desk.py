"""Running fuzz cases through the daemon's own pipeline on one database, and judging how they ended.

A `Desk` is one database with an opened runtime (parse workers and their
time limit, a clock the harness moves, agents and a fixed signing secret):
cases are spooled as intake spools them and run by `Pipeline.run_pending`,
a batch at a time; how each ended is read back from the spool with digests
of what was stored, so two databases can be compared value for value.
"""

from __future__ import annotations

import faulthandler
import hashlib
import re
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
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
from tierdesk.storage.sql import Sql

from bench.fuzz_cases import RULES, SIGNED, SUPPORT, Case, envelope

TICKET_OUTCOMES = frozenset({"new_ticket", "appended"})
OTHER_OUTCOMES = frozenset({"duplicate", "ignored", "answered"})
HANG_REASON = "parsing took longer than"
CRASH_REASON = "fuzz harness: exception escaped the pipeline:"
# an exception the pipeline caught and quarantined the message for: a bug all the same
PIPELINE_ERROR = "pipeline error:"
BATCH = 16  # cases a pipeline round takes: several share a commit group
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
MAX_ROUNDS_PER_BATCH = 8  # transient failures get five attempts, then quarantine
SECRET = "fuzz-signing-secret-the-same-on-every-database"
_BOUNDARY = re.compile(rb"=_tierdesk_[0-9a-f]+")


@dataclass(frozen=True)
class Ending:
    """How one case ended on one database, and what was stored of it."""

    name: str
    state: str
    outcome: str
    reason: str
    ticket: int | None
    stored: tuple[str, ...] = ()  # digests of the stored message, ticket, contact


@dataclass(frozen=True)
class Crash:
    """An exception that escaped the pipeline, and the case that raised it."""

    case: str
    error: str  # the exception's type
    traceback: str

    @property
    def kind(self) -> str:
        """What was raised and where: the exception's type and the innermost frame."""
        lines = self.traceback.strip().splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith("File ")]
        return f"{self.error} at {frames[-1] if frames else '?'}"


@dataclass
class FuzzRun:
    """One database's run: every case's ending, and what went wrong on the way."""

    database: str
    endings: list[Ending] = field(default_factory=list)
    # exceptions that escaped the pipeline
    crashes: list[Crash] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def hangs(self) -> list[Ending]:
        """Cases the daemon gave up parsing at its time limit."""
        return [e for e in self.endings if e.reason.startswith(HANG_REASON)]

    @property
    def pipeline_errors(self) -> list[Ending]:
        """Cases quarantined for an exception the pipeline caught (a bug, not a verdict)."""
        return [e for e in self.endings if e.reason.startswith(PIPELINE_ERROR)]

    def problems(self) -> list[str]:
        """Every case that did not end as a ticket, a known outcome or a quarantine with a reason."""
        found = []
        for ending in self.endings:
            where = f"{ending.name}: {ending.state}/{ending.outcome}"
            if ending.reason.startswith(CRASH_REASON):
                continue  # counted as its crash
            if ending.state == "quarantined" and not ending.reason.strip():
                found.append(f"{where} without a reason")
            elif ending.state == "done" and ending.outcome in TICKET_OUTCOMES:
                if ending.ticket is None:
                    found.append(f"{where} names no ticket")
            elif ending.state == "done" and ending.outcome in OTHER_OUTCOMES:
                continue
            elif ending.state != "quarantined":
                found.append(f"{where} ({ending.reason[:200]})")
        return found

    def counts(self) -> Counter[str]:
        """Endings by kind: ticket, each other outcome, quarantined."""
        return Counter(
            "ticket" if e.outcome in TICKET_OUTCOMES else e.outcome or e.state
            for e in self.endings
        )

    def reasons(self, state: str = "quarantined") -> Counter[str]:
        """Reasons of the endings in `state` (or of that outcome), alike ones counted together."""
        return Counter(
            reason_kind(e.reason) for e in self.endings if state in (e.state, e.outcome)
        )


def reason_kind(reason: str) -> str:
    """A quarantine reason without its particulars (numbers, long tails)."""
    return re.sub(r"\d+", "N", reason.splitlines()[0] if reason else "")[:90]


# --- running them ----------------------------------------------------------------


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


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A storage URL for a private, empty schema in `base_url`'s database, dropped afterwards."""
    import psycopg

    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    conninfo = base_url.split("?", 1)[0]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}schema={schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


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


def ending_of(sql: Sql, spool_id: int, name: str, instance: str) -> Ending:
    """How a spooled case ended, with digests of everything stored of it."""
    state, outcome, reason, ticket, ticket_id = sql.one(
        "SELECT s.state, s.outcome, s.error, t.number, t.id FROM spool s"
        " LEFT JOIN ticket t ON t.id = s.ticket_id WHERE s.id = ?",
        spool_id,
    ) or ("missing", "", "", None, None)
    kept = stored(sql, spool_id) + history(sql, ticket_id, instance)
    return Ending(name, state, outcome or "", reason or "", ticket, kept)


def history(sql: Sql, ticket_id: int | None, instance: str) -> tuple[str, ...]:
    """Digests of a ticket's row, its events and its outbox, as they are now.

    Each database is an instance of its own: its id (in the loop header, and
    the MIME boundaries made from it) is left out of the mails compared.
    """
    if ticket_id is None:
        return ()
    ticket = sql.all(
        "SELECT number, subject, status, tier, queue, priority, language, assignee,"
        " tags, sla, merged_into FROM ticket WHERE id = ?",
        ticket_id,
    )
    events = sql.all(
        "SELECT actor, kind, field_name, old_value, new_value, detail FROM event"
        " WHERE ticket_id = ? ORDER BY id",
        ticket_id,
    )
    outbox = sql.all(
        "SELECT kind, rcpt_key, limit_class, author, mail_from, rcpt_tos, message_id, raw"
        " FROM outbox WHERE ticket_id = ? ORDER BY id",
        ticket_id,
    )
    mails = [(*row[:-1], _without_instance(bytes(row[-1]), instance)) for row in outbox]
    return (_digest(ticket), _digest(events), _digest(mails))


def _without_instance(raw: bytes, instance: str) -> str:
    """A digest of a rendered mail with this database's instance id taken out."""
    raw = _BOUNDARY.sub(b"=_tierdesk_", raw.replace(instance.encode(), b"INSTANCE"))
    return hashlib.sha256(raw).hexdigest()


def stored(sql: Sql, spool_id: int) -> tuple[str, ...]:
    """Digests of the message stored from a spool item, its attachments, ticket and requester."""
    rows = sql.all(
        'SELECT m.id, m.message_id, m.in_reply_to, m."references", m.kind, m.sender,'
        " m.sender_name, m.recipients, m.subject, m.text, m.html, m.defects,"
        " t.number, t.subject, c.email, c.name, c.email_key"
        " FROM message m JOIN ticket t ON t.id = m.ticket_id"
        " JOIN contact c ON c.id = t.requester_id WHERE m.spool_id = ? ORDER BY m.id",
        spool_id,
    )
    out = []
    for row in rows:
        files = sql.all(
            "SELECT filename, content_type, size, sha256, content_id, inline"
            " FROM attachment WHERE message_id = ? ORDER BY id",
            row[0],
        )
        parties = sql.all(
            "SELECT p.address, p.role FROM participant p JOIN message m"
            " ON m.ticket_id = p.ticket_id WHERE m.id = ? ORDER BY p.address",
            row[0],
        )
        out.append(_digest((row[1:], files, parties)))
    return tuple(out)


def _digest(value: object) -> str:
    return hashlib.sha256(
        repr(_plain(value)).encode("utf-8", "surrogatepass")
    ).hexdigest()[:16]


def _plain(value: object) -> object:
    """A value read back as both databases can give it (SQLite has no booleans)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bool):
        return int(value)
    return value


# --- both databases ----------------------------------------------------------------


def divergences(first: FuzzRun, second: FuzzRun) -> list[str]:
    """Cases that ended differently, or were stored differently, on the two databases."""
    found = []
    for a, b in zip(first.endings, second.endings, strict=True):
        if (a.state, a.outcome, a.ticket, a.reason) != (
            b.state,
            b.outcome,
            b.ticket,
            b.reason,
        ):
            found.append(
                f"{a.name}: {first.database} {a.state}/{a.outcome} #{a.ticket} "
                f"{a.reason[:120]!r} vs {second.database} {b.state}/{b.outcome} "
                f"#{b.ticket} {b.reason[:120]!r}"
            )
        elif a.stored != b.stored:
            found.append(f"{a.name}: stored values differ")
    return found


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
