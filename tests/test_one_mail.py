"""One mail, not two: a status set with an answer is told in that answer; alone, in its own mail."""

from __future__ import annotations

import pytest
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents (tests/support/desk.py) and Alice Example's ticket 1."""
    for desk in open_desk(tmp_path, db_url):
        new_ticket(desk)
        yield desk


def alice_reply_to(desk) -> str:
    """The signed address alice's notice of ticket 1 asks her to reply to."""
    return desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec


def test_answer_with_status_resolved_gives_the_customer_one_mail_that_says_both(desk):
    desk.receive(fixture_bytes("agents/answer_resolved.eml"), rcpt=alice_reply_to(desk))

    [answer] = desk.outbox("reply")
    assert desk.outbox("resolved") == []
    text = body(answer)
    assert "The printer works again." in text
    assert "We have marked ticket 1 as resolved" in text
    assert text.index("The printer works again.") < text.index("marked ticket 1")
    assert Ticket.get().status == "resolved"


def test_answer_with_status_pending_asks_in_the_answer_itself(desk):
    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            alice_reply_to(desk),
            "#status pending\nWhich model is it?",
        )
    )

    [answer] = desk.outbox("reply")
    assert desk.outbox("pending") == []
    assert "Which model is it?" in body(answer)
    assert "We need your answer to continue with ticket 1" in body(answer)
    assert Ticket.get().status == "pending"


def test_bare_status_pending_gives_the_status_mail_alone(desk):
    desk.receive(
        fixture_bytes("agents/status_pending_only.eml"), rcpt=alice_reply_to(desk)
    )

    assert desk.outbox("reply") == []
    [waiting] = desk.outbox("pending")
    assert waiting["To"].addresses[0].addr_spec == "alice@customer.example"
    assert "we need your answer" in body(waiting)
    assert Ticket.get().status == "pending"


def test_answer_without_a_status_has_no_status_line(desk):
    desk.receive(
        desk.agent_mail(
            "alice@acme.example", alice_reply_to(desk), "Which model is it?"
        )
    )

    [answer] = desk.outbox("reply")
    assert "Which model is it?\n--" in body(answer)
    assert desk.outbox("pending") == desk.outbox("resolved") == []
