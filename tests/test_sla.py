"""SLA deadlines and escalation, driven by a controllable clock (nobody sleeps)."""

from __future__ import annotations

import email
import email.policy
import textwrap
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tierdesk.daemon.runtime import open_runtime
from tierdesk.daemon.sla_sweep import SlaSweeper
from tierdesk.storage import spool
from tierdesk.storage.changes import change_status, record_first_response
from tierdesk.storage.models import Event, OutboxItem, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.envelope import plain_envelope

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_4PM = datetime(2026, 1, 9, 16, 0, tzinfo=BERLIN)

RULES = """
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
    first_response: {normal: 4h}
    resolution: {normal: 16h}  # two 8-hour business days
    warn_at: 0.75
escalation: {ceiling: 3}
auto_close: {resolved_after: 7d}
default: {sla: standard}
rules: []
"""


@pytest.fixture
def desk(tmp_path, db_url):
    """A runtime with the SLA rules and a clock the test sets."""
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(textwrap.dedent(RULES))
    clock = {"now": FRIDAY_4PM}
    runtime = open_runtime(
        replace(make_config(tmp_path, db_url), rules=rules_path),
        clock=lambda: clock["now"],
    )
    sweeper = SlaSweeper(runtime.sql, runtime.snapshot)

    class Desk:
        def at(self, when: datetime) -> None:
            clock["now"] = when

        sql = runtime.sql

        def process(self, raw: bytes):
            (spool_id,) = spool.spool(
                runtime.sql,
                [spool.Arrival(raw, "test", *plain_envelope(raw))],
                runtime.clock(),
            )
            return runtime.pipeline.process(spool_id)

        def new_ticket(self, tag: str = "1") -> Ticket:
            raw = fixture_bytes("flow/new_request.eml").replace(
                b"request-1@", f"req-{tag}@".encode()
            )
            return Ticket.get(Ticket.number == self.process(raw).ticket)

        def sweep(self, when: datetime):
            return sweeper.sweep(when)

        def status(self, ticket: Ticket, status: str, when: datetime) -> None:
            with runtime.db.atomic():
                change_status(
                    runtime.sql,
                    ticket.id,
                    status,
                    "agent:alice",
                    sweeper.rules.sla,
                    when,
                )

    yield Desk()
    runtime.close()


def berlin(ticket_field: datetime | None) -> datetime:
    assert ticket_field is not None
    return ticket_field.replace(tzinfo=ZoneInfo("UTC")).astimezone(BERLIN)


def mails(kind: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(bytes(o.raw), policy=email.policy.default)
        for o in OutboxItem.select()
        .where(OutboxItem.kind == kind)
        .order_by(OutboxItem.id)
    ]


def test_friday_afternoon_ticket_is_due_monday_in_business_hours(desk):
    ticket = desk.new_ticket()

    # 1 hour on Friday (16-17), 3 more on Monday from 09:00
    assert berlin(ticket.first_response_due_at) == datetime(
        2026, 1, 12, 12, 0, tzinfo=BERLIN
    )
    assert berlin(ticket.resolution_due_at) == datetime(
        2026, 1, 13, 16, 0, tzinfo=BERLIN
    )
    assert ticket.sla == "standard"


def test_unanswered_ticket_escalates_one_tier_and_notifies_that_tier(desk):
    ticket = desk.new_ticket()
    due = berlin(ticket.first_response_due_at)

    assert desk.sweep(due - timedelta(minutes=1)).escalated == []
    report = desk.sweep(due + timedelta(minutes=1))

    assert report.escalated == [ticket.number]
    ticket = Ticket.get_by_id(ticket.id)
    assert ticket.tier == 2 and ticket.escalations == 1
    event = Event.get((Event.kind == "tier") & (Event.ticket == ticket.id))
    assert (event.actor, event.old_value, event.new_value) == ("sla", "1", "2")
    [notice] = mails("escalation")
    assert notice["To"].addresses[0].addr_spec == "carol@acme.example"
    assert (
        "Escalated to tier 2" in notice["Subject"] and "[ACME #1]" in notice["Subject"]
    )
    assert notice["In-Reply-To"] == "<req-1@customer.example>"
    assert desk.sweep(due + timedelta(minutes=2)).escalated == []  # nothing twice


def test_escalation_stops_at_the_ceiling_with_a_breach_on_record(desk):
    ticket = desk.new_ticket()
    when = berlin(ticket.first_response_due_at)
    for _ in range(4):
        when = when + timedelta(days=3)
        desk.sweep(when)

    ticket = Ticket.get_by_id(ticket.id)
    assert ticket.tier == 3
    assert [m["To"].addresses[0].addr_spec for m in mails("escalation")] == [
        "carol@acme.example",
        "dave@acme.example",
    ]
    assert Event.select().where(Event.kind == "sla_breached").count() == 1
    assert ticket.first_response_due_at is None


def test_warning_goes_out_once_before_the_deadline(desk):
    ticket = desk.new_ticket()
    warn = berlin(ticket.sla_warn_at)

    assert warn == datetime(
        2026, 1, 12, 11, 0, tzinfo=BERLIN
    )  # 3 of the 4 business hours
    assert desk.sweep(warn + timedelta(minutes=1)).warned == [ticket.number]
    assert desk.sweep(warn + timedelta(minutes=2)).warned == []
    [warning] = mails("sla_warning")
    assert warning["To"].addresses[0].addr_spec == "alice@acme.example"


def test_an_answered_ticket_does_not_escalate(desk):
    ticket = desk.new_ticket()
    with desk.sql.db.atomic():
        record_first_response(
            desk.sql,
            ticket.id,
            "agent:alice",
            datetime(2026, 1, 12, 9, 30, tzinfo=BERLIN),
        )

    assert desk.sweep(datetime(2026, 1, 20, 12, 0, tzinfo=BERLIN)).escalated == []


def test_pending_stops_the_clock_and_resuming_gives_back_the_time_left(desk):
    ticket = desk.new_ticket()
    # Monday 10:00: two business hours are left
    desk.status(ticket, "pending", datetime(2026, 1, 12, 10, 0, tzinfo=BERLIN))

    assert desk.sweep(datetime(2026, 1, 14, 12, 0, tzinfo=BERLIN)).escalated == []
    desk.status(ticket, "open", datetime(2026, 1, 15, 16, 0, tzinfo=BERLIN))

    ticket = Ticket.get_by_id(ticket.id)
    # one hour on Thursday, one on Friday morning
    assert berlin(ticket.first_response_due_at) == datetime(
        2026, 1, 16, 10, 0, tzinfo=BERLIN
    )
    assert ticket.sla_paused_at is None


def test_resolved_ticket_closes_after_a_quiet_week_with_a_status_mail(desk):
    ticket = desk.new_ticket()
    resolved = datetime(2026, 1, 12, 10, 0, tzinfo=BERLIN)
    desk.status(ticket, "resolved", resolved)

    assert desk.sweep(resolved + timedelta(days=6)).closed == []
    assert desk.sweep(resolved + timedelta(days=7, minutes=1)).closed == [ticket.number]

    assert Ticket.get_by_id(ticket.id).status == "closed"
    [status_mail] = mails("closed")
    assert status_mail["To"].addresses[0].addr_spec == "alice@customer.example"
    assert status_mail["Auto-Submitted"] == "auto-generated"
    assert desk.sweep(resolved + timedelta(days=8)).closed == []


def test_customer_reply_reopens_a_resolved_ticket_so_it_is_not_closed(desk):
    ticket = desk.new_ticket()
    desk.status(ticket, "resolved", datetime(2026, 1, 12, 10, 0, tzinfo=BERLIN))
    desk.at(datetime(2026, 1, 13, 10, 0, tzinfo=BERLIN))

    assert desk.process(fixture_bytes("flow/reply_with_token.eml")).kind == "appended"

    reopened = Ticket.get_by_id(ticket.id)
    assert (reopened.status, reopened.resolved_at) == ("open", None)
    assert desk.sweep(datetime(2026, 1, 25, 10, 0, tzinfo=BERLIN)).closed == []


def test_the_closing_status_mail_copies_the_customers_watchers(desk):
    """Dave, copied on the request, got the answer and the resolution; the close too."""
    outcome = desk.process(fixture_bytes("watchers/request_cc_partner.eml"))
    ticket = Ticket.get(Ticket.number == outcome.ticket)
    resolved = datetime(2026, 1, 12, 10, 0, tzinfo=BERLIN)
    desk.status(ticket, "resolved", resolved)

    assert desk.sweep(resolved + timedelta(days=7, minutes=1)).closed == [ticket.number]

    [status_mail] = mails("closed")
    assert status_mail["To"].addresses[0].addr_spec == "alice@customer.example"
    assert [a.addr_spec for a in status_mail["Cc"].addresses] == [
        "dave@partner.example"
    ]
