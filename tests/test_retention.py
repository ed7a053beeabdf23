"""Quarantine and retention through the `tierdesk` command: release, drop, why, purge."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tierdesk.daemon.cli import main
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool
from tierdesk.storage.db import open_database
from tierdesk.storage.models import (
    Attachment,
    Blob,
    ImapMissingBody,
    SpoolItem,
    Ticket,
)
from tierdesk.storage.schema import current_version, upgrade
from tierdesk.storage.sql import Sql

from tests.conftest import FIXTURES
from tests.support.schema_history import back_to

HOLD_RULES = """rules:
  - name: held for review
    when:
      subject: "[hold]"
    then: {quarantine: true}
"""


class Desk:
    """An admin at the command line, and the mail that reaches the desk."""

    def __init__(self, capsys, tmp_path: Path, db_url: str, extra: str = "") -> None:
        self.capsys = capsys
        self.tmp_path = tmp_path
        self.db_url = db_url
        rules = tmp_path / "rules.yaml"
        rules.write_text(HOLD_RULES)
        self.config = tmp_path / "tierdesk.yaml"
        self.config.write_text(
            f"data_dir: {tmp_path / 'data'}\n"
            f"storage:\n  url: {db_url}\n"
            "support:\n  addresses: [support@example.com]\n  subject_tag: ACME\n"
            f"rules: {rules}\n{extra}"
        )

    def run(self, *args: str) -> tuple[int, str, str]:
        """`tierdesk ARGS -c CONFIG`: exit code, stdout, stderr."""
        code = main([*args, "-c", str(self.config)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def mail(self, tag: str, subject: str = "Printer offline", raw: bytes = b"") -> int:
        """Alice writes (or `raw` arrives); returns its spool id."""
        template = (FIXTURES / "flow/new_request.eml").read_bytes()
        raw = raw or (
            template.replace(b"request-1@", f"request-{tag}@".encode())
            .replace(b"Printer on floor 3 is offline", subject.encode())
            # a different text each time, or the third one looks like a robot's
            .replace(b"floor 3 has", f"floor {tag} has".encode())
        )
        path = self.tmp_path / f"{tag}.eml"
        path.write_bytes(raw)
        envelope = ["--sender", "alice@customer.example"]
        envelope += ["--recipient", "support@example.com"]
        code, _, err = self.run("inject", *envelope, str(path))
        assert code == 0, err
        _, listed, _ = self.run("spool", "list", "--json")
        return json.loads(listed)[0]["id"]  # newest first

    def why(self, spool_id: int) -> dict:
        """`spool why ID --json`."""
        code, out, err = self.run("spool", "why", str(spool_id), "--json")
        assert code == 0, err
        return json.loads(out)

    def finished_days_ago(self, spool_id: int, days: float) -> None:
        """Let time pass: the item was processed (or dropped) `days` ago."""
        when = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
        db = open_database(self.db_url)
        SpoolItem.update(processed_at=when).where(SpoolItem.id == spool_id).execute()
        db.close()

    def item(self, spool_id: int) -> SpoolItem:
        """The spool row as stored."""
        db = open_database(self.db_url)
        try:
            return SpoolItem.get_by_id(spool_id)
        finally:
            db.close()


@pytest.fixture
def desk(capsys, tmp_path, db_url) -> Desk:
    return Desk(capsys, tmp_path, db_url)


def test_released_message_goes_back_to_the_pipeline_and_becomes_a_ticket(desk):
    held = desk.mail("a", "Printer offline [hold]")
    also_held = desk.mail("b", "Scanner offline [hold]")
    assert desk.why(held)["state"] == "quarantined"

    code, out, _ = desk.run("spool", "release", str(held))
    retry_code, _, _ = desk.run("spool", "retry", str(also_held))  # the older name

    assert (code, retry_code) == (0, 0)
    assert out.startswith("1 message(s) back in the queue")
    assert desk.why(held)["state"] == desk.why(also_held)["state"] == "new"
    # the rule is gone now, so the daemon makes tickets of them
    (desk.tmp_path / "rules.yaml").write_text("rules: []\n")
    runtime = open_runtime(load_config(str(desk.config)), with_rules=True)
    try:
        runtime.pipeline.drain()
    finally:
        runtime.close()
    assert desk.why(held)["outcome"] == "new_ticket", desk.why(held)
    assert desk.why(held)["ticket"] is not None


def test_dropped_message_keeps_its_row_and_reasons_and_never_runs_again(desk):
    held = desk.mail("a", "Win a prize [hold]")

    code, out, _ = desk.run("spool", "drop", str(held), "--reason", "spam, checked")

    assert code == 0 and out.startswith("1 message(s) dropped")
    why = desk.why(held)
    assert (why["state"], why["drop_reason"]) == ("dropped", "spam, checked")
    assert why["error"] == "quarantined by rule 'held for review'"
    assert why["size"] > 0 and desk.item(held).raw  # bytes kept until purge
    code, _, err = desk.run("spool", "release", str(held))
    assert code == 1
    assert f"spool item {held} is dropped, not quarantined: left as it is" in err
    assert desk.why(held)["state"] == "dropped"


def test_release_and_drop_name_the_items_they_left_alone(desk):
    done = desk.mail("a")

    code, _, err = desk.run("spool", "drop", str(done), "999")

    assert code == 1
    assert f"spool item {done} is done, not quarantined" in err
    assert "no spool item 999" in err
    assert desk.why(done)["state"] == "done"


def test_why_tells_reason_outcome_message_id_envelope_and_ticket(desk):
    done = desk.mail("a")
    held = desk.mail("b", "Printer offline [hold]")

    _, text, _ = desk.run("spool", "why", str(held))
    ticketed = desk.why(done)

    assert text.splitlines()[:3] == [
        f"spool item {held}: quarantined",
        "  reason      quarantined by rule 'held for review'",
        "  outcome     quarantined",
    ]
    assert "  Message-ID  <request-b@customer.example>" in text
    assert "  envelope    from alice@customer.example to support@example.com" in text
    assert f"`tierdesk spool release {held}`" in text
    assert (ticketed["outcome"], ticketed["ticket"]) == ("new_ticket", 1)
    assert ticketed["message_id"] == "request-a@customer.example"
    assert ticketed["mail_from"] == "alice@customer.example"
    assert ticketed["rcpt_tos"] == ["support@example.com"]
    code, _, err = desk.run("spool", "why", "999")
    assert code == 1 and "no spool item 999" in err


def test_why_shows_the_path_the_received_headers_claim(desk):
    spool_id = desk.mail(
        "path", raw=(FIXTURES / "lists/gateway_marks_everything_bulk.eml").read_bytes()
    )

    _, text, _ = desk.run("spool", "why", str(spool_id))
    hops = desk.why(spool_id)["hops"]

    assert [(h["number"], h["by"], h["delay"]) for h in hops] == [
        (1, "relay.northwind.example (Postfix)", 0),
        (2, "mx.example.com", 2.0),
    ]
    assert "  path        as its Received headers claim, first hop first:" in text
    assert (
        "     2. relay.northwind.example (relay.northwind.example [198.51.100.7]) "
        "-> mx.example.com with ESMTPS, 2026-11-03T10:02:11+00:00 +2s"
    ) in text


def test_why_prints_no_terminal_escapes_from_the_received_headers(desk):
    gateway = (FIXTURES / "lists/gateway_marks_everything_bulk.eml").read_bytes()
    hostile = gateway.replace(b"by mx.example.com", b"by mx\x1b[2J\x9b31m.example.com")
    spool_id = desk.mail("escapes", raw=hostile)

    _, text, _ = desk.run("spool", "why", str(spool_id))

    assert "path" in text
    assert "\x1b" not in text and "\x9b" not in text


def test_purge_empties_raw_mail_finished_long_ago_and_keeps_everything_else(desk):
    old_done = desk.mail("old")
    recent_done = desk.mail("recent")
    old_dropped = desk.mail("spam", "Win a prize [hold]")
    desk.run("spool", "drop", str(old_dropped))
    old_held = desk.mail("held", "Printer offline [hold]")
    old_released = desk.mail("released", "Scanner offline [hold]")
    desk.run("spool", "release", str(old_released))
    for spool_id in (old_done, old_dropped, old_held, old_released):
        desk.finished_days_ago(spool_id, 100)
    desk.finished_days_ago(recent_done, 1)
    old_size = desk.item(old_done).size + desk.item(old_dropped).size

    code, out, _ = desk.run("purge")

    assert code == 0
    assert out.startswith("purge the raw bytes of 2 message(s) processed or dropped")
    assert f"freed {old_size / 1024:.1f} KB in all" in out
    for spool_id in (old_done, old_dropped):
        item = desk.item(spool_id)
        assert bytes(item.raw) == b"" and item.purged_at is not None
        assert item.size > 0 and item.sha256 and item.message_id  # metadata stays
    assert desk.why(old_done)["ticket"] == 1
    assert desk.why(old_done)["purged_at"] is not None
    for spool_id in (recent_done, old_held, old_released):
        assert desk.item(spool_id).raw and desk.item(spool_id).purged_at is None
    code, _, err = desk.run("spool", "show", str(old_done))
    assert code == 1 and "were purged" in err
    _, again, _ = desk.run("purge")
    assert again.startswith("purge the raw bytes of 0 message(s)")


def test_dry_run_says_what_would_go_and_changes_nothing(desk):
    old = desk.mail("old")
    desk.finished_days_ago(old, 100)

    code, out, _ = desk.run("purge", "--dry-run")

    assert code == 0
    assert out.startswith("would purge the raw bytes of 1 message(s)")
    assert "nothing was changed (--dry-run)" in out
    assert desk.item(old).raw and desk.item(old).purged_at is None


def test_older_than_overrides_the_configured_retention(capsys, tmp_path, db_url):
    desk = Desk(capsys, tmp_path, db_url, extra="retention:\n  raw_mail_after: 30d\n")
    forty_days = desk.mail("a")
    desk.finished_days_ago(forty_days, 40)

    _, kept, _ = desk.run("purge", "--older-than", "60d")
    _, purged, _ = desk.run("purge")

    assert kept.startswith("purge the raw bytes of 0 message(s)")
    assert purged.startswith("purge the raw bytes of 1 message(s)")
    code, _, err = desk.run("purge", "--older-than", "soon")
    assert code == 64
    assert "--older-than must be an age like 90d, 12h or 30m, not 'soon'" in err


def test_purge_removes_attachment_bytes_no_attachment_uses_any_more(desk):
    """Nothing in tierdesk deletes an attachment yet, so the test removes the rows
    as a future ticket deletion would; the purge then finds the bytes unused."""
    first = (FIXTURES / "flow/attachment_1.eml").read_bytes()
    other = first.replace(b"attach-1@", b"attach-9@").replace(
        b"Invoice attached 1", b"B"
    )
    desk.mail("x", raw=first)
    desk.mail("y", raw=other)  # the same file again: its bytes are stored once
    db = open_database(desk.db_url)
    [blob] = Blob.select()
    first_attachment = Attachment.select().order_by(Attachment.id).first()
    first_attachment.delete_instance()
    db.close()

    _, still_used, _ = desk.run("purge")
    db = open_database(desk.db_url)
    Attachment.delete().execute()
    db.close()
    _, unused, _ = desk.run("purge")

    assert "remove 0 attachment blob(s)" in still_used
    assert "remove 1 attachment blob(s) no attachment uses" in unused
    db = open_database(desk.db_url)
    assert Blob.select().count() == 0 and Ticket.select().count() == 2
    db.close()
    assert blob.size > 0


def test_purge_goes_in_batches_while_intake_keeps_writing(desk):
    """450 old messages (three batches) while another thread spools new mail."""
    db = open_database(desk.db_url)
    upgrade(db)
    sql = Sql(db)
    long_ago = datetime.now(UTC) - timedelta(days=100)
    ids = spool.spool(
        sql,
        [
            spool.Arrival(f"Subject: {n}\r\n\r\nold\r\n".encode(), "test")
            for n in range(450)
        ],
        long_ago,
    )
    with db.atomic():
        for spool_id in ids:
            spool.mark_done(sql, spool_id, "ignored", "", None, "", long_ago)
    db.close()
    stop = threading.Event()
    written: list[int] = []

    def intake() -> None:
        writer_db = open_database(desk.db_url)
        writer = Sql(writer_db)
        while not stop.is_set():
            arrival = spool.Arrival(
                f"Subject: new {len(written)}\r\n\r\n".encode(), "test"
            )
            written.extend(spool.spool(writer, [arrival], datetime.now(UTC)))
        writer_db.close()

    thread = threading.Thread(target=intake)
    thread.start()
    try:
        code, out, _ = desk.run("purge")
    finally:
        stop.set()
        thread.join()

    assert code == 0
    assert out.startswith("purge the raw bytes of 450 message(s)")
    assert written  # intake was not shut out
    db = open_database(desk.db_url)
    assert SpoolItem.select().where(SpoolItem.purged_at.is_null(False)).count() == 450
    assert SpoolItem.select().where(SpoolItem.state == "new").count() == len(written)
    db.close()


def test_a_version_6_database_gains_what_version_7_adds_and_keeps_its_mail(desk):
    mail = desk.mail("a")
    db = open_database(desk.db_url)
    # back to version 6: no missing-body counts, no drop reason, no purge time
    back_to(db, 6)

    applied = upgrade(db)

    assert applied[0] == 7 and current_version(db) >= 7
    assert SpoolItem.get_by_id(mail).purged_at is None
    assert ImapMissingBody.select().count() == 0
    db.close()
