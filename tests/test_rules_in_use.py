"""Rules at work: in the pipeline, on the command line, and reloaded by a running daemon."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool
from tierdesk.storage.models import Event, SpoolItem, Ticket

from tests.conftest import FIXTURES, fixture_bytes, make_config
from tests.support.daemon_process import TIERDESK, DaemonProcess, wait_until
from tests.support.envelope import plain_envelope
from tests.support.words import word

EXAMPLE = Path(__file__).parents[1] / "rules" / "example-rules.yaml"
REQUEST = fixture_bytes("flow/new_request.eml")


def variant(
    raw: bytes, tag: str, subject: str | None = None, sender: str | None = None
) -> bytes:
    raw = raw.replace(b"request-1@", f"request-{tag}@".encode())
    # a request of its own, not the same text again (which would look like a robot)
    raw = raw.replace(b"has been offline", f"has been offline ({word(tag)})".encode())
    if subject:
        raw = raw.replace(
            b"Subject: Printer on floor 3 is offline", f"Subject: {subject}".encode()
        )
    if sender:
        raw = raw.replace(b"alice@customer.example", sender.encode())
    return raw


@pytest.fixture
def routed(tmp_path, db_url):
    rules = tmp_path / "rules.yaml"
    shutil.copy(EXAMPLE, rules)
    runtime = open_runtime(replace(make_config(tmp_path, db_url), rules=rules))

    def ingest(raw: bytes):
        (spool_id,) = spool.spool(
            runtime.sql,
            [spool.Arrival(raw, "test", *plain_envelope(raw))],
            runtime.clock(),
        )
        return runtime.pipeline.process(spool_id)

    yield ingest
    runtime.close()


def test_new_tickets_are_routed_and_the_timeline_says_why(routed):
    outcome = routed(variant(REQUEST, "a", subject="Invoice 2026-11 is wrong"))

    ticket = Ticket.get(Ticket.number == outcome.ticket)
    assert (ticket.queue, ticket.tags, ticket.sla, ticket.assignee) == (
        "billing",
        "billing",
        "standard",
        "bob",
    )
    created = Event.get((Event.ticket == ticket.id) & (Event.kind == "created"))
    assert "queue billing" in created.detail and "rules: billing" in created.detail


def test_round_robin_takes_turns_across_tickets(routed):
    first = routed(variant(REQUEST, "a"))
    second = routed(variant(REQUEST, "b"))
    third = routed(variant(REQUEST, "c"))

    assignees = [
        Ticket.get(Ticket.number == o.ticket).assignee for o in (first, second, third)
    ]
    assert assignees == ["alice", "bob", "alice"]


def test_drop_and_quarantine_rules(routed):
    dropped = routed(variant(REQUEST, "spam", sender="offers@mail.spam.example"))
    assert (dropped.kind, dropped.reason) == ("ignored", "dropped by a rule")

    exe = (
        (FIXTURES / "flow/attachment_1.eml")
        .read_bytes()
        .replace(b"invoice.pdf", b"invoice.exe")
    )
    held = routed(exe)
    assert held.kind == "quarantined"
    assert (
        "suspicious attachments"
        in SpoolItem.get(SpoolItem.state == "quarantined").error
    )
    assert Ticket.select().count() == 0


def test_rules_test_explains_each_rule_as_text_and_json(tmp_path):
    message = tmp_path / "invoice.eml"
    message.write_bytes(
        variant(REQUEST, "a", subject="Invoice wrong", sender="ceo@bigcustomer.example")
    )

    text = subprocess.run(
        [
            TIERDESK,
            "rules",
            "test",
            "--rules",
            str(EXAMPLE),
            str(message),
            "--now",
            "2026-01-07T10:00",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(
        subprocess.run(
            [
                TIERDESK,
                "rules",
                "test",
                "--rules",
                str(EXAMPLE),
                str(message),
                "--json",
                "--now",
                "2026-01-07T10:00",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )

    assert "MATCH vip fast lane" in text and "MATCH billing" in text
    assert "known spammer (line" in text and "matches none of" in text
    assert "=> ticket: tier 2, queue billing, priority high" in text
    [report] = data
    assert report["decision"]["matched_rules"] == ["vip fast lane", "billing"]
    assert [r["matched"] for r in report["rules"]][:3] == [False, False, True]


def test_rules_check_reports_errors_and_exits_non_zero(tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text(
        EXAMPLE.read_text().replace("then: {drop: true}", "then: {dorp: true}")
    )

    good = subprocess.run(
        [TIERDESK, "rules", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    bad = subprocess.run(
        [TIERDESK, "rules", "check", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert good.returncode == 0 and "example(s) passed" in good.stdout
    assert bad.returncode == 1
    assert "unknown key 'dorp' (did you mean 'drop'?)" in bad.stderr
    assert f"{broken}:" in bad.stderr


def test_daemon_refuses_to_start_on_invalid_rules_and_says_why(tmp_path, db_url):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: x\n    then: {teir: 2}\n")
    d = DaemonProcess(tmp_path, db_url, extra_yaml=f"rules: {rules}\n")
    done = d.run_to_exit()

    assert done.returncode == 78
    assert f"{rules}:3: unknown key 'teir' (did you mean 'tier'?)" in done.stderr


def test_running_daemon_reloads_changed_rules_and_keeps_the_old_ones_on_error(
    tmp_path, db_url
):
    rules = tmp_path / "rules.yaml"
    rules.write_text("queues: [first, second]\ndefault: {queue: first}\nrules: []\n")
    d = DaemonProcess(tmp_path, db_url, extra_yaml=f"rules: {rules}\n").start()
    try:
        d.send(variant(REQUEST, "a"))
        wait_until(
            lambda: [t["queue"] for t in d.cli_json("tickets", "list")] == ["first"],
            message="ticket 1",
        )

        rules.write_text(
            "queues: [first, second]\ndefault: {queue: second}\nrules: []\n"
        )
        wait_until(
            lambda: "reloaded" in d.log(),
            timeout=20,
            message="the change on disk to be noticed",
        )
        d.send(variant(REQUEST, "b"))
        wait_until(lambda: len(d.cli_json("tickets", "list")) == 2, message="ticket 2")
        assert d.cli_json("tickets", "list")[0]["queue"] == "second"

        rules.write_text(
            "queues: [first, second]\ndefault: {queue: thrid}\nrules: []\n"
        )
        d.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "reload refused" in d.log(), message="the broken file to be refused"
        )
        assert "unknown queue 'thrid'" in d.log()
        d.send(variant(REQUEST, "c"))
        wait_until(lambda: len(d.cli_json("tickets", "list")) == 3, message="ticket 3")
        assert (
            d.cli_json("tickets", "list")[0]["queue"] == "second"
        )  # the previous rules are still in force
    finally:
        assert d.stop() == 0


def test_tickets_update_records_each_change_in_the_timeline(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url)
    d.write_config()
    subprocess.run(
        [
            TIERDESK,
            "inject",
            "--config",
            str(d.config_path),
            str(FIXTURES / "flow/new_request.eml"),
        ],
        check=True,
        capture_output=True,
    )

    done = d.cli(
        "tickets",
        "update",
        "1",
        "--status",
        "pending",
        "--tier",
        "2",
        "--priority",
        "high",
        "--by",
        "carol",
    )

    assert done.returncode == 0, done.stderr
    ticket = d.cli_json("tickets", "show", "1")
    changes = [
        (e["kind"], e["old"], e["new"], e["actor"])
        for e in ticket["events"]
        if e["field"]
    ]
    assert ("tier", "1", "2", "admin:carol") in changes
    assert ("priority", "normal", "high", "admin:carol") in changes
    assert ("status", "new", "pending", "admin:carol") in changes
    text = d.cli("tickets", "show", "1").stdout.decode()
    assert "admin:carol: status status: new -> pending" in text
