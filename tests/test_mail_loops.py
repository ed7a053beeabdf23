"""A day of two robots answering each other through tierdesk: what we send stays within the limits.

The customer has an auto-responder and the agents an out-of-office reply,
and neither sets Auto-Submitted or any other loop header: to tierdesk both
look like people. Every mail tierdesk sends is answered at once by the robot
it reaches, for a simulated day in five-minute steps.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import UTC, datetime, timedelta

from tierdesk.storage.models import OutboxItem

from tests.support.desk import HandClock, new_ticket, open_desk

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CUSTOMER = "alice@customer.example"
AGENTS = {"alice@acme.example", "bob@acme.example"}


def answer_of(item: OutboxItem, n: int) -> tuple[bytes, str] | None:
    """The robot's answer to one of our mails, and its envelope recipient."""
    sent = email.message_from_bytes(bytes(item.raw), policy=email.policy.default)
    reply_to = sent["Reply-To"].addresses[0].addr_spec
    if item.rcpt_key == CUSTOMER:
        sender, text, to = (
            CUSTOMER,
            "Thank you for your mail. I am on holiday.",
            "support@example.com",
        )
    elif item.rcpt_key in AGENTS:
        sender, text, to = (
            item.rcpt_key,
            "I am out of the office until Monday.",
            reply_to,
        )
    else:
        return None
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Re: {sent['Subject']}\r\n"
        f"In-Reply-To: {sent['Message-ID']}\r\nMessage-ID: <robot-{n}@robots.example>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()
    return raw, to


def busiest_hour(times: list[datetime]) -> int:
    """The most mails within any one hour."""
    times = sorted(times)
    return max(
        (sum(1 for t in times if s <= t < s + timedelta(hours=1)) for s in times),
        default=0,
    )


def test_an_auto_responder_and_an_out_of_office_stay_within_the_limits_for_a_day(
    tmp_path, db_url
):
    clock = HandClock(START)
    desk = next(open_desk(tmp_path, db_url, clock=clock))
    try:
        limits = desk.runtime.snapshot.settings.limits
        new_ticket(desk)
        n = 0
        while clock() < START + timedelta(days=1):
            for item in (
                OutboxItem.select()
                .where(OutboxItem.state == "pending")
                .order_by(OutboxItem.id)
            ):
                OutboxItem.update(state="sent").where(
                    OutboxItem.id == item.id
                ).execute()
                n += 1
                answer = answer_of(item, n)
                if answer is not None:
                    desk.receive(answer[0], rcpt=answer[1])
            clock.advance(minutes=5)

        sent = list(OutboxItem.select())
        per_address = Counter((o.rcpt_key, o.limit_class) for o in sent)
        print(
            f"\nmails sent in the simulated day: {len(sent)}; by address and class: {dict(per_address)}"
        )
        per_day = {
            "automatic": limits.automatic_per_day,
            "notice": limits.notices_per_day,
            "relayed": limits.relayed_per_day,
        }
        per_hour = {
            "automatic": limits.automatic_per_hour,
            "notice": limits.notices_per_hour,
            "relayed": limits.relayed_per_hour,
        }
        for (address, limit_class), count in per_address.items():
            assert count <= per_day[limit_class], (address, limit_class, count)
            times = [
                o.created_at
                for o in sent
                if (o.rcpt_key, o.limit_class) == (address, limit_class)
            ]
            assert busiest_hour(times) <= per_hour[limit_class], (address, limit_class)
        assert (
            len(sent)
            <= per_day["relayed"] + 2 * per_day["notice"] + per_day["automatic"] * 3
        )
    finally:
        desk.runtime.close()


def test_an_auto_responder_without_loop_headers_that_opens_new_tickets_stops_within_the_repeat_limit(
    tmp_path, db_url
):
    """It answers every mail of ours with a fresh mail (no In-Reply-To, its own
    subject), so each answer would open a ticket and earn an acknowledgement."""
    clock = HandClock(START)
    desk = next(open_desk(tmp_path, db_url, clock=clock))
    try:
        limits = desk.runtime.snapshot.settings.limits
        new_ticket(desk)
        answered = 0
        while clock() < START + timedelta(days=1):
            for item in (
                OutboxItem.select()
                .where(
                    (OutboxItem.state == "pending") & (OutboxItem.rcpt_key == CUSTOMER)
                )
                .order_by(OutboxItem.id)
            ):
                OutboxItem.update(state="sent").where(
                    OutboxItem.id == item.id
                ).execute()
                answered += 1
                desk.receive(
                    (
                        f"From: {CUSTOMER}\r\nTo: support@example.com\r\n"
                        f"Subject: Away from my desk\r\n"
                        f"Message-ID: <away-{answered}@customer.example>\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                        "I am away until the 20th and will read your mail then.\r\n"
                    ).encode()
                )
            clock.advance(minutes=5)

        acks = OutboxItem.select().where(
            (OutboxItem.rcpt_key == CUSTOMER) & (OutboxItem.kind == "ack")
        )
        print(f"\nping-pong: {answered} answers from the auto-responder in a day")
        # the request's own ack, then one per answer until the text repeats too often
        assert acks.count() == limits.repeats_are_robots
        assert answered == limits.repeats_are_robots
    finally:
        desk.runtime.close()
