"""The supervisors' daily digest: yesterday's figures by mail, once a day, through the outbox.

The scheduler runs `digest_job` every minute in every daemon. Once the local
time passes `digest.at`, the first run to get there renders one mail per
supervisor and queues them in the same transaction that marks the day as
done (`storage/digest_mark.py`), so the digest goes out once per day with
several daemons, a restart, or a job run twice. A daemon that was down at
`at` sends it when it comes back, the same day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tierdesk.daemon.config_digest import DigestConfig
from tierdesk.daemon.digest_view import digest_context
from tierdesk.daemon.outgoing.enqueue import queue_mails
from tierdesk.daemon.report_figures import report
from tierdesk.daemon.runtime import Runtime
from tierdesk.daemon.snapshot import Snapshot
from tierdesk.parsers.parsed import Address
from tierdesk.rules.handling.plan import MailSpec, Thread
from tierdesk.storage import report_rows
from tierdesk.storage.digest_mark import claim_digest_day, last_digest_day
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk.digest")
TEMPLATE = "digest"


def due_day(digest: DigestConfig, zone: ZoneInfo, now: datetime) -> date | None:
    """The day whose digest is due at `now`: yesterday, once the local time reaches `at`."""
    local = now.astimezone(zone)
    if local.time() < digest.send_time:
        return None
    return local.date() - timedelta(days=1)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on DST days)."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)


def digest_specs(
    sql: Sql, snapshot: Snapshot, day: date, now: datetime
) -> list[MailSpec]:
    """One rendered-to-be mail per supervisor, with yesterday's figures (reads only)."""
    digest = snapshot.config.digest
    zone = ZoneInfo(digest.timezone or snapshot.rules.timezone)
    since, until = day_bounds(day, zone)
    opened = report_rows.opened_between(sql, since, until)
    open_tickets = report_rows.open_now(sql)
    history = report_rows.history_of(sql, [t.id for t in (*opened, *open_tickets)])
    yesterday, _ = report(opened, open_tickets, history, snapshot.rules.sla, now)
    context = digest_context(
        day.isoformat(),
        yesterday,
        open_tickets,
        history,
        now,
        zone,
        float(digest.near_breach),
        digest.oldest_per_tier,
    )
    language = digest.language or snapshot.config.support.default_language
    return [
        MailSpec(
            kind=TEMPLATE,
            template=TEMPLATE,
            to=Address("", address),
            why=f"the daily digest for {day.isoformat()}",
            cause=f"digest/{day.isoformat()}/{address.lower()}",
            thread=Thread(None, ()),
            language=language,
            context=context,
            limit_class="notice",
            auto_submitted="auto-generated",  # a periodic report (RFC 3834)
        )
        for address in digest.to
    ]


def send_digest_if_due(sql: Sql, snapshot: Snapshot, now: datetime) -> int:
    """Queue yesterday's digest if it is due and nobody has; returns the mails queued."""
    digest = snapshot.config.digest
    if not digest.to:
        return 0
    zone = ZoneInfo(digest.timezone or snapshot.rules.timezone)
    day = due_day(digest, zone, now)
    if day is None:
        return 0
    last = last_digest_day(sql)
    if last is not None and last >= day:
        return 0
    specs = digest_specs(sql, snapshot, day, now)
    limits = snapshot.settings.limits
    with sql.db.atomic():
        if not claim_digest_day(sql, day):
            return 0  # another daemon got there first
        failures = queue_mails(
            sql, snapshot.composer, None, specs, now, limits, actor="digest"
        )
    for failure in failures:
        log.error("digest for %s not sent: %s", day, failure)
    log.info(
        "digest for %s queued for %d supervisor(s)", day, len(specs) - len(failures)
    )
    return len(specs) - len(failures)


def digest_job(runtime: Runtime, wake_sender: Callable[[], None]) -> None:
    """The scheduler's job (a worker thread: its connection goes back afterwards)."""
    with runtime.db.connection_context():
        queued = send_digest_if_due(runtime.sql, runtime.snapshot, runtime.clock())
    if queued:
        wake_sender()
