"""`tierdesk run`: one process with the SMTP/LMTP listener, IMAP pollers, pipeline and sender.

SIGTERM/SIGINT drain: stop accepting, let sessions in DATA reach the spool
(the others get 421), let the pipeline finish its current messages, log the
IMAP sessions out, then exit. Nothing accepted is lost: it is in the spool
before the client hears 250. SIGHUP reloads the config file and templates
without dropping connections; an invalid file is refused and the running
configuration stays.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from aiosmtpd.smtp import SMTP
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tierdesk.daemon.config import Config, SmtpListenConfig
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.digest import digest_job
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.daemon.intake.smtp import (
    IntakeHandler,
    IntakeLMTP,
    IntakeSMTP,
    SessionTable,
)
from tierdesk.daemon.intake.spool_writer import SpoolWriter
from tierdesk.daemon.membership import Membership
from tierdesk.daemon.memory import return_big_allocations
from tierdesk.daemon.metrics_daemon import DaemonMetrics
from tierdesk.daemon.runtime import Runtime, load_configured_rules
from tierdesk.daemon.sla_sweep import SlaSweeper
from tierdesk.daemon.snapshot import build_snapshot, replace_keys
from tierdesk.daemon.systemd import sd_notify
from tierdesk.daemon.workers import Worker
from tierdesk.rules.yamlsource import SourceError
from tierdesk.storage.db import is_sqlite
from tierdesk.storage.keys import key_fingerprint

log = logging.getLogger("tierdesk")

DRAIN_SECONDS = 20.0
RESTART_ONLY = ("storage", "smtp", "data_dir", "pipeline", "cluster", "metrics")


class Daemon:
    """The running parts of `tierdesk run` and their start/stop order."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        live = runtime.live
        # each worker thread has a connection of its own
        close_connection = runtime.db.close
        self.sender = Worker("sender", self._sender_step, 15.0, close_connection)
        self.pipeline = Worker("pipeline", self._pipeline_step, 5.0, close_connection)
        self.spool_writer = SpoolWriter(runtime.sql, runtime.clock)
        self.handler = IntakeHandler(
            lambda: live.current.own_addresses,
            spool_arrival=self.spool_writer.submit,
            on_spooled=self.pipeline.wake,
            source=runtime.config.smtp.mode,
            max_recipients=runtime.config.smtp.max_recipients,
        )
        # one table for the TCP and the Unix listener: max_sessions counts both
        self.sessions = SessionTable(
            runtime.config.smtp.max_sessions,
            runtime.config.smtp.max_sessions_per_client,
        )
        self.server: asyncio.AbstractServer | None = None
        self.unix_server: asyncio.AbstractServer | None = None
        self.tls_context = _tls_context(runtime.config.smtp)
        self.pollers: dict[str, MailboxPoller] = {}
        self.metrics = DaemonMetrics(runtime, lambda: list(self.pollers.values()))
        self.membership = Membership(
            runtime.sql,
            runtime.claimant,
            runtime.config.cluster,
            sole=is_sqlite(runtime.db),  # `tierdesk run` holds the file's claim
        )
        self._watched = self._file_times()
        self._keys_seen = key_fingerprint(runtime.sql)
        self.scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": 60,
            },
        )

    def _sender_step(self) -> int:
        return self.runtime.sender.deliver_due(self.runtime.config.outgoing)

    def _pipeline_step(self) -> int:
        done = self.runtime.pipeline.run_pending(stop=lambda: self.pipeline.stopping)
        if done:
            self.sender.wake()
        return done

    async def start(self) -> None:
        """Open the listener, start workers, pollers and the scheduler."""
        return_big_allocations()  # a big message's copies leave with it
        config = self.runtime.config
        self.metrics.start()  # first: a taken port stops the start before anything runs
        await asyncio.to_thread(self.membership.start)
        self.spool_writer.start()
        if config.smtp.enabled:
            loop = asyncio.get_running_loop()
            self.server = await loop.create_server(
                self._session, host=config.smtp.host, port=config.smtp.port
            )
            bound = ", ".join(
                f"{s.getsockname()[0]}:{s.getsockname()[1]}"
                for s in self.server.sockets
            )
            if config.smtp.unix_socket is not None:
                self.unix_server = await _unix_server(
                    self._session, config.smtp.unix_socket
                )
                bound += f", {config.smtp.unix_socket}"
            log.info(
                "%s listener on %s for %s",
                config.smtp.mode.upper(),
                bound,
                ", ".join(config.support.addresses),
            )
        self.runtime.pipeline.parser.start()
        self.scheduler.add_job(
            self.pipeline.wake, "interval", seconds=10, id="spool_sweep"
        )
        self.scheduler.add_job(
            self.sender.wake, "interval", seconds=15, id="outbox_retry"
        )
        self.scheduler.add_job(self._sla_sweep, "interval", seconds=30, id="sla_sweep")
        self.scheduler.add_job(  # once a day; every daemon looks, one sends
            digest_job,
            "interval",
            seconds=60,
            id="digest",
            args=(self.runtime, self.sender.wake),
        )
        self.scheduler.add_job(
            self._watch_files, "interval", seconds=5, id="watch_files"
        )
        self.scheduler.start()
        self.pipeline.start()
        self.sender.start()
        self._start_pollers(config)
        log.info(
            "tierdesk running: storage %s, outgoing via %s, %d IMAP mailbox(es)",
            _safe_url(config.storage_url),
            config.outgoing.transport,
            len(self.pollers),
        )

    def _session(self) -> SMTP:
        config = self.runtime.config
        cls = IntakeLMTP if config.smtp.mode == "lmtp" else IntakeSMTP
        return cls(
            self.handler,
            self.sessions,
            hostname=config.smtp.hostname or config.support.message_id_domain,
            ident="tierdesk",
            data_size_limit=int(config.smtp.max_message_size),
            enable_SMTPUTF8=True,
            timeout=config.smtp.timeout,
            tls_context=self.tls_context,
            require_starttls=config.smtp.require_starttls,
        )

    def _start_pollers(self, config: Config) -> None:
        for mailbox in config.imap:
            poller = MailboxPoller(
                mailbox,
                self.runtime.sql,
                self.pipeline.wake,
                self.runtime.clock,
                self.membership,
            )
            self.pollers[mailbox.name] = poller
            poller.start()
            self.scheduler.add_job(
                poller.wake,
                "interval",
                seconds=mailbox.poll_interval,
                id=f"imap_poll:{mailbox.name}",
            )

    def _stop_pollers(self) -> None:
        for name, poller in list(self.pollers.items()):
            poller.stop()
            with self.runtime.db.connection_context():
                self.membership.give_up(poller.lease)
            if self.scheduler.get_job(f"imap_poll:{name}"):
                self.scheduler.remove_job(f"imap_poll:{name}")
        self.pollers.clear()

    def reload(self) -> None:
        """SIGHUP (or a changed file): re-read config, rules and templates, all or nothing.

        An invalid config or rules file is refused with its errors logged; what
        is running stays in force.
        """
        current = self.runtime.config
        embedded = current.source == "(embedded default)"
        try:
            config = load_config(None if embedded else current.source)
            rules = load_configured_rules(config)
        except SourceError as exc:
            log.error(
                "reload refused, the running configuration and rules stay:\n%s", exc
            )
            self.metrics.counts.reloaded(applied=False)
            self._watched = self._file_times()
            return
        for section in RESTART_ONLY:
            if getattr(config, section) != getattr(current, section):
                log.warning(
                    "reload: '%s' changed; it takes effect after a restart", section
                )
        kept = replace(
            config,
            storage=current.storage,
            smtp=current.smtp,
            pipeline=current.pipeline,
            cluster=current.cluster,
            data_dir=current.data_dir,
            metrics=current.metrics,
        )
        runtime = self.runtime
        runtime.live.swap(
            build_snapshot(kept, rules, runtime.instance_id, runtime.keys(kept))
        )
        if kept.imap != current.imap:
            self._stop_pollers()
            self._start_pollers(kept)
        self._watched = self._file_times()
        log.info(
            "reloaded %s (rules: %s, %d rule(s))",
            config.source,
            rules.source,
            len(rules.rules),
        )
        self.metrics.counts.reloaded(applied=True)

    def _file_times(self) -> dict[str, float]:
        """Modification times of the config and rules files, to notice edits."""
        paths = (
            list(self.runtime.snapshot.rules.files) if self.runtime.config.rules else []
        )
        if self.runtime.config.source != "(embedded default)":
            paths.append(self.runtime.config.source)
        times = {}
        for path in paths:
            try:
                times[path] = os.stat(path).st_mtime
            except OSError:
                times[path] = -1.0
        return times

    def _watch_files(self) -> None:
        """Reload when the config or a rules file changed on disk, or a key was rotated."""
        if self._file_times() != self._watched:
            log.info("a config or rules file changed on disk; reloading")
            self.reload()
            return
        with self.runtime.db.connection_context():
            fingerprint = key_fingerprint(self.runtime.sql)
        if fingerprint != self._keys_seen:
            self._keys_seen = fingerprint
            runtime = self.runtime
            current = runtime.snapshot
            runtime.live.swap(replace_keys(current, runtime.keys(current.config)))
            log.info("signing keys changed; new mail is signed with the newest")

    def _sla_sweep(self) -> None:
        """The scheduler's SLA job (in a worker thread, whose connection goes back after)."""
        runtime = self.runtime
        with runtime.db.connection_context():
            report = SlaSweeper(runtime.sql, runtime.snapshot).sweep(runtime.clock())
        self.metrics.counts.sla_swept(report)
        self.sender.wake()

    async def stop(self) -> None:
        """Drain and stop everything, in the order that loses nothing."""
        await asyncio.to_thread(self.metrics.stop)  # a draining daemon is not healthy
        for server in (self.server, self.unix_server):
            if server is not None:
                server.close()
        if self.server is not None or self.unix_server is not None:
            await _drain_sessions(self.handler, self.sessions)
        await asyncio.to_thread(self.spool_writer.stop)
        self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self._stop_pollers)
        await asyncio.to_thread(self.pipeline.stop)
        self.sender.wake()
        await asyncio.to_thread(self.sender.stop)
        await asyncio.to_thread(self.membership.stop)


async def serve(runtime: Runtime) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    daemon = Daemon(runtime)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    await daemon.start()
    sd_notify("READY=1\nSTATUS=accepting mail")
    watchdog = asyncio.create_task(_watchdog())
    await stop.wait()
    sd_notify("STOPPING=1\nSTATUS=draining")
    log.info("shutting down")
    watchdog.cancel()
    await daemon.stop()
    runtime.close()
    log.info("stopped")
    return 0


def _tls_context(config: SmtpListenConfig) -> ssl.SSLContext | None:
    """The server context for STARTTLS, when a certificate is configured."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


async def _unix_server(
    factory: Callable[[], SMTP], path: Path
) -> asyncio.AbstractServer:
    """Listen on a Unix socket (replacing a stale one), group-writable for the MTA."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    server = await asyncio.get_running_loop().create_unix_server(
        factory, path=str(path)
    )
    path.chmod(0o660)
    return server


async def _watchdog() -> None:
    """WATCHDOG=1 from the main loop, so a wedged loop gets the service restarted."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or os.environ.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
        return
    interval = int(usec) / 2_000_000
    while True:
        sd_notify("WATCHDOG=1")
        await asyncio.sleep(interval)


async def _drain_sessions(handler: IntakeHandler, sessions: SessionTable) -> None:
    """Let messages in DATA reach the spool; tell idle sessions 421 and close them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while handler.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for protocol in sessions:
        transport = protocol.transport
        if transport is not None and not transport.is_closing():
            try:
                transport.write(b"421 4.3.2 Service shutting down, try again later\r\n")
            finally:
                transport.close()
    await asyncio.sleep(0)


def _safe_url(url: str) -> str:
    """The storage URL without a password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url
