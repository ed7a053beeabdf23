"""`tierdesk status` as a monitoring check: who runs, what they hold, and what is stuck."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from tierdesk.storage import spool
from tierdesk.storage.db import open_database
from tierdesk.storage.schema import SCHEMA_VERSION, upgrade
from tierdesk.storage.sql import Sql

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess

REQUEST = fixture_bytes("flow/new_request.eml")
STUCK = 2


def status(d: DaemonProcess) -> tuple[int, dict]:
    done = d.cli("status", "--json")
    return done.returncode, json.loads(done.stdout)


def test_status_shows_the_running_daemon_and_fails_once_it_is_gone(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url).start()
    try:
        d.send(REQUEST)
        code, report = status(d)
        assert code == 0, report["problems"]
        [me] = report["daemons"]
        assert (me["pid"], me["alive"], me["schema_version"]) == (
            d.proc.pid,
            True,
            SCHEMA_VERSION,
        )
        assert me["version"] and me["started_at"].endswith("UTC")
    finally:
        assert d.stop() == 0

    code, report = status(d)
    assert code == STUCK
    assert report["daemons"] == []  # a clean stop signs off
    assert report["problems"] == ["no tierdesk daemon is running (no heartbeat)"]


def test_status_fails_for_a_message_waiting_too_long_and_a_mailbox_nobody_watches(
    tmp_path, db_url
):
    imap = (
        "imap:\n  - name: helpdesk\n    host: 127.0.0.1\n    port: 1\n"
        "    security: none\n    username: support\n    password: x\n"
    )
    d = DaemonProcess(tmp_path, db_url, extra_yaml=imap)
    d.write_config()
    db = open_database(db_url)
    upgrade(db)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    spool.spool(Sql(db), [spool.Arrival(REQUEST, "smtp")], an_hour_ago)
    db.close()

    done = d.cli("status")
    text = done.stdout.decode()

    assert done.returncode == STUCK
    assert re.search(r"spool: 1 waiting \(oldest 36\d\d s\)", text), text
    assert re.search(r"STUCK: a received message has waited 36\d\d s", text), text
    assert "STUCK: IMAP mailbox 'helpdesk' is watched by no daemon" in text
