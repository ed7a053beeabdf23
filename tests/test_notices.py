"""What notices and greetings say: the true author of what they relay, the ticket's requester apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tierdesk.daemon.sla_sweep import SlaSweeper
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    yield from open_desk(tmp_path, db_url)


def first_line(notice) -> str:
    return body(notice).splitlines()[0]


def test_new_ticket_notice_names_the_customer_not_the_agent_it_goes_to(desk):
    new_ticket(desk)

    for agent in ("alice", "bob"):
        notice = desk.notice_for(f"{agent}@acme.example")
        assert first_line(notice) == (
            "New ticket 1 from Alice Example <alice@customer.example>"
        )
        assert "acme.example" not in first_line(notice)


def test_reply_notice_names_the_customer_who_wrote_to_every_agent(desk):
    new_ticket(desk)
    desk.receive(fixture_bytes("flow/reply_with_token.eml"))

    for agent in ("alice", "bob"):
        notice = desk.notice_for(f"{agent}@acme.example")
        assert notice["Subject"].startswith("[ACME #1]")
        assert first_line(notice).startswith(
            "Alice Example <alice@customer.example> wrote on ticket 1 (tier 1, new)"
        )


def test_a_colleagues_reply_notice_names_the_colleague_and_the_requester(desk):
    desk.receive(fixture_bytes("flow/new_request_cc_colleague.eml"))  # Cc: Carol
    desk.receive(fixture_bytes("flow/colleague_reply_with_token.eml"))

    notice = desk.notice_for("bob@acme.example")
    assert first_line(notice) == (
        "Carol Colleague <carol@customer.example> wrote on ticket 1 of "
        "Alice Example <alice@customer.example> (tier 1, new):"
    )
    assert Ticket.get().requester.email == "alice@customer.example"


def test_assignment_notice_names_the_requester_and_who_assigned(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(desk.agent_mail("alice@acme.example", reply_to, "#assign carol"))

    [notice] = desk.outbox("notify_assigned")
    text = body(notice)
    assert "Hello Carol White," in text
    assert "alice assigned ticket 1 to you" in text
    assert "Customer: Alice Example <alice@customer.example>" in text


def test_note_notice_names_the_agent_who_wrote_the_note(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail("alice@acme.example", reply_to, "#comment\nToner ordered.")
    )

    notice = desk.notice_for("bob@acme.example")
    assert first_line(notice).startswith("alice added a private note to ticket 1")
    assert not [m for m in desk.outbox("notify_note") if "alice@" in m["To"]]


def test_escalation_notice_names_the_requester_not_the_agent(tmp_path, db_url):
    rules = (
        "agents:\n"
        "  alice: {address: alice@acme.example, name: Alice Smith, tier: 1}\n"
        "  carol: {address: carol@acme.example, name: Carol White, tier: 2}\n"
        "sla:\n  quick: {first_response: {normal: 1h}}\n"
        "default: {sla: quick}\nrules: []\n"
    )
    desk = next(open_desk(tmp_path, db_url, rules))
    try:
        new_ticket(desk)
        SlaSweeper(desk.runtime.sql, desk.runtime.snapshot).sweep(
            datetime.now(UTC) + timedelta(days=1)
        )

        [notice] = desk.outbox("escalation")
        assert notice["To"].addresses[0].addr_spec == "carol@acme.example"
        assert "Customer: Alice Example <alice@customer.example>" in body(notice)
    finally:
        desk.runtime.close()


def test_acknowledgement_greets_by_the_name_the_customer_just_wrote_with(desk):
    new_ticket(desk)
    desk.receive(fixture_bytes("flow/second_request_new_name.eml"))

    first, second = desk.outbox("ack")
    assert body(first).startswith("Hello Alice Example,")
    assert body(second).startswith("Hello Alice E. (Accounting),")
    assert second["To"].addresses[0].display_name == "Alice E. (Accounting)"
