"""The daemon's metrics hooks in the pipeline and the sender, without the listener:
a message counted by its channel, a failed delivery counted as retried or given up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from prometheus_client import generate_latest
from tierdesk.daemon.config import OutgoingConfig
from tierdesk.daemon.config_metrics import MetricsConfig
from tierdesk.daemon.metrics_daemon import DaemonMetrics
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool
from tierdesk.storage.models import OutboxItem

from tests.conftest import fixture_bytes
from tests.support.envelope import plain_envelope
from tests.support.ports import free_port
from tests.support.scrape import Samples, parse, value

FAILURES = "tierdesk_outbox_send_failures_total"


def relay(port: int) -> OutgoingConfig:
    return OutgoingConfig(transport="smtp", host="127.0.0.1", port=port, timeout=5)


def read(metrics: DaemonMetrics) -> Samples:
    return parse(generate_latest(metrics.registry).decode())


def test_a_relay_away_counts_a_retry_and_a_refusal_counts_a_mail_given_up(
    config, relay_sink
):
    runtime = open_runtime(replace(config, metrics=MetricsConfig(enabled=True)))
    metrics = DaemonMetrics(runtime, list)  # its hooks (no mailboxes), no listener
    try:
        raw = fixture_bytes("flow/new_request.eml")
        arrival = spool.Arrival(raw, "lmtp", *plain_envelope(raw))
        (spool_id,) = spool.spool(runtime.sql, [arrival], runtime.clock())
        runtime.pipeline.process(spool_id)  # a new ticket, and its ack to send

        runtime.sender.deliver_due(relay(free_port()))  # nothing listens there
        after_retry = read(metrics)
        OutboxItem.update(
            next_attempt_at=datetime.now(UTC).replace(tzinfo=None)
        ).execute()
        relay_sink.reply = "554 5.7.1 rejected as spam"
        runtime.sender.deliver_due(relay(relay_sink.port))
        after_refusal = read(metrics)
        assert OutboxItem.get().state == "failed"
    finally:
        runtime.close()

    counted = "tierdesk_messages_received_total"
    assert value(after_retry, counted, channel="lmtp", outcome="new_ticket") == 1
    assert value(after_retry, FAILURES, kind="retry") == 1
    assert value(after_retry, FAILURES, kind="given_up") == 0
    assert value(after_refusal, FAILURES, kind="retry") == 1
    assert value(after_refusal, FAILURES, kind="given_up") == 1
