"""People the customer copied stay in the loop: answers and status mails reach them as Cc,
their reply-all joins the ticket as the customer's side, and agents manage them with #cc."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tierdesk.parsers.commands import parse_commands
from tierdesk.storage.bounces import load_score
from tierdesk.storage.models import (
    BounceState,
    Event,
    Message,
    OutboxItem,
    Participant,
    Ticket,
)

from tests.conftest import fixture_bytes
from tests.support.desk import body, open_desk

DAVE = "dave@partner.example"
ANSWERS = (  # each different: the same text again and again would look like a robot
    "Please see page 12 of the manual.",
    "Restarting the device should help.",
    "Which version do you run?",
    "That is a known issue, a fix is coming.",
    "Try the latest update, please.",
)


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def copied(msg) -> list[str]:
    """The Cc addresses of a mail we sent."""
    return [a.addr_spec for a in msg["Cc"].addresses] if msg["Cc"] else []


def answer(desk, text: str, mid: str = "a1"):
    """Alice (the agent) answers from her latest notice; the mails it caused."""
    notice = desk.notice_for("alice@acme.example")
    reply_to = notice["Reply-To"].addresses[0].addr_spec
    before = len(desk.outbox())
    desk.receive(desk.agent_mail("alice@acme.example", reply_to, text, mid=mid))
    return desk.outbox()[before:]


def reply_all(
    answer_mail, fixture: str = "watchers/partner_reply_all_outlook.eml"
) -> bytes:
    """A reply-all to our answer (by default Dave's, from Outlook: To our Reply-To,
    Cc the customer)."""
    raw = fixture_bytes(fixture).decode()
    references = answer_mail["References"] or ""
    own = answer_mail["Message-ID"].strip("<>")
    for name, value in {
        "REPLY_TO": answer_mail["Reply-To"].addresses[0].addr_spec,
        "SUBJECT": str(answer_mail["Subject"]),
        "REFERENCES": "> <".join([*references.strip("<>").split(">  <"), own]),
        "IN_REPLY_TO": own,
    }.items():
        raw = raw.replace(f"@@{name}@@", value)
    return raw.encode()


def test_a_colleague_copied_on_the_request_gets_the_answer_as_cc(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))
    [ack] = desk.outbox("ack")

    [reply] = answer(desk, "Please check the fuser unit.")

    assert copied(ack) == []  # an acknowledgement goes to the requester only
    assert reply["To"].addresses[0].addr_spec == "alice@customer.example"
    assert copied(reply) == [DAVE]
    assert "Please check the fuser unit." in body(reply)


def test_a_status_mail_reaches_the_colleague_too(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))

    mails = answer(desk, "#status closed\n")

    assert mails and all(copied(m) == [DAVE] for m in mails)


def test_the_colleagues_reply_all_threads_into_the_ticket_as_the_customers_side(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))
    [reply] = answer(desk, "#status pending\nPlease check the fuser unit.")

    outcome = desk.receive(reply_all(reply))

    assert outcome.kind == "appended" and outcome.ticket == 1
    stored = Message.get(Message.sender.contains(DAVE))
    assert stored.kind == "customer"
    assert (
        Ticket.get(Ticket.number == 1).status == "open"
    )  # reopened as a customer would
    history = " ".join(e.detail for e in Event.select())
    assert "unverified" not in history
    assert "fuser unit this morning" in body(desk.notice_for("alice@acme.example"))


def test_an_agent_removes_a_watcher_and_adds_one_with_cc(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))

    [reply] = answer(
        desk, "#cc -dave@partner.example +Erin@Partner.example\nOn it.", mid="a2"
    )
    [later] = answer(desk, "Fixed, I think.", mid="a3")

    assert copied(reply) == ["erin@partner.example"]
    assert copied(later) == ["erin@partner.example"]
    # a removed watcher's reply is a stranger's again: it does not join the ticket
    assert desk.receive(reply_all(later)).ticket != 1


def test_our_own_address_an_agent_and_a_bouncing_address_are_never_copied(desk):
    BounceState.create(
        address="gone@partner.example",
        score=5.0,
        suppressed_at=datetime(2026, 11, 1, tzinfo=UTC),
        diagnostic="550 no such user",
    )
    desk.receive(fixture_bytes("watchers/request_cc_ours_agent_bouncing.eml"))

    [reply] = answer(desk, "Please check the fuser unit.")

    assert copied(reply) == [DAVE]
    watchers = [p.address for p in Participant.select() if p.role == "cc"]
    assert watchers == [DAVE]


def test_an_agent_cannot_add_our_own_address_or_an_agent_as_a_watcher(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))

    mails = answer(desk, "#cc +bob@acme.example +support+x@example.com\nHello.")

    [refusal] = mails
    assert refusal["To"].addresses[0].addr_spec == "alice@acme.example"
    text = body(refusal)
    assert "the address of bob" in text and "our own address" in text


@pytest.fixture
def strict_desk(tmp_path, db_url):
    """A desk that sends one address at most 3 automatic mails an hour."""

    def few_automatic_mails(config):
        support = replace(config.support, auto_replies_per_hour=3)
        return replace(config, support=support)

    yield from open_desk(tmp_path, db_url, configure=few_automatic_mails)


def test_copying_a_victim_on_many_requests_mails_them_no_more_than_the_automatic_limit(
    strict_desk,
):
    raw = fixture_bytes("watchers/request_cc_victim.eml").decode()
    for n, text in enumerate(ANSWERS):
        strict_desk.receive(raw.replace("@@N@@", str(n)).encode())
        answer(strict_desk, text, mid=f"answer-{n}")

    to_victim = [
        m for m in strict_desk.outbox() if "victor@victim.example" in copied(m)
    ]
    skipped = Event.select().where(Event.kind == "cc_skipped").count()
    assert len(to_victim) == 3 and skipped == 2
    # every requester still got their answer; the victim never an acknowledgement
    assert len(strict_desk.outbox("reply")) == 5
    assert all(copied(m) == [] for m in strict_desk.outbox("ack"))


def test_a_watchers_bounce_counts_against_the_watcher_not_the_customer(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))
    answer(desk, "Please check the fuser unit.")
    verp = OutboxItem.get(OutboxItem.kind == "reply").mail_from
    bounce = (
        fixture_bytes("bounces/postfix.eml")
        .replace(b"VERP_ADDRESS", verp.encode())
        .replace(b"alice@customer.example", DAVE.encode())
    )

    desk.receive(bounce, rcpt=verp, sender="")

    sql = desk.runtime.sql
    assert load_score(sql, DAVE).score == 1.0
    assert load_score(sql, "alice@customer.example").score == 0.0


def test_cc_takes_addresses_to_add_and_remove_and_refuses_anything_else():
    ok = parse_commands("#cc +Dave@partner.example -erin@partner.example\n")
    wrong = parse_commands("#cc dave\n")
    empty = parse_commands("#cc\n")

    assert ok.commands[0].args == ("+Dave@partner.example", "-erin@partner.example")
    assert wrong.errors == (
        "line 1: #cc: 'dave' is not an address; write +name@example.com or -name@example.com",
    )
    assert empty.errors == (
        "line 1: #cc needs an address: +add@example.com -remove@example.com",
    )


def test_the_customers_reply_all_keeps_the_colleague_on_the_next_answer_once(desk):
    desk.receive(fixture_bytes("watchers/request_cc_partner.eml"))
    [reply] = answer(desk, "Please check the fuser unit.")

    thunderbird = "watchers/customer_reply_all_thunderbird.eml"
    outcome = desk.receive(reply_all(reply, thunderbird))
    [next_answer] = answer(desk, "Then it is the sensor; a technician comes.", "a2")

    assert outcome.kind == "appended" and outcome.ticket == 1
    assert copied(next_answer) == [DAVE]
