"""The pipeline end to end in-process: spool → parse → classify → thread → route → apply."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from tierdesk.storage import spool
from tierdesk.storage.models import (
    Attachment,
    Blob,
    Event,
    Message,
    OutboxItem,
    SpoolItem,
    Ticket,
)

from tests.conftest import fixture_bytes
from tests.support.envelope import plain_envelope
from tests.support.words import word


def outbox_mails() -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(bytes(item.raw), policy=email.policy.default)
        for item in OutboxItem.select().order_by(OutboxItem.id)
    ]


def test_new_request_becomes_ticket_with_one_acknowledgement(ingest):
    outcome = ingest("flow/new_request.eml")

    assert (outcome.kind, outcome.ticket) == ("new_ticket", 1)
    ticket = Ticket.get(Ticket.number == 1)
    assert ticket.subject == "Printer on floor 3 is offline"
    assert (ticket.status, ticket.tier, ticket.queue) == ("new", 1, "default")
    assert ticket.requester.email == "alice@customer.example"
    [ack] = outbox_mails()
    assert ack["To"].addresses[0].addr_spec == "alice@customer.example"
    assert ack["From"].addresses[0].addr_spec == "support@example.com"
    assert ack["Subject"] == "[ACME #1] Printer on floor 3 is offline"
    assert ack["In-Reply-To"] == "<request-1@customer.example>"
    assert "<request-1@customer.example>" in ack["References"]
    assert ack["Message-ID"].endswith("@example.com>")
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert "ticket 1" in ack.get_body(("plain",)).get_content()


def test_reply_with_token_in_subject_is_appended(ingest):
    ingest("flow/new_request.eml")
    outcome = ingest("flow/reply_with_token.eml")

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert Ticket.select().count() == 1
    assert OutboxItem.select().count() == 1
    assert "subject token" in outcome.reason


def test_reply_with_changed_subject_threads_by_references_to_our_ack(ingest):
    ingest("flow/new_request.eml")
    ack_id = Message.get(Message.direction == "out").message_id
    assert (
        ack_id == "ack.1.6f9454a725ee1734a49c@example.com"
    )  # the fixture replies to this id

    outcome = ingest("flow/reply_changed_subject.eml")

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert outcome.reason == "threaded by In-Reply-To"


def test_same_message_twice_is_a_duplicate_without_second_ack(ingest):
    ingest("flow/new_request.eml")
    again = ingest("flow/new_request.eml")

    assert (again.kind, again.ticket) == ("duplicate", 1)
    assert Ticket.select().count() == 1
    assert OutboxItem.select().count() == 1
    assert Message.select().where(Message.direction == "in").count() == 1


def test_processing_a_spool_item_twice_changes_nothing(runtime, ingest):
    first = ingest("flow/new_request.eml")
    item = SpoolItem.get()
    before = (
        Ticket.select().count(),
        Message.select().count(),
        OutboxItem.select().count(),
        Event.select().count(),
    )

    again = runtime.pipeline.process(item.id)
    SpoolItem.update(state="new").where(
        SpoolItem.id == item.id
    ).execute()  # as if the commit had been lost
    replay = runtime.pipeline.process(item.id)

    assert first.kind == "new_ticket"
    assert again is None
    assert replay.kind == "duplicate"
    after = (
        Ticket.select().count(),
        Message.select().count(),
        OutboxItem.select().count(),
        Event.select().count(),
    )
    assert after == before


def test_failure_midway_leaves_no_ticket_without_its_ack(runtime, ingest, monkeypatch):
    """The ticket and its outbox row are one transaction: a crash in between undoes both."""
    import tierdesk.storage.outbox

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tierdesk.storage.outbox, "queue", explode)
    outcome = ingest("flow/new_request.eml")

    assert outcome.kind == "quarantined"
    assert "disk on fire" in outcome.reason
    assert Ticket.select().count() == 0
    assert Message.select().count() == 0
    assert OutboxItem.select().count() == 0
    item = SpoolItem.get()
    assert item.state == "quarantined" and "disk on fire" in item.error

    monkeypatch.undo()
    assert spool.retry(runtime.sql, [item.id]) == 1
    assert runtime.pipeline.process(item.id).kind == "new_ticket"
    assert OutboxItem.select().count() == 1


def test_auto_reply_to_our_ack_attaches_to_ticket_without_answer(ingest):
    ingest("flow/new_request.eml")
    outcome = ingest(
        "flow/vacation_reply_to_ack.eml", mail_from="alice@customer.example"
    )

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert (
        Message.get(Message.message_id == "oof-1@customer.example").kind == "auto_reply"
    )
    assert OutboxItem.select().count() == 1
    assert Ticket.get().status == "new"


def test_auto_reply_that_threads_nowhere_is_ignored_but_kept(ingest):
    outcome = ingest("flow/vacation_unrelated.eml")

    assert outcome.kind == "ignored"
    assert "Auto-Submitted" in outcome.reason
    assert Ticket.select().count() == 0
    assert OutboxItem.select().count() == 0
    item = SpoolItem.get()
    assert item.state == "done" and item.outcome == "ignored" and bytes(item.raw)


def test_monitoring_alert_opens_ticket_but_gets_no_acknowledgement(ingest):
    outcome = ingest(
        "flow/monitoring_alert.eml", mail_from="nagios@monitor.customer.example"
    )

    assert outcome.kind == "new_ticket"
    assert OutboxItem.select().count() == 0
    skipped = Event.get(Event.kind == "ack_skipped")
    assert "auto_generated" in skipped.detail


def test_bounce_with_null_sender_is_never_answered(ingest):
    outcome = ingest("flow/bounce_null_sender.eml", mail_from="")

    assert outcome.kind == "ignored"
    assert OutboxItem.select().count() == 0


def test_our_own_ack_coming_back_is_ignored(ingest):
    ingest("flow/new_request.eml")
    outcome = ingest("flow/own_ack_looped_back.eml", mail_from="support@example.com")

    assert outcome.kind == "ignored"
    assert "own" in outcome.reason
    assert OutboxItem.select().count() == 1


def test_attachments_are_stored_once_and_filenames_sanitised(ingest):
    ingest("flow/attachment_1.eml")
    ingest("flow/attachment_2.eml")

    names = sorted(a.filename for a in Attachment.select())
    assert "invoice.pdf" in names
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert Blob.select().count() == 1
    assert {a.size for a in Attachment.select()} == {Blob.get().size}


def test_russian_koi8r_request_gets_russian_acknowledgement(ingest):
    outcome = ingest("flow/russian_koi8r.eml")

    ticket = Ticket.get(Ticket.number == outcome.ticket)
    assert ticket.subject == "Не работает вход"
    assert ticket.language == "ru"
    assert "Здравствуйте" in Message.get(Message.direction == "in").text
    [ack] = outbox_mails()
    assert "Не работает вход" in ack["Subject"]
    assert "зарегистрирован" in ack.get_body(("plain",)).get_content()


def test_header_injection_in_subject_and_name_stays_in_one_header(ingest):
    outcome = ingest("flow/header_injection.eml")

    assert outcome.kind == "new_ticket"
    raw = bytes(OutboxItem.get().raw)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in headers.split(b"\r\n"))
    [ack] = outbox_mails()
    assert "\n" not in ack["Subject"] and "\r" not in ack["Subject"]
    assert ack["Bcc"] is None
    assert [a.addr_spec for a in ack["To"].addresses] == ["mallory@customer.example"]


def test_auto_replies_per_address_are_rate_limited(tmp_path, db_url):
    from tierdesk.daemon.runtime import open_runtime

    from tests.conftest import make_config

    runtime = open_runtime(make_config(tmp_path, db_url, auto_replies_per_hour=2))
    raw = fixture_bytes("flow/new_request.eml")
    for i in range(4):
        data = raw.replace(b"request-1@", f"request-1-{i}@".encode()).replace(
            b"has been offline", f"has been offline ({word(i)})".encode()
        )
        (spool_id,) = spool.spool(
            runtime.sql,
            [spool.Arrival(data, "test", *plain_envelope(data))],
            runtime.clock(),
        )
        assert runtime.pipeline.process(spool_id).kind == "new_ticket"

    assert OutboxItem.select().count() == 2
    assert Event.select().where(Event.kind == "ack_skipped").count() == 2
    assert "rate limit" in Event.get(Event.kind == "ack_skipped").detail
    runtime.close()


def test_oversize_message_is_quarantined_with_the_reason(tmp_path, db_url):
    from dataclasses import replace

    from tierdesk.daemon.runtime import open_runtime

    from tests.conftest import make_config

    config = make_config(tmp_path, db_url)
    config = replace(config, smtp=replace(config.smtp, max_message_size=1000))
    runtime = open_runtime(config)
    raw = fixture_bytes("flow/attachment_1.eml") + b"x" * 2000
    (spool_id,) = spool.spool(
        runtime.sql, [spool.Arrival(raw, "test", *plain_envelope(raw))], runtime.clock()
    )

    outcome = runtime.pipeline.process(spool_id)

    assert outcome.kind == "quarantined"
    assert "exceeds max_message_size" in SpoolItem.get_by_id(spool_id).error
    runtime.close()


@pytest.mark.parametrize("status", ["resolved", "pending"])
def test_customer_reply_reopens_a_waiting_ticket(ingest, status):
    ingest("flow/new_request.eml")
    Ticket.update(status=status).execute()

    ingest("flow/reply_with_token.eml")

    assert Ticket.get().status == "open"
    event = Event.get(Event.kind == "status")
    assert (event.old_value, event.new_value) == (status, "open")


def test_spool_keeps_envelope_and_raw_bytes(ingest):
    ingest("flow/new_request.eml", mail_from="alice@customer.example")

    item = SpoolItem.get()
    assert item.mail_from == "alice@customer.example"
    assert json.loads(item.rcpt_tos) == ["support@example.com"]
    assert bytes(item.raw) == fixture_bytes("flow/new_request.eml")
    assert item.ticket.number == 1


def test_utf8_message_ids_do_not_break_the_acknowledgement(ingest):
    outcome = ingest("flow/utf8_message_id.eml")

    assert outcome.kind == "new_ticket"
    [ack] = outbox_mails()
    assert ack["In-Reply-To"] is None  # a UTF-8 id needs SMTPUTF8 end to end: left out
    assert ack["References"] == "<plain@x.example>"


def test_ack_to_a_mail_without_message_id_does_not_reference_a_made_up_one(ingest):
    ingest("no_message_id.eml")

    [ack] = outbox_mails()
    assert ack["In-Reply-To"] is None
    assert "missing-message-id" not in (ack["References"] or "")


def test_a_request_handled_after_its_follow_up_joins_the_follow_ups_ticket(ingest):
    # two daemons, or IMAP and SMTP: the follow-up can be handled first
    first = ingest("flow/follow_up_before_answer.eml")
    request = ingest("flow/new_request.eml")

    assert first.kind == "new_ticket"
    assert (request.kind, request.ticket) == ("appended", first.ticket)
    assert Ticket.select().count() == 1
    acks = OutboxItem.select().where(OutboxItem.kind == "ack")
    assert acks.count() == 1
