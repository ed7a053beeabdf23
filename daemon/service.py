"""`tierdesk run`: one process with the SMTP listener, the pipeline worker and the sender.

Shutdown on SIGTERM/SIGINT: stop accepting, let sessions in DATA finish
(others get 421), let the pipeline finish its current message, then exit.
Nothing accepted is lost: it is in the spool before the client hears 250.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiosmtpd.smtp import SMTP
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from daemon.runtime import Runtime
from daemon.smtp_intake import IntakeHandler, IntakeLMTP, IntakeSMTP
from daemon.systemd import sd_notify
from daemon.workers import Worker
from storage import spool

log = logging.getLogger("tierdesk")

DRAIN_SECONDS = 20.0


async def serve(runtime: Runtime, ready: asyncio.Event | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit code."""
    config = runtime.config
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    sender = Worker("sender", runtime.sender.deliver_due, idle_seconds=15.0)
    pipeline_worker = Worker(
        "pipeline", lambda: _pipeline_step(runtime, pipeline_worker, sender), 5.0
    )
    own = frozenset(a.lower() for a in config.support.addresses)
    handler = IntakeHandler(
        own,
        spool_one=lambda arrival: spool.spool(runtime.sql, [arrival])[0],
        on_spooled=pipeline_worker.wake,
        source=config.smtp.mode,
    )
    sessions: set[SMTP] = set()
    server = None
    if config.smtp.enabled:
        server = await loop.create_server(
            lambda: _session(handler, runtime, sessions),
            host=config.smtp.host,
            port=config.smtp.port,
        )
        bound = ", ".join(
            f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in server.sockets
        )
        log.info(
            "%s listener on %s for %s",
            config.smtp.mode.upper(),
            bound,
            ", ".join(sorted(own)),
        )

    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(pipeline_worker.wake, "interval", seconds=10, id="spool_sweep")
    scheduler.add_job(sender.wake, "interval", seconds=15, id="outbox_retry")
    runtime.pipeline.parser.start()
    scheduler.start()
    pipeline_worker.start()
    sender.start()
    log.info(
        "tierdesk running: storage %s, outgoing via %s",
        _safe_url(config.storage_url),
        config.outgoing.transport,
    )
    sd_notify("READY=1\nSTATUS=accepting mail")
    if ready is not None:
        ready.set()

    await stop.wait()
    sd_notify("STOPPING=1")
    log.info("shutting down")
    if server is not None:
        server.close()
        await _drain_sessions(handler, sessions)
    scheduler.shutdown(wait=False)
    pipeline_worker.stop()
    sender.wake()
    sender.stop()
    runtime.close()
    log.info("stopped")
    return 0


def _pipeline_step(runtime: Runtime, worker: Worker, sender: Worker) -> int:
    done = runtime.pipeline.run_pending(stop=lambda: worker.stopping)
    if done:
        sender.wake()
    return done


def _session(handler: IntakeHandler, runtime: Runtime, sessions: set[SMTP]) -> SMTP:
    config = runtime.config.smtp
    cls = IntakeLMTP if config.mode == "lmtp" else IntakeSMTP
    return cls(
        handler,
        sessions,
        hostname=config.hostname or runtime.config.support.message_id_domain,
        ident="tierdesk",
        data_size_limit=int(config.max_message_size),
        enable_SMTPUTF8=True,
        timeout=config.timeout,
    )


async def _drain_sessions(handler: IntakeHandler, sessions: set[SMTP]) -> None:
    """Let messages in DATA reach the spool; tell idle sessions 421 and close them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while handler.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for protocol in list(sessions):
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
