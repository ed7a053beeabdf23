"""A full disk, for real: a small tmpfs under the SQLite database, filled up.

Intake answers "try again later" (451) instead of accepting what it cannot
store; the pipeline defers what it cannot persist and takes it up again,
whichever way the mail came in, once there is room; the daemon keeps running.
Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests are skipped.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool
from tierdesk.storage.db import open_database
from tierdesk.storage.models import SpoolItem, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.daemon_process import DaemonProcess, wait_until
from tests.support.words import word

REQUEST = fixture_bytes("flow/new_request.eml")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs of its own, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 512):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def request(n: int, body_kb: int = 600) -> bytes:
    """Alice's request number n, with a body big enough to need new pages."""
    text = "".join(
        f"line {i} of the log the printer wrote\r\n" for i in range(body_kb * 25)
    )
    return (
        REQUEST.replace(b"request-1@", f"request-full-{n}@".encode())
        .replace(b"Printer on floor 3 is offline", f"Printer log part {n}".encode())
        .replace(b"We restarted it", f"We restarted it ({word(n)})".encode())
        + text.encode()
    )


def tickets(url: str) -> int:
    db = open_database(url)
    try:
        return Ticket.select().count()
    finally:
        db.close()


def test_smtp_answers_451_on_a_full_disk_and_takes_the_mail_once_there_is_room(
    tmp_path, small_disk
):
    url = f"sqlite:///{small_disk / 'tierdesk.db'}"
    daemon = DaemonProcess(tmp_path, url).start()
    try:
        with smtplib.SMTP("127.0.0.1", daemon.port) as smtp:
            smtp.sendmail("alice@customer.example", ["support@example.com"], request(1))
        wait_until(lambda: tickets(url) == 1)
        filler = fill(small_disk)

        with (
            smtplib.SMTP("127.0.0.1", daemon.port) as smtp,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            smtp.sendmail("alice@customer.example", ["support@example.com"], request(2))
        assert refused.value.smtp_code == 451
        assert daemon.proc is not None and daemon.proc.poll() is None

        filler.unlink()
        with smtplib.SMTP("127.0.0.1", daemon.port) as smtp:
            smtp.sendmail("alice@customer.example", ["support@example.com"], request(2))
        wait_until(lambda: tickets(url) == 2)
    finally:
        daemon.stop()


def test_mail_the_pipeline_cannot_persist_is_deferred_and_done_later_from_every_intake(
    tmp_path, small_disk, caplog
):
    config = replace(
        make_config(tmp_path, f"sqlite:///{small_disk / 'tierdesk.db'}"),
        data_dir=small_disk / "data",
    )
    runtime = open_runtime(config)
    try:
        arrivals = [
            spool.Arrival(
                request(n), source, "alice@customer.example", ["support@example.com"]
            )
            for n, source in enumerate(("smtp", "imap", "inject"), start=10)
        ]
        spool.spool(runtime.sql, arrivals, runtime.clock())
        filler = fill(small_disk)

        runtime.pipeline.run_pending()

        waiting = list(SpoolItem.select().order_by(SpoolItem.id))
        assert [i.state for i in waiting] == ["new", "new", "new"]
        # the disk takes no error text either: the log says why
        assert "database or disk is full" in caplog.text
        assert Ticket.select().count() == 0

        filler.unlink()
        runtime.pipeline.drain()

        done = list(SpoolItem.select().order_by(SpoolItem.id))
        assert [(i.source, i.state, i.outcome) for i in done] == [
            ("smtp", "done", "new_ticket"),
            ("imap", "done", "new_ticket"),
            ("inject", "done", "new_ticket"),
        ]
    finally:
        runtime.close()
