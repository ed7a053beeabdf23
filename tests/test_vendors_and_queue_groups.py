"""Queues with people of their own: tier 4 hands a ticket to the queue's vendor, a queue group gets its notices."""

from __future__ import annotations

import pytest
from tierdesk.parsers.reply_address import read
from tierdesk.storage.models import Message, Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import OURS, body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents, tier 4 vendors and a queue group (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def test_tier_four_hands_the_ticket_to_the_vendor_whose_answer_stays_internal(desk):
    ticket = new_ticket(desk)
    Ticket.update(queue="hardware").where(Ticket.id == ticket.id).execute()
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", reply_to, "#tier 4\nPlease check the fuser unit."
        )
    )

    [forward] = desk.outbox("vendor")
    assert forward["To"].addresses[0].addr_spec == "help@vendor.example"
    assert "the printer on floor 3" in body(
        forward
    ) and "Please check the fuser unit." in body(forward)
    vendor_address = forward["Reply-To"].addresses[0].addr_spec
    assert read(vendor_address, OURS, desk.keys).role == "vendor"

    answer = desk.agent_mail(
        "engineer@vendor.example", vendor_address, "Replace part FU-7.", mid="v1"
    )
    outcome = desk.receive(answer)

    assert outcome.kind == "appended"
    assert Message.get(Message.kind == "vendor_note").text == "Replace part FU-7."
    to_customer = [
        m
        for m in desk.outbox()
        if m["To"].addresses[0].addr_spec == "alice@customer.example"
    ]
    assert all("FU-7" not in body(m) for m in to_customer)


def test_tier_four_without_a_vendor_is_refused(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    outcome = desk.receive(desk.agent_mail("alice@acme.example", reply_to, "#tier 4"))

    assert outcome.kind == "ignored" and "#tier 4 needs a vendor" in outcome.reason


def test_a_queue_with_its_own_group_notifies_that_group_not_the_tier(desk):
    raw = fixture_bytes("flow/new_request.eml").replace(
        b"Printer on floor 3", b"Printer 7 on floor 3"
    )

    desk.receive(raw)

    notified = sorted(m["To"].addresses[0].addr_spec for m in desk.outbox("notify_new"))
    assert notified == ["bob@acme.example"]
