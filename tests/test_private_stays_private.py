"""Nothing tierdesk told an agent reaches a customer: quoted notices are stripped, notes stay notes."""

from __future__ import annotations

import pytest
from tierdesk.storage.models import Message, Ticket

from tests.support.clients import CLIENTS
from tests.support.desk import body, new_ticket, open_desk

ANSWER = "We replaced the toner cartridge; please try printing again."


@pytest.fixture
def desk(tmp_path, db_url):
    yield from open_desk(tmp_path, db_url)


def relayed(desk) -> list[str]:
    """The text of each answer that went to the customer (without the signature)."""
    return [body(m).split("\n--\n")[0].strip() for m in desk.outbox("reply")]


@pytest.mark.parametrize("inline", [False, True], ids=["top-posted", "inline"])
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_an_answer_relays_only_what_the_agent_wrote(desk, client, inline):
    new_ticket(desk)
    notice = desk.notice_for("alice@acme.example")
    reply_to = notice["Reply-To"].addresses[0].addr_spec
    quoted = CLIENTS[client](
        ANSWER,
        body(notice),
        "Alice Smith <alice@acme.example>",
        notice["Subject"],
        inline,
    )

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", reply_to, quoted, "RE: " + notice["Subject"]
        )
    )

    assert relayed(desk) == [ANSWER]


def test_a_reply_to_a_note_notice_is_a_note_whatever_it_says(desk):
    new_ticket(desk)
    alice_reply_to = (
        desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    )
    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            alice_reply_to,
            "#comment\nThe customer owes us 3 invoices.",
        )
    )
    note_notice = desk.notice_for("bob@acme.example")
    note_reply_to = note_notice["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "bob@acme.example",
            note_reply_to,
            "Agreed, let us wait with the repair.",
            mid="b1",
        )
    )

    assert ".na.bob." in note_reply_to  # the note address, not bob's public one
    assert relayed(desk) == []
    stored = Message.get(Message.message_id == "b1@acme.example")
    assert stored.kind == "note"
    assert Ticket.get().status == "new"


def test_a_note_quoted_in_a_dutch_outlook_answer_never_reaches_the_customer(desk):
    """The note notice quoted below an answer sent to the public address (any client)."""
    new_ticket(desk)
    alice_reply_to = (
        desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    )
    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            alice_reply_to,
            "#comment\nInternal: the customer owes us 3 invoices, no repair before payment.",
        )
    )
    note_notice = desk.notice_for("bob@acme.example")
    bobs_notice = next(m for m in desk.outbox("notify_new") if "bob@" in str(m["To"]))
    bob_public = bobs_notice["Reply-To"].addresses[0].addr_spec
    answer = CLIENTS["outlook-nl"](
        ANSWER,
        body(note_notice),
        "Bob Jones <bob@acme.example>",
        note_notice["Subject"],
        False,
    )

    desk.receive(desk.agent_mail("bob@acme.example", bob_public, answer, mid="b2"))

    assert relayed(desk) == [ANSWER]
    assert "invoices" not in " ".join(body(m) for m in desk.outbox("reply"))
