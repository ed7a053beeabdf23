"""Bounces of our own mail: real samples from many MTAs, matched back to the mail they are about.

Every sample in tests/fixtures/bounces is published output of a real MTA
(its first header names where). Our acknowledgement to Alice bounces; the
bounce comes back to the VERP envelope sender of that one outbox row, is
stored on her ticket, scores her address and never opens a ticket or gets
mail. Without VERP it is tied to the latest mail to the address it reports.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from tierdesk.parsers.bounces import read_bounce
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.bounces import BounceScore
from tierdesk.storage.bounces import load_score, suppressed
from tierdesk.storage.models import Event, Message, OutboxItem, Ticket

from tests.conftest import FIXTURES
from tests.support.desk import HandClock, body, new_ticket, open_desk

ALICE = "alice@customer.example"
SUPPORT = "support@example.com"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# What flufl.bounce makes of each sample: (it reads Alice's address, the failure is permanent).
SAMPLES = {
    "aol": (True, True),
    "domino": (True, True),
    "exchange2007": (True, True),
    "exim": (True, True),
    "exim_dsn": (True, True),
    "gmail": (True, True),
    # The GroupWise agent writes the address without angle brackets: the detector misses it.
    "groupwise": (False, True),
    "outlook_com": (True, True),
    "postfix": (True, True),
    "qmail": (True, True),
    "rfc3464_delayed": (True, False),
    # Action: failed with Status: 4.0.0, a delay that became a failure: failed, not delayed.
    "rfc3464_simple": (True, True),
    "sendmail": (True, True),
    # The Yahoo detector wants From: mailer-daemon@yahoo...; the sample's sender is anonymised.
    "yahoo": (False, True),
}
READ_BY_FLUFL = sorted(family for family, (reads, _) in SAMPLES.items() if reads)


@pytest.fixture
def clock() -> HandClock:
    """The desk's clock, moved by hand."""
    return HandClock(START)


@pytest.fixture
def desk(tmp_path, db_url, clock):
    """A desk with agents (tests/support/desk.py) on a clock the test moves."""
    yield from open_desk(tmp_path, db_url, clock=clock)


def sample(family: str, sent_to: str, copy: int = 0) -> bytes:
    """A bounce sample as it comes back to `sent_to` (the `copy`-th one gets its own Message-ID)."""
    raw = (FIXTURES / "bounces" / f"{family}.eml").read_bytes()
    raw = raw.replace(b"VERP_ADDRESS", sent_to.encode())
    if copy:
        raw = re.sub(rb"(?im)^(message-id:\s*<)", rb"\g<1>copy%d." % copy, raw, count=1)
    return raw


def bounce(desk, family: str, sent_to: str, copy: int = 0):
    """A bounce from the null sender to `sent_to`, as our MTA hands it over."""
    return desk.receive(sample(family, sent_to, copy), rcpt=sent_to, sender="")


def the_ack() -> OutboxItem:
    """Our acknowledgement of Alice's request."""
    return OutboxItem.get(OutboxItem.kind == "ack")


def failures() -> list[Event]:
    """The delivery_failed events, oldest first."""
    return list(
        Event.select().where(Event.kind == "delivery_failed").order_by(Event.id)
    )


def score(desk, address: str = ALICE) -> BounceScore:
    """An address's bounce score as stored."""
    return load_score(desk.runtime.sql, address_key(address))


def newest_outbox_id() -> int:
    """The id of the newest outbox row."""
    return OutboxItem.select().order_by(OutboxItem.id.desc()).get().id


def answer_as_agent(desk, text: str, mid: str = "a1") -> None:
    """Agent alice answers ticket 1 through the signed Reply-To of her notice."""
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    desk.receive(desk.agent_mail("alice@acme.example", reply_to, text, mid=mid))


def mail_from_alice(mid: str) -> bytes:
    """Alice writes again on ticket 1."""
    return (
        f"From: Alice Example <{ALICE}>\r\nTo: ACME Support <{SUPPORT}>\r\n"
        f"Subject: Re: [ACME #1] Printer on floor 3 is offline\r\n"
        f"Message-ID: <{mid}@customer.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Sorry, my mailbox was full. The printer works again.\r\n"
    ).encode()


def test_every_sample_has_its_expectations_recorded():
    assert sorted(p.stem for p in (FIXTURES / "bounces").glob("*.eml")) == sorted(
        SAMPLES
    )
    for path in (FIXTURES / "bounces").glob("*.eml"):
        first = path.read_bytes().split(b"\n", 1)[0]
        assert first.startswith(b"X-Sample-Source: "), path.name


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_what_flufl_bounce_reads_from_each_sample(family):
    reads_alice, permanent = SAMPLES[family]

    report = read_bounce(sample(family, "support+bounce-1-00aaaaaaaaaaaa@example.com"))

    assert (ALICE in (*report.permanent, *report.temporary)) == reads_alice
    assert report.hard == permanent


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_a_bounce_of_our_acknowledgement_is_recorded_on_its_ticket(desk, family):
    ticket = new_ticket(desk)
    ack = the_ack()
    before = newest_outbox_id()
    _, permanent = SAMPLES[family]

    outcome = bounce(desk, family, ack.mail_from)

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert OutboxItem.get_by_id(ack.id).bounced_at is not None
    [failure] = failures()
    verdict = "failed" if permanent else "is delayed"
    assert failure.ticket_id == ticket.id and failure.actor == "mailer-daemon"
    assert failure.detail.startswith(f"ack to {ALICE} {verdict}: ")
    assert Ticket.select().count() == 1  # a bounce never opens a ticket
    assert newest_outbox_id() == before  # and never gets mail
    [stored] = Message.select().where(Message.kind == "bounce")
    assert stored.ticket_id == ticket.id
    assert score(desk).score == (1.0 if permanent else 0.5)


@pytest.mark.parametrize("family", READ_BY_FLUFL)
def test_a_bounce_without_verp_is_tied_to_our_mail_to_the_address_it_reports(
    desk, family
):
    new_ticket(desk)
    ack = the_ack()

    outcome = bounce(desk, family, SUPPORT)

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert OutboxItem.get_by_id(ack.id).bounced_at is not None
    [failure] = failures()
    assert failure.detail.startswith(f"ack to {ALICE} ")
    assert Ticket.select().count() == 1


def test_a_bounce_without_verp_is_about_the_latest_mail_to_that_address(desk):
    new_ticket(desk)
    answer_as_agent(desk, "Hello Alice, we replaced the toner.")
    answer = OutboxItem.get(OutboxItem.kind == "reply")

    bounce(desk, "sendmail", SUPPORT)

    assert OutboxItem.get_by_id(answer.id).bounced_at is not None
    assert the_ack().bounced_at is None
    [failure] = failures()
    assert failure.detail.startswith(f"reply to {ALICE} failed: ")


def test_a_bounce_to_a_verp_address_with_a_wrong_signature_matches_nothing(desk):
    new_ticket(desk)
    ack = the_ack()
    local, _, domain = ack.mail_from.partition("@")
    forged = f"{local[:-1]}{'b' if local.endswith('a') else 'a'}@{domain}"
    before = newest_outbox_id()

    outcome = bounce(desk, "postfix", forged)

    assert outcome.kind != "new_ticket"
    assert the_ack().bounced_at is None
    assert failures() == []
    assert score(desk) == BounceScore()
    assert Ticket.select().count() == 1
    assert newest_outbox_id() == before


def test_the_same_bounce_delivered_twice_is_recorded_once(desk):
    new_ticket(desk)
    ack = the_ack()
    bounce(desk, "postfix", ack.mail_from)

    again = bounce(desk, "postfix", ack.mail_from)

    assert again.kind in ("duplicate", "ignored")
    assert len(failures()) == 1
    assert Message.select().where(Message.kind == "bounce").count() == 1


def test_two_bounces_on_one_day_count_once(desk, clock):
    new_ticket(desk)
    ack = the_ack()

    bounce(desk, "postfix", ack.mail_from, copy=1)
    clock.advance(hours=3)
    bounce(desk, "sendmail", ack.mail_from, copy=2)

    assert len(failures()) == 2  # the ticket shows both
    assert score(desk).score == 1.0
    clock.advance(days=1)
    bounce(desk, "exim", ack.mail_from, copy=3)
    assert score(desk).score == 2.0


def test_three_hard_bounces_stop_automatic_mail_until_alice_writes_again(desk, clock):
    new_ticket(desk)
    ack = the_ack()
    for day in (1, 2, 3):
        bounce(desk, "postfix", ack.mail_from, copy=day)
        clock.advance(days=1)
    assert score(desk).score == 3.0
    assert "bounces (score 3.0)" in suppressed(desk.runtime.sql, ALICE)

    # the agent's own answer still goes; the automatic "resolved" mail does not
    before = newest_outbox_id()
    answer_as_agent(desk, "Hello Alice, we replaced the toner.")
    answer_as_agent(desk, "#status resolved", mid="a2")  # no answer: its own mail
    to_alice = OutboxItem.select().where(
        (OutboxItem.id > before) & (OutboxItem.rcpt_key == ALICE)
    )
    assert [o.kind for o in to_alice] == ["reply"]
    [skipped] = Event.select().where(Event.kind == "resolved_skipped")
    assert "bounces (score 3.0)" in skipped.detail

    # a mail in her name from someone else's envelope proves nothing
    desk.receive(mail_from_alice("forged-1"), sender="mallory@elsewhere.example")
    assert suppressed(desk.runtime.sql, ALICE) is not None

    # her own mail does: she can receive mail again
    desk.receive(mail_from_alice("back-1"))
    assert suppressed(desk.runtime.sql, ALICE) is None
    assert score(desk) == BounceScore()


def test_a_bounced_answer_tells_the_agent_who_wrote_it(desk):
    new_ticket(desk)
    answer_as_agent(desk, "Hello Alice, we replaced the toner.")
    answer = OutboxItem.get(OutboxItem.kind == "reply")
    before = newest_outbox_id()

    bounce(desk, "exim", answer.mail_from)

    assert OutboxItem.get_by_id(answer.id).bounced_at is not None
    [told] = OutboxItem.select().where(OutboxItem.id > before)
    assert (told.kind, told.rcpt_key) == ("delivery_failed", "alice@acme.example")
    notice = desk.notice_for("alice@acme.example")
    assert ALICE in body(notice)
    [failure] = failures()
    assert failure.detail.startswith(f"reply to {ALICE} failed: ")


def test_a_delayed_answer_does_not_trouble_the_agent(desk):
    new_ticket(desk)
    answer_as_agent(desk, "Hello Alice, we replaced the toner.")
    answer = OutboxItem.get(OutboxItem.kind == "reply")
    before = newest_outbox_id()

    bounce(desk, "rfc3464_delayed", answer.mail_from)

    [failure] = failures()
    assert failure.detail.startswith(f"reply to {ALICE} is delayed: ")
    assert newest_outbox_id() == before
    assert score(desk).score == 0.5
