"""Every mail is counted per address key, hour and day, in the database: across restarts and daemons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tierdesk.daemon.runtime import open_runtime
from tierdesk.rules.guard import address_key, over_limit
from tierdesk.rules.handling.settings import Limits
from tierdesk.storage import spool
from tierdesk.storage.models import Event, Message, OutboxItem, Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import HandClock, new_ticket, open_desk
from tests.support.words import word

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REQUEST = fixture_bytes("flow/new_request.eml")


def configured(support=None, limits=None):
    """A config change for open_desk."""

    def change(config):
        if support:
            config = replace(config, support=replace(config.support, **support))
        if limits:
            config = replace(config, limits=replace(config.limits, **limits))
        return config

    return change


def request(n: int, sender: str = "alice@customer.example") -> bytes:
    """Request number n: its own Message-ID and subject, from `sender`."""
    return (
        REQUEST.replace(b"request-1@", f"request-{n}@".encode())
        .replace(b"alice@customer.example", sender.encode())
        .replace(b"Printer on floor 3", f"Printer {n}".encode())
        .replace(b"the printer on floor 3", f"printer {word(n)}".encode())
    )


def test_address_keys_fold_case_and_plus_tags():
    assert address_key("Alice+Newsletter@Customer.Example") == "alice@customer.example"
    assert address_key("alice@customer.example") == "alice@customer.example"


def test_the_guard_names_the_limit_that_was_reached():
    limits = Limits(automatic_per_hour=10, automatic_per_day=40)

    assert over_limit("automatic", "a+x@b.c", 9, 9, limits) is None
    assert over_limit("automatic", "a+x@b.c", 10, 10, limits) == (
        "rate limit: 10 automatic mails to a@b.c in the last hour"
    )
    assert "40 automatic mails to a@b.c in the last day" in over_limit(
        "automatic", "a@b.c", 3, 40, limits
    )


def test_plus_tag_variants_share_one_hourly_limit(tmp_path, db_url):
    change = configured(limits={"new_tickets_per_hour": 100})
    desk = next(open_desk(tmp_path, db_url, configure=change))
    try:
        for n in range(15):
            desk.receive(request(n, f"alice+{n}@customer.example"))

        assert len(desk.outbox("ack")) == 10
        skipped = Event.select().where(Event.kind == "ack_skipped")
        assert skipped.count() == 5
        assert "10 automatic mails to alice@customer.example" in skipped[0].detail
    finally:
        desk.runtime.close()


def test_acknowledgements_stop_at_the_daily_limit_whatever_the_hour(tmp_path, db_url):
    clock = HandClock(START)
    change = configured(limits={"new_tickets_per_hour": 100})
    desk = next(open_desk(tmp_path, db_url, configure=change, clock=clock))
    try:
        for hour in range(6):
            for n in range(8):
                desk.receive(request(hour * 10 + n))
            clock.advance(minutes=61)

        assert len(desk.outbox("ack")) == 40
        last = (
            Event.select().where(Event.kind == "ack_skipped").order_by(Event.id.desc())
        )
        assert (
            "40 automatic mails to alice@customer.example in the last day"
            in last[0].detail
        )
    finally:
        desk.runtime.close()


def test_past_its_hourly_tickets_a_sender_joins_its_latest_ticket_without_mail(
    tmp_path, db_url
):
    desk = next(open_desk(tmp_path, db_url))
    try:
        outcomes = [desk.receive(request(n)) for n in range(6)]
        mails_before = OutboxItem.select().count()

        assert [o.kind for o in outcomes] == ["new_ticket"] * 5 + ["appended"]
        assert outcomes[5].ticket == 5
        assert (
            "5 tickets opened by alice@customer.example in the last hour"
            in outcomes[5].reason
        )
        assert Ticket.select().count() == 5
        assert (
            Message.get(Message.message_id == "request-5@customer.example").ticket_id
            == 5
        )
        assert (
            OutboxItem.select().where(OutboxItem.ticket == 5).count()
            == mails_before - 4 * 3
        )
    finally:
        desk.runtime.close()


def test_notices_to_one_agent_stop_at_their_limit(tmp_path, db_url):
    desk = next(
        open_desk(
            tmp_path, db_url, configure=configured(limits={"notices_per_hour": 3})
        )
    )
    try:
        new_ticket(desk)
        for n in range(4):
            reply = (
                fixture_bytes("flow/reply_with_token.eml")
                .replace(b"request-1-followup@", f"followup-{n}@".encode())
                .replace(b"paper jam", f"paper jam {word(n)}".encode())
            )
            desk.receive(reply)

        to_alice = OutboxItem.select().where(
            OutboxItem.rcpt_key == "alice@acme.example"
        )
        assert to_alice.count() == 3
        assert Event.select().where(Event.kind == "notify_reply_skipped").count() == 4
    finally:
        desk.runtime.close()


def test_answers_relayed_to_one_customer_stop_at_their_limit(tmp_path, db_url):
    desk = next(
        open_desk(
            tmp_path, db_url, configure=configured(limits={"relayed_per_hour": 2})
        )
    )
    try:
        new_ticket(desk)
        signed = (
            desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
        )
        for n in range(3):
            desk.receive(
                desk.agent_mail(
                    "alice@acme.example", signed, f"Answer {word(n)}.", mid=f"r{n}"
                )
            )

        assert len(desk.outbox("reply")) == 2
        assert "2 relayed answers" in Event.get(Event.kind == "reply_skipped").detail
        assert (
            Message.get(Message.message_id == "r2@acme.example").kind == "agent_reply"
        )
    finally:
        desk.runtime.close()


def test_limits_hold_across_restarts_and_between_two_daemons(tmp_path, db_url):
    change = configured(
        support={"auto_replies_per_hour": 3}, limits={"new_tickets_per_hour": 100}
    )
    desk = next(open_desk(tmp_path, db_url, configure=change))
    config = desk.runtime.config
    desk.receive(request(1))
    desk.runtime.close()  # a restart
    first, second = (
        open_runtime(config),
        open_runtime(config),
    )  # two daemons, one database
    try:
        for n, runtime in enumerate((first, second, first, second), start=2):
            arrival = spool.Arrival(
                request(n), "test", "alice@customer.example", ("support@example.com",)
            )
            (spool_id,) = spool.spool(runtime.sql, [arrival], runtime.clock())
            runtime.pipeline.process(spool_id)

        assert OutboxItem.select().where(OutboxItem.kind == "ack").count() == 3
    finally:
        first.close()
        second.close()
