"""`tierdesk db upgrade` beside running daemons: locked, and careful with older code.

Two upgrades never run at once; an upgrade that older daemons cannot run
beside refuses while one of them still beats; a daemon refuses a database
newer than it can run on, and runs on one whose newer steps were additive.
"""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from tierdesk.storage.db import open_database
from tierdesk.storage.models import DaemonRow, MetaEntry
from tierdesk.storage.schema import (
    SCHEMA_VERSION,
    SchemaError,
    current_version,
    upgrade,
)

from tests.support.daemon_process import TIERDESK, DaemonProcess
from tests.support.schema_history import back_to


def test_two_upgrades_started_together_apply_the_schema_once(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url)
    d.write_config()
    command = [TIERDESK, "db", "upgrade", "--config", str(d.config_path)]

    runs = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(2)]
    outputs = sorted(run.communicate(timeout=60)[0].decode().strip() for run in runs)

    assert [run.returncode for run in runs] == [0, 0]
    assert outputs == [
        "schema is up to date",
        f"schema upgraded to version {SCHEMA_VERSION}",
    ]


def _older_daemon_beating(db, beat_at: datetime) -> None:
    """A daemon whose code knows schema 8 (its row as a version 9 daemon would write it)."""
    db.create_tables([DaemonRow], safe=True)
    DaemonRow.create(
        id="old-host:4242:abcdef",
        host="old-host",
        pid=4242,
        version="0.0.9",
        schema_version=8,
        started_at=beat_at - timedelta(hours=1),
        beat_at=beat_at.replace(tzinfo=None),
    )


def test_an_upgrade_older_daemons_cannot_run_beside_refuses_while_one_beats(db_url):
    db = open_database(db_url)
    upgrade(db)
    back_to(db, 8)
    now = datetime.now(UTC)
    _older_daemon_beating(db, now - timedelta(seconds=5))

    with pytest.raises(SchemaError, match="old-host pid 4242 .*schema 8"):
        upgrade(db, now)

    assert current_version(db) == 8  # nothing of it was applied
    db.close()


def test_an_upgrade_goes_ahead_once_the_older_daemon_stopped_beating(db_url):
    db = open_database(db_url)
    upgrade(db)
    back_to(db, 8)
    now = datetime.now(UTC)
    _older_daemon_beating(db, now - timedelta(minutes=10))

    assert upgrade(db, now) == [9, 10, 11]
    db.close()


def _pretend_upgraded(db_url: str, version: int, compatible_with: int) -> None:
    db = open_database(db_url)
    upgrade(db)
    for key, value in (
        ("schema_version", version),
        ("schema_compatible_with", compatible_with),
    ):
        MetaEntry.update(value=str(value)).where(MetaEntry.key == key).execute()
    db.close()


def test_a_daemon_refuses_a_database_newer_than_it_can_run_on(tmp_path, db_url):
    _pretend_upgraded(db_url, SCHEMA_VERSION + 1, SCHEMA_VERSION + 1)
    d = DaemonProcess(tmp_path, db_url)
    done = d.run_to_exit()

    assert done.returncode == 78
    assert (
        f"schema is version {SCHEMA_VERSION + 1}, newer than this tierdesk knows"
        in done.stderr
    )


def test_a_daemon_runs_on_a_newer_database_whose_steps_were_additive(tmp_path, db_url):
    _pretend_upgraded(db_url, SCHEMA_VERSION + 1, SCHEMA_VERSION)
    d = DaemonProcess(tmp_path, db_url).start()
    try:
        status = d.cli("status", "--json")
        assert status.returncode == 0, status.stdout.decode()
    finally:
        assert d.stop() == 0


def test_a_daemon_that_finds_no_schema_while_another_creates_it_runs_on_it(
    db_url, monkeypatch
):
    """Three daemons started together on a new database: the ones that looked while
    the first was creating the schema wait for it instead of exiting 78."""
    from tierdesk.storage import schema

    db = open_database(db_url)
    real_current_version = schema.current_version
    looks: list[int | None] = []

    def another_daemon_creates_it():
        upgrade(db)
        db.close()  # this thread's own connection

    def another_daemon_finishes_in_between(database):
        version = real_current_version(database)
        if threading.current_thread() is not threading.main_thread():
            return version  # the other daemon's own looks
        looks.append(version)
        if len(looks) == 1:  # commit the other daemon's schema right after our look
            other = threading.Thread(target=another_daemon_creates_it)
            other.start()
            other.join()
        return version

    monkeypatch.setattr(schema, "current_version", another_daemon_finishes_in_between)

    assert schema.ensure_schema(db) == SCHEMA_VERSION
    assert looks == [None, SCHEMA_VERSION]
    db.close()
