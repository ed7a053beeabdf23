"""The outbox sender: Maildir in development, a real SMTP relay otherwise, retries and failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.support.relay_sink import free_port
from tierdesk.daemon.config import OutgoingConfig
from tierdesk.daemon.outgoing.sender import Sender
from tierdesk.storage.models import OutboxItem


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
    sender = Sender(runtime.sql, runtime.config.outgoing_maildir, runtime.clock)

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
    sender = Sender(runtime.sql, runtime.config.outgoing_maildir, runtime.clock)

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
    sender = Sender(runtime.sql, runtime.config.outgoing_maildir, runtime.clock)

    sender.deliver_due(relay)

    item = OutboxItem.get()
    assert item.state == "failed"
    assert "554" in item.last_error


def test_dead_relay_defers_and_too_many_attempts_fail(runtime, ingest):
    ingest("flow/new_request.eml")
    relay = replace(relay_config(free_port()), max_attempts=2)
    sender = Sender(runtime.sql, runtime.config.outgoing_maildir, runtime.clock)

    sender.deliver_due(relay)
    assert OutboxItem.get().state == "pending"
    assert "unreachable" in OutboxItem.get().last_error

    OutboxItem.update(next_attempt_at=now()).execute()
    sender.deliver_due(relay)
    assert OutboxItem.get().state == "failed"
