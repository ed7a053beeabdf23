"""Backups: a busy SQLite desk copied while it runs, restored into a fresh data dir.

The copy is one consistent instant: whatever was accepted before the backup
began is in it (processed, or waiting in the spool to be processed by the
restored desk), and the restored desk answers `check-config` and `tickets
show` as the original did.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tierdesk.daemon.reports import ticket_detail
from tierdesk.storage.db import open_database
from tierdesk.storage.models import Ticket

from tests.conftest import FIXTURES
from tests.support.daemon_process import DaemonProcess, wait_until

REQUEST = (FIXTURES / "flow/new_request.eml").read_bytes()
BURST = 60


def request(i: int) -> tuple[str, bytes]:
    sender = f"customer{i}@customer.example"
    raw = (
        REQUEST.replace(
            b"request-1@customer.example", f"backup-{i}@customer.example".encode()
        )
        .replace(b"alice@customer.example", sender.encode())
        .replace(b"floor 3", f"floor {i}".encode())
    )
    return sender, raw


def desk_in(path: Path) -> DaemonProcess:
    path.mkdir()
    return DaemonProcess(path, f"sqlite:///{path / 'data' / 'tierdesk.db'}")


def database(desk: DaemonProcess) -> Path:
    return Path(desk.storage_url[len("sqlite:///") :])


def counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "spooled": con.execute("SELECT COUNT(*) FROM spool").fetchone()[0],
            "waiting": con.execute(
                "SELECT COUNT(*) FROM spool WHERE state = 'new'"
            ).fetchone()[0],
            "pending": con.execute(
                "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"
            ).fetchone()[0],
            "tickets": con.execute("SELECT COUNT(*) FROM ticket").fetchone()[0],
        }
    finally:
        con.close()


def settled(desk: DaemonProcess) -> bool:
    c = counts(database(desk))
    return c["waiting"] == 0 and c["pending"] == 0


def every_ticket_shown(desk: DaemonProcess) -> dict[int, dict]:
    """What `tickets show` says of each ticket of a desk (read in-process: one per ticket
    through the command would cost a process start each)."""
    db = open_database(desk.storage_url)
    try:
        numbers = [t.number for t in Ticket.select(Ticket.number)]
        return {n: ticket_detail(n) for n in numbers}
    finally:
        db.close()


def test_a_backup_taken_mid_burst_restores_into_a_fresh_desk_that_loses_nothing(
    tmp_path,
):
    source = desk_in(tmp_path / "source").start()
    accepted: list[int] = []
    half_way = threading.Event()

    def burst() -> None:
        for i in range(BURST):
            sender, raw = request(i)
            source.send(raw, mail_from=sender)
            accepted.append(i)
            if i == BURST // 2:
                half_way.set()

    sender_thread = threading.Thread(target=burst)
    sender_thread.start()
    try:
        assert half_way.wait(60)
        accepted_before = len(accepted)
        backed_up = source.cli("backup", str(tmp_path / "busy.db"))
        sender_thread.join(60)
        wait_until(lambda: settled(source), 60, message="the source desk settled")
    finally:
        sender_thread.join(60)
        assert source.stop() == 0

    assert backed_up.returncode == 0, backed_up.stderr.decode()
    assert "busy.db" in backed_up.stdout.decode()
    restored = desk_in(tmp_path / "restored")
    restored.write_config()
    done = restored.cli("restore", str(tmp_path / "busy.db"))
    assert done.returncode == 0, done.stderr.decode()
    check = restored.cli("check-config")
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    # every ticket in the copy reads as in the source: same request, same messages
    theirs_all = every_ticket_shown(source)
    copied = every_ticket_shown(restored)
    assert copied
    for number, mine in copied.items():
        theirs = theirs_all[number]
        for key in ("subject", "requester", "created_at"):
            assert mine[key] == theirs[key]
        assert [m["message_id"] for m in mine["message_list"]] == [
            m["message_id"] for m in theirs["message_list"]
        ]
    # whatever was accepted before the backup began is in it, and the restored
    # desk finishes what was still waiting: nothing accepted is lost
    assert counts(database(restored))["spooled"] >= accepted_before
    restored.start()
    try:
        wait_until(lambda: settled(restored), 60, message="the restored desk settled")
        after = counts(database(restored))
        assert after["tickets"] == after["spooled"]
    finally:
        assert restored.stop() == 0


def test_a_quiet_desk_restored_answers_every_tickets_show_alike(tmp_path):
    source = desk_in(tmp_path / "source").start()
    try:
        for i in range(5):
            sender, raw = request(i)
            source.send(raw, mail_from=sender)
        wait_until(lambda: settled(source), 30, message="the source desk settled")
        backed_up = source.cli("backup", str(tmp_path / "quiet.db"))
    finally:
        assert source.stop() == 0
    assert backed_up.returncode == 0, backed_up.stderr.decode()

    restored = desk_in(tmp_path / "restored")
    restored.write_config()
    assert restored.cli("restore", str(tmp_path / "quiet.db")).returncode == 0

    listed = source.cli_json("tickets", "list", "--limit", "0")
    assert restored.cli_json("tickets", "list", "--limit", "0") == listed
    assert len(listed) == 5
    assert every_ticket_shown(restored) == every_ticket_shown(source)


def test_a_backup_never_overwrites_and_a_restore_keeps_what_it_replaces(tmp_path):
    desk = desk_in(tmp_path / "desk")
    desk.write_config()
    sender, raw = request(1)
    (tmp_path / "request.eml").write_bytes(raw)
    assert (
        desk.cli("inject", "--sender", sender, str(tmp_path / "request.eml")).returncode
        == 0
    )
    (tmp_path / "taken.db").write_text("something else")

    refused = desk.cli("backup", str(tmp_path / "taken.db"))
    assert refused.returncode == 73
    assert "exists: a backup never overwrites" in refused.stderr.decode()

    assert desk.cli("backup", str(tmp_path / "copy.db")).returncode == 0
    done = desk.cli("restore", str(tmp_path / "copy.db"))
    assert done.returncode == 0, done.stderr.decode()
    kept = [p for p in database(desk).parent.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and "kept as" in done.stdout.decode()


def test_restoring_a_file_that_is_no_tierdesk_backup_changes_nothing(tmp_path):
    desk = desk_in(tmp_path / "desk")
    desk.write_config()
    (tmp_path / "notes.db").write_bytes(b"not a database at all" * 100)

    done = desk.cli("restore", str(tmp_path / "notes.db"))

    assert done.returncode == 73
    assert "notes.db is not a readable SQLite database" in done.stderr.decode()
    assert not database(desk).exists()


def test_a_restore_while_the_daemon_runs_is_refused(tmp_path):
    desk = desk_in(tmp_path / "desk").start()
    try:
        assert desk.cli("backup", str(tmp_path / "copy.db")).returncode == 0
        done = desk.cli("restore", str(tmp_path / "copy.db"))
    finally:
        assert desk.stop() == 0

    assert done.returncode == 75
    assert "another tierdesk daemon" in done.stderr.decode()


def test_backup_on_postgresql_prints_the_pg_dump_line(tmp_path):
    desk = DaemonProcess(
        tmp_path, "postgresql://tierdesk@db.example:5432/desk?schema=acme"
    )
    desk.write_config()

    done = desk.cli("backup", "/var/backups/desk.dump")

    assert done.returncode == 64
    assert (
        "pg_dump --format=custom --file=/var/backups/desk.dump "
        "'postgresql://tierdesk@db.example:5432/desk' --schema=acme"
    ) in done.stderr.decode()
