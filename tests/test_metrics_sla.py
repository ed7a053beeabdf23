"""The SLA sweep's warnings, escalations and breaches, counted by tier (clock driven)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from tierdesk.daemon.metrics import DeskMetrics
from tierdesk.daemon.runtime import open_runtime
from tierdesk.daemon.sla_sweep import SlaSweeper
from tierdesk.storage import spool
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.envelope import plain_envelope
from tests.support.scrape import parse, value

RULES = """
agents:
  alice: {address: alice@acme.example, name: Alice, tier: 1}
  carol: {address: carol@acme.example, name: Carol, tier: 2}
  dave: {address: dave@acme.example, name: Dave, tier: 3}
sla:
  standard:
    first_response: {normal: 4h}
    resolution: {normal: 16h}
    warn_at: 0.5
escalation: {ceiling: 3}
default: {sla: standard}
rules: []
"""
START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_a_ticket_warned_escalated_twice_and_breached_counts_once_per_tier(
    tmp_path, db_url
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES))
    config = replace(make_config(tmp_path, db_url), rules=rules)
    runtime = open_runtime(config, clock=lambda: START)
    metrics = DeskMetrics(CollectorRegistry())
    try:
        raw = fixture_bytes("flow/new_request.eml")
        (spool_id,) = spool.spool(
            runtime.sql, [spool.Arrival(raw, "smtp", *plain_envelope(raw))], START
        )
        runtime.pipeline.process(spool_id)
        sweeper = SlaSweeper(runtime.sql, runtime.snapshot)
        # the warning at half time, then an overdue first response on each tier
        for hours in (2.5, 5, 10, 15, 20):
            metrics.sla_swept(sweeper.sweep(START + timedelta(hours=hours)))
        assert Ticket.get().tier == 3
    finally:
        runtime.close()

    m = parse(generate_latest(metrics.registry).decode())
    assert value(m, "tierdesk_sla_warnings_total", tier="1") == 1
    assert value(m, "tierdesk_sla_escalations_total", tier="1") == 1
    assert value(m, "tierdesk_sla_escalations_total", tier="2") == 1
    assert value(m, "tierdesk_sla_escalations_total", tier="3") is None
    assert value(m, "tierdesk_sla_breaches_total", tier="3") == 1
