"""`tierdesk status`: every live daemon, what each holds, how deep the queues are, what is stuck.

Meant for people and for monitoring alike: exit status 0 when the desk is
working, 2 when something is stuck (no live daemon, a message or a due mail
waiting longer than `cluster.stuck_after`, a mailbox that no daemon
watches), 75 when the database cannot be reached.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from tierdesk.daemon.admin import emit
from tierdesk.daemon.config import Config
from tierdesk.daemon.runtime import Runtime
from tierdesk.storage.clock import as_aware_utc, system_clock
from tierdesk.storage.membership import daemons, leases
from tierdesk.storage.sql import Sql

EX_STUCK = 2


@dataclass(frozen=True)
class DaemonState:
    """One daemon as its heartbeat row and its holdings show it."""

    id: str
    host: str
    pid: int
    version: str
    schema_version: int
    started_at: str
    last_beat_seconds_ago: float
    alive: bool
    leases: list[str]
    claimed_spool: int
    claimed_outbox: int


@dataclass
class DeskStatus:
    """The whole desk at one moment."""

    checked_at: str
    daemons: list[DaemonState]
    spool_waiting: int
    spool_oldest_seconds: float | None
    spool_quarantined: int
    outbox_pending: int
    outbox_due: int
    outbox_oldest_due_seconds: float | None
    outbox_failed: int
    mailboxes: dict[str, str | None]
    problems: list[str] = field(default_factory=list)


def desk_status(sql: Sql, config: Config, now: datetime) -> DeskStatus:
    """Read the heartbeats, leases, claims and queue depths, and judge what is stuck."""
    cluster = config.cluster
    alive_within = max(3 * cluster.heartbeat, cluster.mailbox_takeover)
    held = {lease.name: lease for lease in leases(sql) if lease.expires_at > now}
    claimed = _claims(sql, now)
    states = [
        DaemonState(
            d.id,
            d.host,
            d.pid,
            d.version,
            d.schema_version,
            f"{d.started_at:%Y-%m-%d %H:%M:%S} UTC",
            round((now - d.beat_at).total_seconds(), 1),
            (now - d.beat_at).total_seconds() <= alive_within,
            sorted(name for name, lease in held.items() if lease.holder == d.id),
            claimed.get(("spool", d.id), 0),
            claimed.get(("outbox", d.id), 0),
        )
        for d in daemons(sql)
    ]
    waiting, oldest, quarantined = _spool(sql, now)
    pending, due, oldest_due, failed = _outbox(sql, now)
    mailboxes = {
        m.name: held[f"imap:{m.name}"].holder if f"imap:{m.name}" in held else None
        for m in config.imap
    }
    status = DeskStatus(
        f"{now:%Y-%m-%d %H:%M:%S} UTC",
        states,
        waiting,
        oldest,
        quarantined,
        pending,
        due,
        oldest_due,
        failed,
        mailboxes,
    )
    status.problems = _problems(status, cluster.stuck_after)
    return status


def _claims(sql: Sql, now: datetime) -> dict[tuple[str, str], int]:
    """Unexpired claims on unfinished rows, per table and holder."""
    counts: dict[tuple[str, str], int] = {}
    for table, unfinished in (("spool", "new"), ("outbox", "pending")):
        rows = sql.all(
            f"SELECT claimed_by, COUNT(*) FROM {table} WHERE state = ?"
            " AND claimed_until > ? GROUP BY claimed_by",
            unfinished,
            now,
        )
        counts.update({(table, holder): count for holder, count in rows})
    return counts


def _age(now: datetime, value: object) -> float | None:
    stamp = as_aware_utc(value)
    return None if stamp is None else round((now - stamp).total_seconds(), 1)


def _spool(sql: Sql, now: datetime) -> tuple[int, float | None, int]:
    waiting, oldest = sql.one(
        "SELECT COUNT(*), MIN(received_at) FROM spool WHERE state = 'new'"
    ) or (0, None)
    quarantined = sql.scalar("SELECT COUNT(*) FROM spool WHERE state = 'quarantined'")
    return waiting, _age(now, oldest), quarantined or 0


def _outbox(sql: Sql, now: datetime) -> tuple[int, int, float | None, int]:
    pending, due, oldest_due = sql.one(
        "SELECT COUNT(*), SUM(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END),"
        " MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)"
        " FROM outbox WHERE state = 'pending'",
        now,
        now,
    ) or (0, 0, None)
    failed = sql.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'failed'")
    return pending, due or 0, _age(now, oldest_due), failed or 0


def _problems(status: DeskStatus, stuck_after: float) -> list[str]:
    """What makes the desk stuck, each in a sentence that says where to look."""
    problems = []
    if not any(d.alive for d in status.daemons):
        problems.append("no tierdesk daemon is running (no heartbeat)")
    limit = timedelta(seconds=stuck_after).total_seconds()
    if status.spool_oldest_seconds is not None and status.spool_oldest_seconds > limit:
        problems.append(
            f"a received message has waited {status.spool_oldest_seconds:.0f} s for the"
            f" pipeline (more than {limit:.0f} s): see `tierdesk spool list --state new`"
            " and the daemons' logs"
        )
    if (
        status.outbox_oldest_due_seconds is not None
        and status.outbox_oldest_due_seconds > limit
    ):
        problems.append(
            f"a mail has been due for {status.outbox_oldest_due_seconds:.0f} s (more than"
            f" {limit:.0f} s): is the relay reachable? see `tierdesk outbox list`"
        )
    for name, holder in status.mailboxes.items():
        if holder is None:
            problems.append(f"IMAP mailbox {name!r} is watched by no daemon")
    return problems


def format_status(status: DeskStatus) -> str:
    """The status as lines for a person."""
    alive = sum(d.alive for d in status.daemons)
    lines = [f"tierdesk status at {status.checked_at}", f"daemons: {alive} alive"]
    for d in status.daemons:
        holds = ", ".join(d.leases) or "no mailbox"
        lines.append(
            f"  {d.id}  {'alive' if d.alive else 'SILENT'}: host {d.host} pid {d.pid},"
            f" tierdesk {d.version} (schema {d.schema_version}), started {d.started_at},"
            f" last beat {d.last_beat_seconds_ago:.0f} s ago; holds {holds};"
            f" claims {d.claimed_spool} received, {d.claimed_outbox} outgoing"
        )
    oldest = _seconds(status.spool_oldest_seconds)
    lines.append(
        f"spool: {status.spool_waiting} waiting (oldest {oldest}),"
        f" {status.spool_quarantined} quarantined"
    )
    lines.append(
        f"outbox: {status.outbox_pending} pending, {status.outbox_due} due (oldest due"
        f" {_seconds(status.outbox_oldest_due_seconds)}), {status.outbox_failed} failed"
    )
    for name, holder in status.mailboxes.items():
        lines.append(f"mailbox {name}: watched by {holder or 'NO DAEMON'}")
    lines.extend(f"STUCK: {problem}" for problem in status.problems)
    lines.append("STUCK" if status.problems else "OK")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def status_command(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk status [--json]`: exit 0 when working, 2 when something is stuck."""
    status = desk_status(runtime.sql, runtime.config, system_clock())
    emit(args, asdict(status), lambda _: format_status(status))
    return EX_STUCK if status.problems else 0
