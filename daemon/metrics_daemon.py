"""The metrics of one `tierdesk run`: its registry, the hooks it sets, and its listener.

Made once by the daemon from the configuration at start (`metrics:` needs a
restart to change). With `enabled: false`, the counters are kept (they cost
well under a microsecond each) but nothing listens, no hook queries the
database and no scrape-time collector is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.daemon.metrics import DeskMetrics, MessageCounter
from tierdesk.daemon.metrics_collect import DeskCollector, MailboxCollector
from tierdesk.daemon.metrics_http import Health, MetricsListener, judge_health, make_app
from tierdesk.daemon.runtime import Runtime
from tierdesk.daemon.status import DeskStatus, desk_status
from tierdesk.storage.db import reset_connection


class DaemonMetrics:
    """The registry (never prometheus_client's global one) and what feeds and serves it."""

    def __init__(
        self, runtime: Runtime, pollers: Callable[[], Iterable[MailboxPoller]]
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config.metrics
        self.registry = CollectorRegistry()
        self.counts = DeskMetrics(self.registry)
        self.listener: MetricsListener | None = None
        if not self.config.enabled:
            return
        self.registry.register(DeskCollector(self.read_status))
        self.registry.register(MailboxCollector(pollers))
        runtime.pipeline.observer = MessageCounter(self.counts, runtime.sql)
        runtime.sender.on_failure = self.counts.send_failed

    def read_status(self) -> DeskStatus:
        """`tierdesk status`'s reading of the desk, on a connection of this (request) thread."""
        runtime = self.runtime
        try:
            runtime.db.connect(reuse_if_open=True)
            return desk_status(runtime.sql, runtime.config, runtime.clock())
        finally:
            # each request has a thread of its own: its connection goes back now
            reset_connection(runtime.db)

    def health(self) -> Health:
        """What /healthz answers now."""
        return judge_health(self.read_status)

    def start(self) -> None:
        """Listen, when enabled; raises OSError when the address is taken."""
        if not self.config.enabled:
            return
        app = make_app(self.registry, self.health)
        self.listener = MetricsListener(self.config.host, self.config.port, app)
        self.listener.start()

    def stop(self) -> None:
        """Stop listening."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
