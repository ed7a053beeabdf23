"""The `tierdesk` command: inject like an MTA pipe, and inspect tickets, outbox and spool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tierdesk.daemon.cli import main
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool

from tests.conftest import FIXTURES
from tests.support.ports import free_port

TIERDESK = str(Path(sys.executable).parent / "tierdesk")


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_inject_prints_one_json_line_per_message(capsys, config_file):
    code, out = run(
        capsys,
        "inject",
        "--config",
        str(config_file),
        str(FIXTURES / "flow/new_request.eml"),
        str(FIXTURES / "flow/reply_with_token.eml"),
        str(FIXTURES / "flow/new_request.eml"),
        str(FIXTURES / "flow/vacation_unrelated.eml"),
    )

    assert code == 0
    rows = json_lines(out)
    assert [(r["outcome"], r["ticket"]) for r in rows] == [
        ("new_ticket", 1),
        ("appended", 1),
        ("duplicate", 1),
        ("ignored", None),
    ]
    assert rows[0] == {
        "message_id": "request-1@customer.example",
        "outcome": "new_ticket",
        "ticket": 1,
        # inject without --mail-from knows no envelope: nothing proves the sender
        "reason": "no acknowledgement: the sender alice@customer.example is not "
        "verified: no envelope sender is known, and no trusted DMARC/SPF pass",
    }
    assert "Auto-Submitted" in rows[3]["reason"]


def test_inject_reads_stdin_when_no_file_is_named(config_file, tmp_path):
    raw = (FIXTURES / "flow/new_request.eml").read_bytes()

    done = subprocess.run(
        [TIERDESK, "--config", str(config_file), "inject"],
        input=raw,
        capture_output=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout.decode())[0]["outcome"] == "new_ticket"


def test_inject_exits_tempfail_when_storage_is_down(tmp_path):
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        f"storage:\n  url: postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2\n"
    )

    done = subprocess.run(
        [
            TIERDESK,
            "inject",
            "--config",
            str(path),
            str(FIXTURES / "flow/new_request.eml"),
        ],
        capture_output=True,
        check=False,
    )

    assert done.returncode == 75
    assert b"storage unavailable" in done.stderr


def test_inject_refuses_an_oversize_message_so_the_mta_bounces_it(config_file):
    config_file.write_text(config_file.read_text() + "smtp:\n  max_message_size: 2k\n")
    request = (FIXTURES / "flow/new_request.eml").read_bytes()
    huge = request + b"x" * (1024 * 1024)  # more than a pipe holds

    # as Postfix's pipe runs it: the message on stdin
    done = subprocess.run(
        [TIERDESK, "inject", "--config", str(config_file)],
        input=huge,
        capture_output=True,
        check=False,
    )

    assert done.returncode == 65  # EX_DATAERR: Postfix bounces it, quoting stderr
    assert (
        f"5.3.4 Message too big: {len(huge)} bytes, the limit is 2048 bytes"
        in done.stderr.decode()
    )
    [row] = json_lines(done.stdout.decode())
    assert row["outcome"] == "refused"
    assert row["message_id"] == "request-1@customer.example"
    spooled = subprocess.run(
        [TIERDESK, "spool", "list", "--json", "--config", str(config_file)],
        capture_output=True,
        check=True,
    )
    assert json.loads(spooled.stdout) == []  # nothing was kept


def test_inject_of_several_files_takes_the_others_and_still_exits_65(
    capsys, config_file, tmp_path
):
    config_file.write_text(config_file.read_text() + "smtp:\n  max_message_size: 2k\n")
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: scan\n\n" + b"x" * 5000)

    code, out = run(
        capsys,
        "inject",
        "-c",
        str(config_file),
        str(FIXTURES / "flow/new_request.eml"),
        str(big),
        str(FIXTURES / "flow/reply_with_token.eml"),
    )

    assert code == 65
    assert [r["outcome"] for r in json_lines(out)] == [
        "new_ticket",
        "refused",
        "appended",
    ]


def test_tickets_show_gives_messages_and_timeline(capsys, config_file):
    # as an MTA pipe passes the envelope: --sender is what verifies the From
    sender = ("--sender", "alice@customer.example")
    new_request = str(FIXTURES / "flow/new_request.eml")
    run(capsys, "inject", "-c", str(config_file), *sender, new_request)
    reply = str(FIXTURES / "flow/reply_with_token.eml")
    run(capsys, "inject", "-c", str(config_file), *sender, reply)

    code, out = run(capsys, "tickets", "show", "1", "--json", "-c", str(config_file))

    assert code == 0
    ticket = json.loads(out)
    assert ticket["number"] == 1 and ticket["requester"] == "alice@customer.example"
    kinds = [(m["direction"], m["kind"]) for m in ticket["message_list"]]
    assert kinds == [("in", "customer"), ("out", "ack"), ("in", "customer")]
    assert [e["kind"] for e in ticket["events"]][:2] == ["created", "ack_queued"]

    code, text = run(capsys, "tickets", "show", "1", "-c", str(config_file))
    assert "Ticket 1: Printer on floor 3 is offline" in text and "Timeline:" in text


def test_tickets_list_and_outbox_list(capsys, config_file):
    new_request = str(FIXTURES / "flow/new_request.eml")
    run(
        capsys,
        "inject",
        "-c",
        str(config_file),
        "--sender",
        "alice@customer.example",
        new_request,
    )

    _, listed = run(capsys, "tickets", "list", "--json", "-c", str(config_file))
    _, boxed = run(capsys, "outbox", "list", "--json", "-c", str(config_file))

    assert [t["number"] for t in json.loads(listed)] == [1]
    [mail] = json.loads(boxed)
    assert (mail["kind"], mail["state"], mail["to"]) == (
        "ack",
        "pending",
        ["alice@customer.example"],
    )


def test_unknown_ticket_is_an_error(capsys, config_file):
    assert main(["tickets", "show", "42", "-c", str(config_file)]) == 1


def spool_whole_as_imap_does(config_file: Path, raw: bytes) -> None:
    """Spool and process a message the way the IMAP poller does (whatever its size)."""
    runtime = open_runtime(load_config(config_file, require_secrets=False))
    try:
        ids = spool.spool(runtime.sql, [spool.Arrival(raw, "imap")], runtime.clock())
        runtime.pipeline.process_many(ids)
    finally:
        runtime.close()


def test_quarantined_message_can_be_listed_and_retried(capsys, config_file, tmp_path):
    big = tmp_path / "big.eml"
    big.write_bytes((FIXTURES / "flow/new_request.eml").read_bytes() + b"x" * 200)
    small_limit = config_file.read_text() + "smtp:\n  max_message_size: 300\n"
    config_file.write_text(small_limit)

    spool_whole_as_imap_does(config_file, big.read_bytes())

    _, listed = run(
        capsys,
        "spool",
        "list",
        "--state",
        "quarantined",
        "--json",
        "-c",
        str(config_file),
    )
    [item] = json.loads(listed)
    assert "exceeds max_message_size" in item["error"]

    config_file.write_text(small_limit.replace("300", "1MB"))
    code, _ = run(capsys, "spool", "retry", str(item["id"]), "-c", str(config_file))
    assert code == 0


def test_invalid_config_exits_78_with_file_and_line(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("support:\n  subjet_tag: X\n")

    assert main(["tickets", "list", "-c", str(path)]) == 78
    assert (
        f"{path}:2: unknown key 'subjet_tag' (did you mean 'subject_tag'?)"
        in capsys.readouterr().err
    )


def test_keys_rotate_signs_with_a_new_key_and_lists_the_old_one_as_retired(
    capsys, config_file
):
    run(capsys, "keys", "list", "-c", str(config_file))

    code, said = run(capsys, "keys", "rotate", "-c", str(config_file))
    _, listed = run(capsys, "keys", "list", "-c", str(config_file))

    assert code == 0 and said.startswith("key 01 signs new reply addresses")
    first, second = listed.splitlines()
    assert first.startswith("01 ") and "signs new addresses" in first
    assert (
        second.startswith("00 ") and "retired" in second and "verifies until" in second
    )


def test_participants_can_be_listed_added_and_removed(capsys, config_file):
    new_request = str(FIXTURES / "flow/new_request.eml")
    run(
        capsys,
        "inject",
        "-c",
        str(config_file),
        "--sender",
        "alice@customer.example",
        new_request,
    )

    _, added = run(
        capsys,
        "tickets",
        "participants",
        "1",
        "--add",
        "Carol+x@Customer.example",
        "-c",
        str(config_file),
    )
    _, removed = run(
        capsys,
        "tickets",
        "participants",
        "1",
        "--remove",
        "carol@customer.example",
        "-c",
        str(config_file),
    )

    assert added.splitlines() == [
        "alice@customer.example  requester",
        "carol@customer.example  cc",
    ]
    assert removed.splitlines() == ["alice@customer.example  requester"]


def test_inject_stops_at_an_unreadable_file_and_still_takes_the_ones_before(
    capsys, config_file, tmp_path
):
    missing = tmp_path / "not-there.eml"

    code, out = run(
        capsys,
        "inject",
        "-c",
        str(config_file),
        str(FIXTURES / "flow/new_request.eml"),
        str(missing),
        str(FIXTURES / "flow/reply_with_token.eml"),
    )

    assert code == 66  # EX_NOINPUT: the MTA or the admin sees the rest was not taken
    assert [r["outcome"] for r in json_lines(out)] == ["new_ticket"]


def test_lists_say_on_stderr_when_the_limit_cut_them(capsys, config_file):
    requests = ("new_request.eml", "second_request_new_name.eml", "russian_koi8r.eml")
    senders = (
        "alice@customer.example",
        "alice@customer.example",
        "ivan@customer.example",
    )
    for name, sender in zip(requests, senders, strict=True):
        path = str(FIXTURES / "flow" / name)
        main(["inject", "-c", str(config_file), "--sender", sender, path])
    capsys.readouterr()

    for command in (["tickets", "list"], ["spool", "list"], ["outbox", "list"]):
        assert main([*command, "--limit", "2", "--json", "-c", str(config_file)]) == 0
        cut = capsys.readouterr()
        assert len(json.loads(cut.out)) == 2, command
        assert "the newest 2 of 3 shown; --limit N shows more, --limit 0 all" in (
            cut.err
        ), command

        assert main([*command, "--limit", "0", "--json", "-c", str(config_file)]) == 0
        whole = capsys.readouterr()
        assert len(json.loads(whole.out)) == 3, command
        assert whole.err == "", command


def test_lists_show_a_hundred_unless_told_and_the_help_says_so(capsys):
    with pytest.raises(SystemExit):
        main(["spool", "list", "--help"])

    assert "default 100; 0 shows all" in capsys.readouterr().out
