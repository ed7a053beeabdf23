"""The outbox sender: Maildir in development, a real SMTP relay otherwise, retries and
failures; no agent mail fails silently (the ticket records it, the agent is told)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tierdesk.daemon.config import OutgoingConfig
from tierdesk.daemon.outgoing.sender import Sender
from tierdesk.storage.models import Event, OutboxItem

from tests.support.desk import body, new_ticket, open_desk
from tests.support.ports import free_port


def now() -> datetime:
    """The time as the outbox columns hold it (naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def relay_config(port: int) -> OutgoingConfig:
    return OutgoingConfig(
        transport="smtp", host="127.0.0.1", port=port, timeout=5, max_attempts=3
    )


def test_maildir_transport_writes_each_mail_once(runtime, ingest, tmp_path):
    ingest("flow/new_request.eml")
    maildir = runtime.config.outgoing_maildir

    assert runtime.sender.deliver_due(runtime.config.outgoing) == 1
    OutboxItem.update(
        state="pending"
    ).execute()  # as if the 'sent' mark had been lost in a crash
    assert runtime.sender.deliver_due(runtime.config.outgoing) == 1

    files = list((maildir / "new").iterdir())
    assert len(files) == 1
    assert b"Subject: [ACME #1] Printer on floor 3 is offline" in files[0].read_bytes()
    assert b"\r\n" not in files[0].read_bytes()
    assert OutboxItem.get().state == "sent"


def test_relay_receives_the_acknowledgement(runtime, ingest, relay_sink):
    ingest("flow/new_request.eml")
    relay = relay_config(relay_sink.port)
    sender = Sender(
        runtime.sql, runtime.config.outgoing_maildir, runtime.clock, runtime.live
    )

    assert sender.deliver_due(relay) == 1

    [mail] = relay_sink.wait_for(1)
    assert mail.mail_from.startswith("support+bounce-1-")  # its own VERP address
    assert mail.rcpt_tos == ["alice@customer.example"]
    assert mail.message["In-Reply-To"] == "<request-1@customer.example>"
    assert OutboxItem.get().state == "sent"


def test_temporary_relay_failure_is_retried_with_backoff(runtime, ingest, relay_sink):
    ingest("flow/new_request.eml")
    relay_sink.reply = "451 4.3.0 greylisted, try later"
    relay = relay_config(relay_sink.port)
    sender = Sender(
        runtime.sql, runtime.config.outgoing_maildir, runtime.clock, runtime.live
    )

    assert sender.deliver_due(relay) == 0
    item = OutboxItem.get()
    assert (item.state, item.attempts) == ("pending", 1)
    assert "451" in item.last_error
    assert item.next_attempt_at > now() + timedelta(seconds=20)

    relay_sink.reply = "250 2.0.0 OK"
    OutboxItem.update(next_attempt_at=now()).execute()
    assert sender.deliver_due(relay) == 1
    assert OutboxItem.get().state == "sent"


def test_permanent_relay_refusal_marks_the_mail_failed(runtime, ingest, relay_sink):
    ingest("flow/new_request.eml")
    relay_sink.reply = "554 5.7.1 rejected as spam"
    relay = relay_config(relay_sink.port)
    sender = Sender(
        runtime.sql, runtime.config.outgoing_maildir, runtime.clock, runtime.live
    )

    sender.deliver_due(relay)

    item = OutboxItem.get()
    assert item.state == "failed"
    assert "554" in item.last_error


def test_dead_relay_defers_and_too_many_attempts_fail(runtime, ingest):
    ingest("flow/new_request.eml")
    relay = replace(relay_config(free_port()), max_attempts=2)
    sender = Sender(
        runtime.sql, runtime.config.outgoing_maildir, runtime.clock, runtime.live
    )

    sender.deliver_due(relay)
    assert OutboxItem.get().state == "pending"
    assert "unreachable" in OutboxItem.get().last_error

    OutboxItem.update(next_attempt_at=now()).execute()
    sender.deliver_due(relay)
    assert OutboxItem.get().state == "failed"


# -- no agent mail fails silently ----------------------------------------------


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents alice and bob on tier 1 (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def answered_by_alice(desk, relay: OutgoingConfig) -> OutboxItem:
    """Alice Example's request, everything about it delivered, then agent alice's answer."""
    new_ticket(desk)
    desk.runtime.sender.deliver_due(relay)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    desk.receive(
        desk.agent_mail(
            "alice@acme.example", reply_to, "Hello Alice, we replaced the toner."
        )
    )
    return OutboxItem.get(OutboxItem.kind == "reply")


def told() -> list[OutboxItem]:
    """The notices to agents that their mail did not go."""
    return list(OutboxItem.select().where(OutboxItem.kind == "delivery_failed"))


def failure_events() -> list[Event]:
    return list(
        Event.select().where(Event.kind == "delivery_failed").order_by(Event.id)
    )


def test_an_agent_whose_answer_the_relay_refuses_for_good_is_told(desk, relay_sink):
    relay = relay_config(relay_sink.port)
    answer = answered_by_alice(desk, relay)
    relay_sink.reply = "554 5.7.1 rejected as spam"

    desk.runtime.sender.deliver_due(relay)

    assert OutboxItem.get_by_id(answer.id).state == "failed"
    [event] = failure_events()
    assert event.detail.startswith("reply to alice@customer.example failed: ")
    assert "554" in event.detail
    [notice] = told()
    assert notice.rcpt_key == "alice@acme.example"
    relay_sink.reply = "250 2.0.0 OK"
    desk.runtime.sender.deliver_due(relay)
    [mail] = [
        m
        for m in relay_sink.received
        if m.message["Subject"].startswith("[ACME #1] Not delivered")
    ]
    assert mail.rcpt_tos == ["alice@acme.example"]
    text = body(mail.message)
    assert "alice@customer.example" in text and "554" in text


def test_an_agent_whose_answer_is_given_up_after_retries_is_told(desk, relay_sink):
    answer = answered_by_alice(desk, relay_config(relay_sink.port))
    dead = replace(relay_config(free_port()), max_attempts=1)

    desk.runtime.sender.deliver_due(dead)

    assert OutboxItem.get_by_id(answer.id).state == "failed"
    [event] = failure_events()
    assert "unreachable" in event.detail
    [notice] = told()
    assert notice.state == "pending"
    assert desk.runtime.sender.deliver_due(relay_config(relay_sink.port)) == 1
    assert relay_sink.received[-1].rcpt_tos == ["alice@acme.example"]


def test_a_temporary_failure_of_an_answer_tells_nobody_yet(desk, relay_sink):
    relay = relay_config(relay_sink.port)
    answer = answered_by_alice(desk, relay)
    relay_sink.reply = "451 4.3.0 greylisted, try later"

    desk.runtime.sender.deliver_due(relay)

    assert OutboxItem.get_by_id(answer.id).state == "pending"
    assert failure_events() == [] and told() == []


def test_a_notice_that_cannot_go_either_causes_no_further_notice(desk, relay_sink):
    relay = relay_config(relay_sink.port)
    answered_by_alice(desk, relay)
    relay_sink.reply = "550 5.1.1 no such user"

    desk.runtime.sender.deliver_due(relay)  # the answer fails, alice is to be told
    desk.runtime.sender.deliver_due(relay)  # and that notice fails too

    [notice] = told()
    assert notice.state == "failed"
    assert len(failure_events()) == 2  # the ticket records both
    assert not OutboxItem.select().where(OutboxItem.state == "pending").exists()


def test_a_failed_acknowledgement_is_on_the_ticket_and_tells_no_agent(
    runtime, ingest, relay_sink
):
    ingest("flow/new_request.eml")
    relay_sink.reply = "550 5.1.1 no such user"

    runtime.sender.deliver_due(relay_config(relay_sink.port))

    [event] = failure_events()
    assert event.detail.startswith("ack to alice@customer.example failed: ")
    assert told() == []


def test_an_agent_whose_answer_a_limit_holds_back_is_told(tmp_path, db_url):
    def one_answer_an_hour(config):
        return replace(config, limits=replace(config.limits, relayed_per_hour=1))

    desk = next(open_desk(tmp_path, db_url, configure=one_answer_an_hour))
    try:
        new_ticket(desk)
        reply_to = (
            desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
        )
        for n, text in enumerate(("The toner is replaced.", "The drum is cleaned.")):
            desk.receive(
                desk.agent_mail("alice@acme.example", reply_to, text, mid=f"r{n}")
            )

        assert len(desk.outbox("reply")) == 1
        [notice] = desk.outbox("delivery_failed")
        assert notice["To"].addresses[0].addr_spec == "alice@acme.example"
        assert "1 relayed answers to alice@customer.example" in body(notice)
    finally:
        desk.runtime.close()
