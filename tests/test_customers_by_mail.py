"""Customers by mail: replies thread by the signed address, status requests, replies to resolved tickets."""

from __future__ import annotations

import pytest
from tierdesk.storage.models import Event, Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents, tier 4 vendors and a queue group (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def test_subject_mangled_customer_reply_threads_by_the_signed_address(desk):
    new_ticket(desk)
    [ack] = desk.outbox("ack")
    signed = ack["Reply-To"].addresses[0].addr_spec
    mangled = (
        f"From: Alice Example <alice@customer.example>\r\nTo: {signed}\r\nSubject: AW: WG: Drucker\r\n"
        "Message-ID: <mangled-1@customer.example>\r\n\r\nStill broken.\r\n"
    ).encode()

    outcome = desk.receive(mangled, rcpt=signed)

    assert (outcome.kind, outcome.ticket, outcome.reason) == (
        "appended",
        1,
        "threaded by signed reply address",
    )


def test_status_request_lists_only_the_senders_open_tickets(desk):
    new_ticket(desk)
    other = fixture_bytes("flow/new_request.eml").replace(b"request-1@", b"other-1@")
    desk.receive(other.replace(b"alice@customer.example", b"zoe@elsewhere.example"))
    ask = (
        b"From: Alice Example <alice@customer.example>\r\nTo: support@example.com\r\nSubject: status\r\n"
        b"Message-ID: <ask-1@customer.example>\r\n\r\n\r\n"
    )

    outcome = desk.receive(ask)

    assert outcome.kind == "answered"
    assert Ticket.select().count() == 2  # no new ticket for the question
    [answer] = desk.outbox("status")
    assert answer["To"].addresses[0].addr_spec == "alice@customer.example"
    assert "[ACME #1]" in body(answer) and "[ACME #2]" not in body(answer)


def test_status_request_in_russian_on_the_first_line(desk):
    ask = (
        "From: Ivan <ivan@customer.example>\r\nTo: support@example.com\r\nSubject: \r\n"
        "Message-ID: <ask-2@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСтатус\r\n"
    ).encode()

    assert desk.receive(ask).kind == "answered"
    [answer] = desk.outbox("status")
    assert "нет открытых обращений" in body(answer)


def test_late_reply_to_a_resolved_ticket_opens_a_new_one_that_refers_back(desk):
    ticket = new_ticket(desk)
    long_ago = ticket.created_at - __import__("datetime").timedelta(days=60)
    Ticket.update(status="resolved", resolved_at=long_ago).where(
        Ticket.id == ticket.id
    ).execute()

    outcome = desk.receive(fixture_bytes("flow/reply_with_token.eml"))

    assert outcome.kind == "new_ticket" and outcome.ticket == 2
    assert Ticket.get_by_id(ticket.id).status == "resolved"
    assert Event.get(Event.kind == "follows_up").detail == "follows up on #1"
    assert Event.get(Event.kind == "followed_up").ticket_id == ticket.id


def test_reply_soon_after_resolving_reopens(desk):
    ticket = new_ticket(desk)
    Ticket.update(status="resolved", resolved_at=ticket.created_at).where(
        Ticket.id == ticket.id
    ).execute()

    outcome = desk.receive(fixture_bytes("flow/reply_with_token.eml"))

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert Ticket.get_by_id(ticket.id).status == "open"
