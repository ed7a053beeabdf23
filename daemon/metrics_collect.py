"""Figures read at scrape time: the desk's queues from the database, the mailboxes from their pollers.

The queue figures are `tierdesk status`'s own (`daemon.status.desk_status`),
a handful of indexed COUNT/MIN queries, read again on each scrape rather
than kept up to date by every thread. They describe the whole desk, so each
daemon on a shared database reports the same values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from peewee import DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.daemon.status import DeskStatus

log = logging.getLogger("tierdesk.metrics")

# MailboxPoller.state values; one series each, 1 for the state the mailbox is in
MAILBOX_STATES = (
    "starting",
    "connected",
    "standby",
    "unreachable",
    "login-refused",
    "storage-error",
    "error",
)


class DeskCollector(Collector):
    """Spool and outbox depth and age, daemons alive, stuck or not, storage up or not."""

    def __init__(self, read_status: Callable[[], DeskStatus]) -> None:
        self.read_status = read_status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One reading of the desk; when storage does not answer, only storage_up 0."""
        try:
            status = self.read_status()
        except DatabaseError as exc:
            log.debug("scrape: storage does not answer: %s", exc)
            yield _gauge("tierdesk_storage_up", "1 when the database answers", 0)
            return
        except Exception:  # a full connection pool, a bug: the scrape still answers
            log.exception("scrape: cannot read the desk's status")
            yield _gauge("tierdesk_storage_up", "1 when the database answers", 0)
            return
        yield _gauge("tierdesk_storage_up", "1 when the database answers", 1)
        yield from desk_gauges(status)

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: registering must not query the database."""
        return []


def desk_gauges(status: DeskStatus) -> Iterator[GaugeMetricFamily]:
    """The gauges of one `DeskStatus` (an age is 0 while its queue is empty)."""
    yield _gauge(
        "tierdesk_spool_depth",
        "Received messages waiting for the pipeline",
        status.spool_waiting,
    )
    yield from _age(
        "tierdesk_spool_oldest_age_seconds",
        "How long the oldest waiting message has waited",
        status.spool_oldest_seconds,
    )
    yield _gauge(
        "tierdesk_spool_quarantined",
        "Messages set aside in the spool (see `tierdesk spool list --state quarantined`)",
        status.spool_quarantined,
    )
    yield _gauge(
        "tierdesk_outbox_depth",
        "Outgoing mails not yet sent (due now or waiting to be retried)",
        status.outbox_pending,
    )
    yield _gauge("tierdesk_outbox_due", "Outgoing mails due now", status.outbox_due)
    yield from _age(
        "tierdesk_outbox_oldest_due_age_seconds",
        "How long the oldest due outgoing mail has been due",
        status.outbox_oldest_due_seconds,
    )
    yield _gauge(
        "tierdesk_outbox_failed",
        "Outgoing mails given up (see `tierdesk outbox list --state failed`)",
        status.outbox_failed,
    )
    yield _gauge(
        "tierdesk_daemons_alive",
        "Daemons on this database with a recent heartbeat",
        sum(d.alive for d in status.daemons),
    )
    yield _gauge(
        "tierdesk_stuck",
        "1 when `tierdesk status` would exit 2 (see /healthz for why)",
        1 if status.problems else 0,
    )


class MailboxCollector(Collector):
    """Each IMAP mailbox this daemon runs: up or not, its state, its last good round."""

    def __init__(self, pollers: Callable[[], Iterable[MailboxPoller]]) -> None:
        self.pollers = pollers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read from the pollers themselves (no database)."""
        up = GaugeMetricFamily(
            "tierdesk_imap_mailbox_up",
            "1 while this daemon is connected to the mailbox (absent in standby:"
            " another daemon watches it)",
            labels=["mailbox"],
        )
        state = GaugeMetricFamily(
            "tierdesk_imap_mailbox_state",
            "The mailbox's state in this daemon (1 for the current one)",
            labels=["mailbox", "state"],
        )
        last = GaugeMetricFamily(
            "tierdesk_imap_last_success_timestamp_seconds",
            "When this daemon last finished a round on the mailbox (Unix time)",
            labels=["mailbox"],
        )
        for poller in list(self.pollers()):
            name = poller.config.name
            for known in MAILBOX_STATES:
                state.add_metric([name, known], 1 if poller.state == known else 0)
            if poller.state != "standby":
                up.add_metric([name], 1 if poller.state == "connected" else 0)
            if poller.last_success is not None:
                last.add_metric([name], poller.last_success)
        yield from (up, state, last)

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front (the mailboxes change on reload)."""
        return []


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(
    name: str, documentation: str, seconds: float | None
) -> Iterator[GaugeMetricFamily]:
    yield _gauge(name, documentation, max(seconds or 0.0, 0.0))
