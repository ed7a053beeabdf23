"""The metrics listener of a running daemon, scraped over HTTP like Prometheus does."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierdesk.storage import spool
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess, wait_until
from tests.support.ports import free_port
from tests.support.scrape import healthz, metrics_yaml, scrape, value

REQUEST = fixture_bytes("flow/new_request.eml")
REPLY = fixture_bytes("flow/reply_with_token.eml")
# nothing listens on port 1: the mailbox stays down
MAILBOX_DOWN = (
    "imap:\n  - name: helpdesk\n    host: 127.0.0.1\n    port: 1\n"
    "    security: none\n    username: support\n    password: x\n"
)
MESSAGES = "tierdesk_messages_received_total"
EX_CONFIG = 78


def counted(port: int) -> dict[tuple[str, str], float]:
    """The message counters that are not zero, by (channel, outcome)."""
    return {
        (dict(labels)["channel"], dict(labels)["outcome"]): n
        for labels, n in scrape(port).get(MESSAGES, {}).items()
        if n
    }


def test_a_scrape_counts_each_mail_by_channel_and_outcome(tmp_path, db_url):
    port = free_port()
    d = DaemonProcess(
        tmp_path,
        db_url,
        relay_port=free_port(),  # the relay is down: acks wait in the outbox
        extra_yaml=metrics_yaml(port) + MAILBOX_DOWN,
    ).start()
    try:
        d.send(REQUEST)
        wait_until(lambda: counted(port), message="the first mail counted")
        d.send(REPLY)
        d.send(REQUEST)  # the same Message-ID again
        wait_until(
            lambda: sum(counted(port).values()) == 3, message="three mails counted"
        )
        wait_until(
            lambda: (
                value(scrape(port), "tierdesk_imap_mailbox_up", mailbox="helpdesk") == 0
                and value(
                    scrape(port), "tierdesk_outbox_send_failures_total", kind="retry"
                )
            ),
            message="the mailbox down and a failed delivery",
        )
        m = scrape(port)

        assert counted(port) == {
            ("smtp", "new_ticket"): 1,
            ("smtp", "appended"): 1,
            ("smtp", "duplicate"): 1,
        }
        assert value(m, MESSAGES, channel="imap", outcome="new_ticket") == 0
        assert value(m, "tierdesk_message_processing_seconds_count") == 3
        assert value(m, "tierdesk_message_processing_seconds_bucket", le="+Inf") == 3
        assert value(m, "tierdesk_spool_depth") == 0
        assert value(m, "tierdesk_spool_oldest_age_seconds") == 0
        assert (
            value(m, "tierdesk_outbox_depth") >= 1
        )  # the acks, for a relay that is down
        assert value(m, "tierdesk_storage_up") == 1
        assert value(m, "tierdesk_daemons_alive") == 1
        assert value(m, "tierdesk_outbox_send_failures_total", kind="given_up") == 0
        state = {
            dict(labels)["state"]
            for labels, on in m["tierdesk_imap_mailbox_state"].items()
            if on
        }
        assert state == {"unreachable"}
        assert "tierdesk_imap_last_success_timestamp_seconds" not in m
        assert "tierdesk_messages_received_created" not in m  # no _created series

        d.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: value(scrape(port), "tierdesk_rules_reloads_total") == 1,
            message="the reload counted",
        )
        d.config_path.write_text(d.config_path.read_text() + "log_format: xml\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: value(scrape(port), "tierdesk_rules_reload_failures_total"),
            message="the refused reload counted",
        )
        m = scrape(port)
        # the file watcher may have refused it too, before the signal did
        refused = value(m, "tierdesk_rules_reload_failures_total")
        assert value(m, "tierdesk_rules_reloads_total") == 1 + refused
    finally:
        assert d.stop() == 0


def test_healthz_is_ok_then_names_a_stuck_message_then_the_missing_database(
    tmp_path, db_url
):
    port = free_port()
    d = DaemonProcess(tmp_path, db_url, extra_yaml=metrics_yaml(port)).start()
    try:
        assert healthz(port) == (200, "ok\n")

        stick_a_message_an_hour_old(db_url)
        code, text = healthz(port)
        assert code == 503
        assert text.startswith("stuck: a received message has waited 36"), text
        m = scrape(port)
        assert value(m, "tierdesk_spool_depth") == 1
        assert value(m, "tierdesk_spool_oldest_age_seconds") >= 3600
        assert value(m, "tierdesk_stuck") == 1

        with database_away(tmp_path, db_url):
            code, text = healthz(port)
            assert code == 503
            assert text.startswith("storage unreachable: "), text
            m = scrape(port)
            assert value(m, "tierdesk_storage_up") == 0
            assert "tierdesk_spool_depth" not in m
            assert value(m, MESSAGES, channel="smtp", outcome="new_ticket") == 0
        assert value(scrape(port), "tierdesk_storage_up") == 1
    finally:
        assert d.stop() == 0


def stick_a_message_an_hour_old(db_url: str) -> None:
    """A message received an hour ago, claimed by a daemon that is gone for good."""
    db = open_database(db_url)
    sql = Sql(db)
    now = datetime.now(UTC)
    with db.atomic():  # claimed in the same commit, so this daemon never takes it
        spool_id = spool.insert(
            sql, spool.Arrival(REQUEST, "smtp"), now - timedelta(hours=1)
        )
        sql.run(
            "UPDATE spool SET claimed_by = ?, claimed_until = ? WHERE id = ?",
            "gone",
            now + timedelta(hours=1),
            spool_id,
        )
    db.close()


@contextmanager
def database_away(tmp_path: Path, db_url: str) -> Iterator[None]:
    """The database cannot be opened (SQLite) or has lost its tables (PostgreSQL), for a while."""
    if db_url.startswith("sqlite:"):
        here, away = tmp_path / "db", tmp_path / "db-away"
        here.rename(away)
        try:
            yield
        finally:
            away.rename(here)
        return
    import psycopg

    base, schema = db_url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA {schema} RENAME TO {schema}_away")
        try:
            yield
        finally:
            conn.execute(f"ALTER SCHEMA {schema}_away RENAME TO {schema}")


def test_a_taken_metrics_port_stops_the_start_and_says_which_listener(
    tmp_path, sqlite_url
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = DaemonProcess(tmp_path, sqlite_url, extra_yaml=metrics_yaml(port))
        done = d.run_to_exit()

    assert done.returncode == EX_CONFIG
    assert f"cannot listen on 127.0.0.1:{port} (metrics)" in done.stderr
