"""`tierdesk run` as a real process: SMTP in, pipeline, relay out."""

from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import fixture_bytes
from tests.support.ports import free_port

TIERDESK = str(Path(sys.executable).parent / "tierdesk")


def wait_for_port(
    port: int, proc: subprocess.Popen, log: Path, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tierdesk exited early: {log.read_text()}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the SMTP listener did not come up")


@pytest.fixture
def daemon(tmp_path: Path, db_url: str, relay_sink):
    port = free_port()
    config = tmp_path / "tierdesk.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        f"storage:\n  url: {db_url}\n"
        "support:\n  addresses: [support@example.com]\n  display_name: ACME Support\n  subject_tag: ACME\n"
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n"
        f"outgoing:\n  transport: smtp\n  host: 127.0.0.1\n  port: {relay_sink.port}\n"
    )
    log = tmp_path / "tierdesk.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [TIERDESK, "run", "--config", str(config)], stderr=stderr
        )
    try:
        wait_for_port(port, proc, log)
        yield port, config, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def test_request_and_reply_over_smtp_make_one_ticket_and_one_ack(daemon, relay_sink):
    port, config, proc = daemon
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(
            "alice@customer.example",
            ["support@example.com"],
            fixture_bytes("flow/new_request.eml"),
        )

    [ack] = relay_sink.wait_for(1)
    mail = ack.message
    assert ack.rcpt_tos == ["alice@customer.example"]
    assert mail["Subject"] == "[ACME #1] Printer on floor 3 is offline"
    assert mail["In-Reply-To"] == "<request-1@customer.example>"
    assert mail["References"] == "<request-1@customer.example>"

    reply = EmailMessage()
    reply["From"] = "Alice Example <alice@customer.example>"
    reply["To"] = "support@example.com"
    reply["Subject"] = (
        "Re: still broken"  # the token is gone: In-Reply-To must thread it
    )
    reply["Message-ID"] = "<request-1-reply@customer.example>"
    reply["In-Reply-To"] = mail["Message-ID"]
    reply["References"] = f"<request-1@customer.example> {mail['Message-ID']}"
    reply.set_content("Still nothing printing.")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(reply)

    ticket = wait_for_ticket(config, 1, messages_in=2)
    incoming = [m for m in ticket["message_list"] if m["direction"] == "in"]
    assert [m["message_id"] for m in incoming] == [
        "request-1@customer.example",
        "request-1-reply@customer.example",
    ]
    time.sleep(1.0)  # give a wrong second acknowledgement the chance to show up
    assert len(relay_sink.received) == 1

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_mail_for_a_stranger_is_refused_at_rcpt(daemon):
    port, _, _ = daemon
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.mail("alice@customer.example")
        code, _ = smtp.rcpt("someone@elsewhere.example")
        assert code == 550
        code, _ = smtp.rcpt("Support+billing@Example.com")
        assert code == 250


def wait_for_ticket(
    config: Path, number: int, messages_in: int, timeout: float = 20.0
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            [TIERDESK, "tickets", "show", str(number), "--json", "-c", str(config)],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            ticket = json.loads(done.stdout)
            if (
                sum(m["direction"] == "in" for m in ticket["message_list"])
                >= messages_in
            ):
                return ticket
        if time.monotonic() > deadline:
            raise AssertionError(
                f"ticket {number} did not get {messages_in} messages: {done.stdout!r}"
            )
        time.sleep(0.2)
