"""The SLA sweep run by several daemons at the same moment does each thing once.

Every daemon schedules the sweep; on one database they may all run it at
the same second. An escalation, a warning or an auto-close must happen once,
with its mails once.
"""

from __future__ import annotations

import collections
from datetime import datetime, timedelta

from tierdesk.storage.models import Event, OutboxItem, Ticket

from tests.conftest import fixture_bytes
from tests.support.at_once import at_once
from tests.support.sweep_process import sweep_at
from tests.test_sla import BERLIN, desk  # noqa: F401 - the fixture

SWEEPERS = 4
EACH = 8
REQUEST = fixture_bytes("flow/new_request.eml")


def new_ticket(desk, tag: str) -> Ticket:  # noqa: F811 - the fixture's value
    """A ticket from a customer of its own (one sender may open only a few an hour)."""
    raw = REQUEST.replace(b"request-1@", f"req-{tag}@".encode()).replace(
        b"alice@customer.example", f"{tag}@customer.example".encode()
    )
    return Ticket.get(Ticket.number == desk.process(raw).ticket)


def test_four_sweeps_at_once_escalate_warn_and_close_each_ticket_once(
    tmp_path,
    db_url,
    desk,  # noqa: F811 - the fixture imported above
):
    # closed: resolved ten days before the sweep
    desk.at(datetime(2026, 1, 9, 10, 0, tzinfo=BERLIN))
    to_close = [new_ticket(desk, f"c{i}") for i in range(EACH)]
    for ticket in to_close:
        desk.status(ticket, "resolved", datetime(2026, 1, 9, 10, 5, tzinfo=BERLIN))
    # escalated: due Monday 12:00, overdue at the sweep
    desk.at(datetime(2026, 1, 16, 16, 0, tzinfo=BERLIN))
    to_escalate = [new_ticket(desk, f"e{i}") for i in range(EACH)]
    # warned: due 13:00, warned from 12:00
    desk.at(datetime(2026, 1, 19, 9, 0, tzinfo=BERLIN))
    to_warn = [new_ticket(desk, f"w{i}") for i in range(EACH)]
    when = datetime(2026, 1, 19, 12, 30, tzinfo=BERLIN)

    reports = at_once(
        SWEEPERS,
        sweep_at,
        str(tmp_path),
        db_url,
        str(tmp_path / "rules.yaml"),
        when.isoformat(),
    )

    for what, tickets in (
        ("escalated", to_escalate),
        ("warned", to_warn),
        ("closed", to_close),
    ):
        done = collections.Counter(n for r in reports for n in r[what])
        assert done == collections.Counter(t.number for t in tickets), what
    for ticket in to_escalate:
        ticket = Ticket.get_by_id(ticket.id)
        assert (ticket.tier, ticket.escalations) == (2, 1)
        changes = Event.select().where(
            (Event.ticket == ticket.id) & (Event.kind == "tier")
        )
        assert changes.count() == 1
    for ticket in to_close:
        assert Ticket.get_by_id(ticket.id).status == "closed"
    per_ticket = collections.Counter((o.ticket_id, o.kind) for o in OutboxItem.select())
    for ticket in to_escalate:
        assert per_ticket[(ticket.id, "escalation")] == 1  # carol, tier 2
    for ticket in to_warn:
        assert per_ticket[(ticket.id, "sla_warning")] == 1  # alice, tier 1
    for ticket in to_close:
        assert per_ticket[(ticket.id, "closed")] == 1
    assert desk.sweep(when + timedelta(minutes=1)).escalated == []
