"""tierdesk tried as an attacker would: each test is one attack, and it must come to nothing.

Who may act, and what is a fact, is the subject here; private text and the
limits on mail have their own files (test_private_stays_private.py,
test_limits.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tierdesk.daemon.snapshot import replace_keys
from tierdesk.storage import spool
from tierdesk.storage.keys import rotate
from tierdesk.storage.models import Event, Message, Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import HandClock, body, new_ticket, open_desk

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path, db_url):
    yield from open_desk(tmp_path, db_url)


def with_trust(**changes):
    """A config change for open_desk: these `trust:` settings."""
    return lambda config: replace(config, trust=replace(config.trust, **changes))


def reply_address(desk, agent: str) -> str:
    """The signed Reply-To of the latest notice to `agent`."""
    return desk.notice_for(agent)["Reply-To"].addresses[0].addr_spec


def mail(
    sender: str, to: str, text: str, subject: str, mid: str, headers: str = ""
) -> bytes:
    """A plain text mail as a client writes it."""
    return (
        f"{headers}From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()


# -- acting as an agent --------------------------------------------------------


def test_an_agents_signed_address_in_cc_with_her_from_and_a_foreign_envelope_acts_on_nothing(
    desk,
):
    ticket = new_ticket(desk)
    signed = reply_address(desk, "alice@acme.example")
    forged = mail(
        "Alice Smith <alice@acme.example>",
        f"support@example.com\r\nCc: {signed}",
        "#status closed\nWe fixed it, goodbye.",
        "Re: [ACME #1] Printer on floor 3 is offline",
        "forged-1@evil.example",
    )

    outcome = desk.receive(
        forged, rcpt="support@example.com", sender="mallory@evil.example"
    )

    assert outcome.kind == "ignored"
    assert Ticket.get_by_id(ticket.id).status == "new"
    assert desk.outbox("reply") == [] and desk.outbox("closed") == []
    refused = Event.get(Event.kind == "refused")
    assert "without their signed reply address as envelope recipient" in refused.detail


def test_a_signed_address_past_its_age_acts_on_nothing(tmp_path, db_url):
    clock = HandClock(START)
    desk = next(open_desk(tmp_path, db_url, clock=clock))
    try:
        ticket = new_ticket(desk)
        signed = reply_address(desk, "alice@acme.example")
        clock.advance(days=91)

        outcome = desk.receive(
            desk.agent_mail("alice@acme.example", signed, "#status closed\nDone.")
        )

        assert outcome.kind == "ignored" and "expired on 2027-01-31" in outcome.reason
        assert Ticket.get_by_id(ticket.id).status == "new"
        [told] = desk.outbox("agent_refused")
        assert "expired" in body(told)
    finally:
        desk.runtime.close()


def test_a_rotated_key_acts_for_the_grace_period_and_then_no_more(tmp_path, db_url):
    clock = HandClock(START)
    desk = next(open_desk(tmp_path, db_url, clock=clock))
    try:
        runtime = desk.runtime
        new_ticket(desk)
        signed = reply_address(desk, "alice@acme.example")
        rotate(runtime.sql, clock())
        runtime.live.swap(replace_keys(runtime.snapshot, runtime.keys(runtime.config)))

        clock.advance(days=29)
        within = desk.receive(
            desk.agent_mail("alice@acme.example", signed, "Fixed.", mid="g1")
        )
        clock.advance(days=2)
        after = desk.receive(
            desk.agent_mail("alice@acme.example", signed, "Fixed!", mid="g2")
        )

        assert within.kind == "appended"
        assert after.kind == "ignored" and "key 00 was retired" in after.reason
        newest = desk.outbox("reply")[-1]["Reply-To"].addresses[0].addr_spec
        assert newest.split(".")[3][:2] == "01"  # new mail is signed with the new key
    finally:
        runtime.close()


def test_with_a_trusted_authserv_id_an_agent_needs_its_dkim_or_dmarc_pass(
    tmp_path, db_url
):
    desk = next(
        open_desk(tmp_path, db_url, configure=with_trust(authserv_id="mx.example.com"))
    )
    try:
        ticket = new_ticket(desk)
        signed = reply_address(desk, "alice@acme.example")
        ours = "Authentication-Results: mx.example.com; dkim=pass header.d=acme.example\r\n"
        theirs = "Authentication-Results: evil.example; dmarc=pass header.from=acme.example\r\n"
        failing = "Authentication-Results: mx.example.com; dkim=fail header.d=acme.example\r\n"

        def answer(mid: str, headers: str):
            raw = mail(
                "alice@acme.example",
                signed,
                "#status pending\nWhich model?",
                "Re: x",
                mid,
                headers,
            )
            return desk.receive(raw)

        assert (
            "no Authentication-Results from mx.example.com" in answer("a1", "").reason
        )
        assert "no Authentication-Results" in answer("a2", theirs).reason
        # a pass copy below our server's own is the sender's writing
        assert "no DKIM or DMARC pass" in answer("a3", failing + ours).reason
        assert Ticket.get_by_id(ticket.id).status == "new"

        assert answer("a4", ours + theirs).kind == "appended"
        assert Ticket.get_by_id(ticket.id).status == "pending"
    finally:
        desk.runtime.close()


def test_an_agents_out_of_office_is_kept_as_a_note_never_relayed_never_a_command(desk):
    ticket = new_ticket(desk)
    signed = reply_address(desk, "alice@acme.example")
    away = mail(
        "Alice Smith <alice@acme.example>",
        signed,
        "#status closed\nI am out of the office until Monday.",
        "Automatic reply: [ACME #1] Printer on floor 3 is offline",
        "ooo-1@acme.example",
        "Auto-Submitted: auto-replied\r\n",
    )

    outcome = desk.receive(away)

    assert outcome.kind == "appended" and "kept as a private note" in outcome.reason
    assert Ticket.get_by_id(ticket.id).status == "new"
    assert desk.outbox("reply") == [] and desk.outbox("notify_note") == []
    assert Message.get(Message.message_id == "ooo-1@acme.example").kind == "note"


# -- writing into someone else's ticket ------------------------------------------


def stranger_writes(desk, subject: str, headers: str = ""):
    raw = mail(
        "Mallory <mallory@evil.example>",
        "support@example.com",
        "Please send me the admin password for this printer.",
        subject,
        "mallory-1@evil.example",
        headers,
    )
    return desk.receive(raw)


def test_a_stranger_with_the_ticket_token_opens_a_ticket_of_their_own(desk):
    first = new_ticket(desk)
    Ticket.update(status="resolved").where(Ticket.id == first.id).execute()

    outcome = stranger_writes(desk, "Re: [ACME #1] Printer on floor 3 is offline")

    assert (outcome.kind, outcome.ticket) == ("new_ticket", 2)
    assert Ticket.get_by_id(first.id).status == "resolved"
    assert desk.outbox("notify_reply") == []
    assert "not its participant" in Event.get(Event.kind == "follows_up").detail


def test_a_stranger_answering_our_acknowledgement_by_in_reply_to_does_not_join(desk):
    new_ticket(desk)
    ack_id = Message.get(Message.kind == "ack").message_id

    outcome = stranger_writes(desk, "Re: something", f"In-Reply-To: <{ack_id}>\r\n")

    assert (outcome.kind, outcome.ticket) == ("new_ticket", 2)
    assert (
        Message.select().where(Message.ticket == 1, Message.direction == "in").count()
        == 1
    )


def test_with_strangers_held_the_mail_waits_for_an_agent(tmp_path, db_url):
    desk = next(open_desk(tmp_path, db_url, configure=with_trust(strangers="hold")))
    try:
        new_ticket(desk)

        outcome = stranger_writes(desk, "Re: [ACME #1] Printer on floor 3 is offline")

        assert outcome.kind == "quarantined"
        assert outcome.reason.startswith("held for an agent: mallory@evil.example")
        assert Event.get(Event.kind == "held").ticket_id == 1
        assert Ticket.select().count() == 1
    finally:
        desk.runtime.close()


def test_with_strangers_appended_the_notice_says_so_and_nothing_reopens(
    tmp_path, db_url
):
    desk = next(open_desk(tmp_path, db_url, configure=with_trust(strangers="append")))
    try:
        first = new_ticket(desk)
        Ticket.update(status="resolved").where(Ticket.id == first.id).execute()

        outcome = stranger_writes(desk, "Re: [ACME #1] Printer on floor 3 is offline")

        assert outcome.kind == "appended" and "unverified" in outcome.reason
        assert Ticket.get_by_id(first.id).status == "resolved"
        notice = desk.notice_for("alice@acme.example")
        assert "is not a participant of this ticket" in body(notice)
    finally:
        desk.runtime.close()


def test_the_requesters_domain_can_count_as_participants(tmp_path, db_url):
    desk = next(
        open_desk(tmp_path, db_url, configure=with_trust(participants_domain=True))
    )
    try:
        new_ticket(desk)

        outcome = desk.receive(fixture_bytes("flow/colleague_reply_with_token.eml"))

        assert (outcome.kind, outcome.ticket) == ("appended", 1)
    finally:
        desk.runtime.close()


# -- automatic mail aimed at a victim --------------------------------------------------


def test_a_forged_request_opens_a_ticket_but_acknowledges_nothing(desk):
    outcome = desk.receive(
        fixture_bytes("flow/new_request.eml"), sender="mallory@evil.example"
    )

    assert outcome.kind == "new_ticket"
    assert desk.outbox("ack") == []
    skipped = Event.get(Event.kind == "ack_skipped")
    assert "envelope sender mallory@evil.example differs" in skipped.detail
    assert "the sender's address is not verified" in body(
        desk.notice_for("bob@acme.example")
    )


def test_an_acknowledgement_repeats_no_link_from_the_senders_name_or_subject(desk):
    lure = mail(
        '"Verify your account at http://evil.test/verify now" <alice@customer.example>',
        "support@example.com",
        "hello",
        "Urgent: log in at www.evil.test/login or evil.test/x",
        "lure-1@customer.example",
    )

    desk.receive(lure)

    [ack] = desk.outbox("ack")
    shown = f"{ack['To']} {ack['Subject']} {body(ack)}"
    assert "evil.test" not in shown and "http" not in shown and "www." not in shown
    assert len(ack["To"].addresses[0].display_name) <= 40


def test_a_dmarc_pass_from_our_server_verifies_a_sender_without_an_envelope(
    tmp_path, db_url
):
    desk = next(
        open_desk(tmp_path, db_url, configure=with_trust(authserv_id="mx.example.com"))
    )
    try:
        passed = b"Authentication-Results: mx.example.com; dmarc=pass header.from=customer.example\r\n"
        raw = passed + fixture_bytes("flow/new_request.eml")
        no_envelope = spool.Arrival(raw, "test", None, ("support@example.com",))
        (spool_id,) = spool.spool(desk.runtime.sql, [no_envelope], desk.runtime.clock())

        assert desk.runtime.pipeline.process(spool_id).kind == "new_ticket"
        assert len(desk.outbox("ack")) == 1
    finally:
        desk.runtime.close()
