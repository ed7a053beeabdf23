"""The counters and the latency histogram of one daemon, in a registry of its own.

Everything here is counted in the daemon's main process: by the pipeline
thread (messages, latency), the sender thread (outbox failures) and the
scheduler (SLA sweep, reloads). The parse workers only parse and count
nothing, so prometheus_client's multiprocess mode (a directory of mmap files
per worker pid) is not needed. Figures that live in the database (queue
depths, ages) are read at scrape time instead (`metrics_collect`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from peewee import DatabaseError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from tierdesk.daemon.sla_sweep import SweepReport
from tierdesk.rules.handling.outcome import Outcome, OutcomeKind
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.db import reset_connection
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk.metrics")

CHANNELS = ("smtp", "lmtp", "imap", "inject")
# what the pipeline records in the spool; `deferred` is never a final outcome
OUTCOMES = tuple(kind.value for kind in OutcomeKind if kind is not OutcomeKind.DEFERRED)
# received → processed includes the wait in the spool: from a blink to an hour
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class DeskMetrics:
    """The instruments the daemon's threads update, all in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # no `_created` series beside each counter and histogram: they double the
        # series for a timestamp Prometheus does not use (a switch for the process)
        disable_created_metrics()
        self.registry = registry
        self.messages = Counter(
            "tierdesk_messages_received",
            "Messages received, by channel and by how the pipeline disposed of them"
            " (counted when processed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "tierdesk_message_processing_seconds",
            "Time from a message's arrival in the spool to the pipeline's outcome",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.outbox_failures = Counter(
            "tierdesk_outbox_send_failures",
            "Failed deliveries of outgoing mail: retry (temporary, tried again later)"
            " or given_up (permanent, or too many attempts)",
            ["kind"],
            registry=registry,
        )
        by_tier = ["tier"]
        self.sla_warnings = Counter(
            "tierdesk_sla_warnings",
            "SLA warnings sent, by the ticket's tier",
            by_tier,
            registry=registry,
        )
        self.sla_escalations = Counter(
            "tierdesk_sla_escalations",
            "Tickets escalated for an overdue first response, by the tier they left",
            by_tier,
            registry=registry,
        )
        self.sla_breaches = Counter(
            "tierdesk_sla_breaches",
            "First responses overdue at the escalation ceiling, by tier",
            by_tier,
            registry=registry,
        )
        self.reloads = Counter(
            "tierdesk_rules_reloads",
            "Reloads of the config and rules files (SIGHUP or a changed file)",
            registry=registry,
        )
        self.reload_failures = Counter(
            "tierdesk_rules_reload_failures",
            "Reloads refused because a file was invalid (the running rules stay)",
            registry=registry,
        )
        # every series exists from the start, at 0, so rates and alerts see them
        for channel in CHANNELS:
            for kind in OUTCOMES:
                self.messages.labels(channel, kind)
        for kind in ("retry", "given_up"):
            self.outbox_failures.labels(kind)

    def sla_swept(self, report: SweepReport) -> None:
        """Count what one SLA sweep did, by tier."""
        counters = {
            "warning": self.sla_warnings,
            "escalation": self.sla_escalations,
            "breach": self.sla_breaches,
        }
        for kind, tier in report.by_tier:
            counters[kind].labels(str(tier)).inc()

    def reloaded(self, applied: bool) -> None:
        """Count a reload, and a refused one as a failure too."""
        self.reloads.inc()
        if not applied:
            self.reload_failures.inc()

    def send_failed(self, given_up: bool) -> None:
        """Count one failed delivery of an outbox row."""
        self.outbox_failures.labels("given_up" if given_up else "retry").inc()


@dataclass
class MessageCounter:
    """The pipeline's observer: counts what it disposed of, and how long each waited."""

    metrics: DeskMetrics
    sql: Sql

    def __call__(
        self, spool_ids: Sequence[int], outcomes: Sequence[Outcome | None]
    ) -> None:
        """After a batch (committed): channel and times of the processed items, one query."""
        done = {i: o for i, o in zip(spool_ids, outcomes, strict=True) if o is not None}
        if not done:
            return
        marks = ", ".join("?" * len(done))
        try:
            rows = self.sql.all(
                "SELECT id, source, received_at, processed_at FROM spool"
                f" WHERE id IN ({marks})",
                *done,
            )
        except DatabaseError as exc:  # the pipeline has noticed too; a count is lost
            reset_connection(self.sql.db)
            log.debug("cannot count processed messages: %s", exc)
            return
        for spool_id, source, received, processed in rows:
            channel = source or "unknown"
            self.metrics.messages.labels(channel, done[spool_id].kind.value).inc()
            received, processed = as_aware_utc(received), as_aware_utc(processed)
            if received is not None and processed is not None:
                waited = (processed - received).total_seconds()
                self.metrics.latency.observe(max(waited, 0.0))
