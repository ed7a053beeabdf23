"""A desk with a week of tickets for the supervisor's report and digest.

Berlin office hours (Mon-Fri 09-17), first response within 8 business
hours, resolution within 16. `now` is Friday 16 January 2026, 16:00; the
tickets below are opened through the real pipeline, and agents act through
the storage helpers the commands use, each at a moment the test sets.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tierdesk.daemon.config import Config
from tierdesk.daemon.config_digest import DigestConfig
from tierdesk.daemon.digest import send_digest_if_due
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage.changes import change_field, change_status, record_first_response
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.desk import Desk, HandClock, open_desk

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 16, 16, 0, tzinfo=BERLIN)
REQUEST = fixture_bytes("flow/new_request.eml")

RULES = textwrap.dedent(
    """
    timezone: Europe/Berlin
    business_hours:
      office: {mon-fri: "09:00-17:00"}
    agents:
      alice: {address: alice@acme.example, name: Alice, tier: 1}
      carol: {address: carol@acme.example, name: Carol, tier: 2}
      dave: {address: dave@acme.example, name: Dave, tier: 3}
    sla:
      standard:
        business_hours: office
        first_response: {normal: 8h}
        resolution: {normal: 16h}
    escalation: {ceiling: 3}
    default: {sla: standard}
    rules: []
    """
)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of January 2026 on the Berlin office's clock."""
    return datetime(2026, 1, day, hour, minute, tzinfo=BERLIN)


class SupervisorDesk:
    """The desk, its clock, and the agents' actions at given moments."""

    def __init__(self, desk: Desk, clock: HandClock) -> None:
        self.desk = desk
        self.clock = clock
        self.runtime = desk.runtime

    def opened(self, tag: str, when: datetime) -> Ticket:
        """A new request from a customer of its own, arriving at `when`."""
        self.clock.now = when
        raw = REQUEST.replace(b"request-1@", f"req-{tag}@".encode()).replace(
            b"alice@customer.example", f"{tag}@customer.example".encode()
        )
        raw = raw.replace(b"Printer on floor 3", f"Request {tag}:".encode())
        return Ticket.get(Ticket.number == self.desk.receive(raw).ticket)

    def answered(self, ticket: Ticket, when: datetime) -> None:
        """An agent's first answer."""
        with self.runtime.db.atomic():
            record_first_response(self.runtime.sql, ticket.id, "agent:alice", when)

    def status(self, ticket: Ticket, status: str, when: datetime) -> None:
        """A status change (resolved, pending, open again)."""
        with self.runtime.db.atomic():
            change_status(
                self.runtime.sql,
                ticket.id,
                status,
                "agent:alice",
                self.runtime.snapshot.rules.sla,
                when,
            )

    def tier(self, ticket: Ticket, tier: int, when: datetime) -> None:
        """An escalation to `tier`."""
        with self.runtime.db.atomic():
            change_field(self.runtime.sql, ticket.id, "tier", tier, "sla", when)


def open_supervisor_desk(
    tmp_path: Path, db_url: str, configure=None
) -> Iterator[SupervisorDesk]:
    """The desk with the week below played into it; the clock at NOW (`yield from`)."""
    clock = HandClock(NOW)
    for desk in open_desk(tmp_path, db_url, RULES, configure, clock):
        week = SupervisorDesk(desk, clock)
        play_the_week(week)
        clock.now = NOW
        yield week


def play_the_week(d: SupervisorDesk) -> None:
    """Eight tickets; the figures they make are worked out in tests/test_report.py."""
    # before the window: still open after nine days
    d.opened("t0", berlin(7, 10))
    # Friday evening, answered Monday 09:30 (30 business minutes); waits on the
    # customer until Tuesday 09:00; resolved 10:00: 1.5 business hours of work
    t6 = d.opened("t6", berlin(9, 18))
    d.answered(t6, berlin(12, 9, 30))
    d.status(t6, "pending", berlin(12, 9, 30))
    d.status(t6, "open", berlin(13, 9))
    d.status(t6, "resolved", berlin(13, 10))
    # Saturday, never answered: open 6 days
    d.opened("t7", berlin(10, 12))
    # tier 1 alone: answered in 1h, resolved in 4h
    t1 = d.opened("t1", berlin(12, 9))
    d.answered(t1, berlin(12, 10))
    d.status(t1, "resolved", berlin(12, 13))
    # answered in 2h, resolved Tuesday, reopened Wednesday, resolved again
    # Wednesday 11:00: 17 business hours, over the 16
    t2 = d.opened("t2", berlin(12, 10))
    d.answered(t2, berlin(12, 12))
    d.status(t2, "resolved", berlin(13, 12))
    d.status(t2, "open", berlin(14, 9))
    d.status(t2, "resolved", berlin(14, 11))
    # escalated to tier 2, answered there in 6h, resolved in 14h
    t3 = d.opened("t3", berlin(13, 9))
    d.tier(t3, 2, berlin(13, 13))
    d.answered(t3, berlin(13, 15))
    d.status(t3, "resolved", berlin(14, 15))
    # up to tier 3, answered after 12 business hours, still open
    t4 = d.opened("t4", berlin(14, 9))
    d.tier(t4, 2, berlin(14, 10))
    d.tier(t4, 3, berlin(14, 11))
    d.answered(t4, berlin(15, 13))
    # this morning, not answered yet (6 of its 8 hours gone)
    d.opened("t5", berlin(16, 10))


def with_digest(config: Config, language: str | None = None) -> Config:
    """The desk's config with two supervisors getting the digest at 08:00 Berlin time."""
    digest = DigestConfig(
        to=["boss@acme.example", "lead@acme.example"],
        at="08:00",
        timezone="Europe/Berlin",
        language=language,
    )
    return replace(config, digest=digest)


def digest_at(tmp_path: str, db_url: str, when: str, start_at: float) -> int:
    """In a process of its own, like another daemon: wait for `start_at`, run the digest at `when`."""
    config = replace(
        make_config(Path(tmp_path), db_url), rules=Path(tmp_path) / "rules.yaml"
    )
    moment = datetime.fromisoformat(when)
    runtime = open_runtime(with_digest(config), clock=lambda: moment)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        return send_digest_if_due(runtime.sql, runtime.snapshot, moment)
    finally:
        runtime.close()
