"""`tierdesk run` as an operator sees it: IMAP and SMTP together, check-config, SIGHUP, SIGTERM."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import time

import pytest
from tierdesk.storage.db import open_database
from tierdesk.storage.models import MetaEntry

from tests.conftest import fixture_bytes
from tests.support.daemon_process import TIERDESK, DaemonProcess, wait_until
from tests.support.dovecot import make_dovecot  # noqa: F401 - fixture
from tests.support.ports import free_port

REQUEST = fixture_bytes("flow/new_request.eml")


def imap_yaml(dovecot, password_env: str = "TIERDESK_TEST_IMAP_PW") -> str:
    return (
        "imap:\n"
        "  - name: helpdesk\n"
        f"    host: {dovecot.host}\n    port: {dovecot.port}\n    security: none\n"
        f"    username: support\n    password_env: {password_env}\n    poll_interval: 2s\n"
        # the MTA that delivers into this mailbox adds Return-Path on top
        "    trust_return_path: true\n"
    )


@pytest.fixture
def dovecot(make_dovecot):  # noqa: F811 - the fixture imported above
    server = make_dovecot()
    server.add_user("support", "imap-pw")
    return server


def tickets(d: DaemonProcess) -> list[dict]:
    return d.cli_json("tickets", "list")


def test_mail_from_imap_and_smtp_becomes_tickets_and_sigterm_logs_out(
    tmp_path, db_url, dovecot, relay_sink
):
    env = {"TIERDESK_TEST_IMAP_PW": "imap-pw"}
    d = DaemonProcess(
        tmp_path, db_url, extra_yaml=imap_yaml(dovecot), relay_port=relay_sink.port
    )
    d.start(env=env)
    try:
        dovecot.append("support", REQUEST.replace(b"request-1@", b"via-imap@"))
        d.send(REQUEST)

        wait_until(lambda: len(tickets(d)) == 2, timeout=30, message="two tickets")
        assert len(relay_sink.wait_for(2)) == 2
        assert dovecot.list_uids("support") == []
    finally:
        assert d.stop() == 0
    assert "Logged out" in dovecot.log_text()


def test_check_config_tries_each_imap_login_and_the_relay(
    tmp_path, db_url, dovecot, relay_sink
):
    good = DaemonProcess(
        tmp_path, db_url, extra_yaml=imap_yaml(dovecot), relay_port=relay_sink.port
    )
    good.write_config()
    subprocess.run(
        [TIERDESK, "db", "upgrade", "--config", str(good.config_path)], check=True
    )

    ok = subprocess.run(
        [TIERDESK, "check-config", "--config", str(good.config_path)],
        capture_output=True,
        text=True,
        env={"TIERDESK_TEST_IMAP_PW": "imap-pw", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "imap 'helpdesk' (support@127.0.0.1" in ok.stdout
    assert "relay 127.0.0.1" in ok.stdout and "FAILED" not in ok.stdout

    bad = DaemonProcess(
        tmp_path, db_url, extra_yaml=imap_yaml(dovecot), relay_port=free_port()
    )
    bad.write_config()
    failed = subprocess.run(
        [TIERDESK, "check-config", "--config", str(bad.config_path)],
        capture_output=True,
        text=True,
        env={"TIERDESK_TEST_IMAP_PW": "wrong", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert failed.returncode == 1
    assert "imap 'helpdesk'" in failed.stdout and "login refused" in failed.stdout
    assert "unreachable" in failed.stdout


def test_sighup_reloads_templates_and_refuses_a_broken_config(tmp_path, db_url):
    templates = tmp_path / "tpl" / "en"
    templates.mkdir(parents=True)
    d = DaemonProcess(
        tmp_path, db_url, extra_yaml=f"templates_dir: {tmp_path / 'tpl'}\n"
    )
    d.start()
    try:
        (templates / "ack.txt").write_text(
            "Reloaded template for {{ customer.email }}.\n"
        )
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in d.log(), message="the reload")
        d.send(REQUEST)
        wait_until(
            lambda: list((tmp_path / "outgoing" / "new").glob("*")),
            message="the acknowledgement",
        )
        [ack] = (tmp_path / "outgoing" / "new").iterdir()
        assert b"Reloaded template for alice@customer.example." in ack.read_bytes()

        d.config_path.write_text(
            d.config_path.read_text() + "smtp:\n  port: not-a-port\n"
        )
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in d.log(), message="the refusal")
        d.send(REQUEST.replace(b"request-1@", b"request-2@"))  # still serving
    finally:
        assert d.stop() == 0


def test_sigterm_tells_an_idle_session_421(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url).start()
    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO client.example\r\n")
        while reader.readline()[3:4] == b"-":
            pass

        d.proc.send_signal(signal.SIGTERM)

        assert reader.readline().startswith(b"421 4.3.2")
    assert d.proc.wait(30) == 0


def test_daemon_refuses_an_unknown_schema_and_says_what_to_run(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url)
    d.write_config()
    subprocess.run(
        [TIERDESK, "db", "upgrade", "--config", str(d.config_path)], check=True
    )
    db = open_database(db_url)
    MetaEntry.update(value="1").where(MetaEntry.key == "schema_version").execute()
    db.close()

    done = d.run_to_exit()

    assert done.returncode == 78
    assert "run `tierdesk db upgrade`" in done.stderr


def test_a_client_retry_after_a_lost_250_is_not_a_second_ticket(tmp_path, db_url):
    """The sender may retry a message we stored (timeout before it read our 250)."""
    d = DaemonProcess(tmp_path, db_url).start()
    try:
        d.send(REQUEST)
        d.send(REQUEST)
        wait_until(
            lambda: d.cli_json("spool", "list")[0]["state"] == "done",
            message="processing",
        )
        time.sleep(0.5)
        assert [t["number"] for t in tickets(d)] == [1]
        outcomes = sorted(item["outcome"] for item in d.cli_json("spool", "list"))
        assert outcomes == ["duplicate", "new_ticket"]
    finally:
        d.stop()


def test_smtp_session_blocks_nothing_while_another_is_open(tmp_path, db_url):
    d = DaemonProcess(tmp_path, db_url).start()
    try:
        with smtplib.SMTP("127.0.0.1", d.port) as idle:
            idle.ehlo()
            idle.mail("slow@customer.example")
            d.send(REQUEST)  # a second session goes through meanwhile
        wait_until(lambda: len(tickets(d)) == 1, message="the ticket")
    finally:
        d.stop()


def test_systemd_hears_ready_watchdog_and_stopping(tmp_path, db_url):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    d = DaemonProcess(tmp_path, db_url)
    try:
        d.start(wait=False, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        heard = [listener.recv(4096).decode() for _ in range(3)]
        assert heard[0].startswith("READY=1")
        with socket.create_connection(("127.0.0.1", d.port), timeout=5):
            pass  # READY came after the listener was bound
        assert "WATCHDOG=1" in heard[1:]
        d.proc.send_signal(signal.SIGTERM)
        while not (message := listener.recv(4096).decode()).startswith("STOPPING=1"):
            assert message == "WATCHDOG=1"
        assert d.proc.wait(30) == 0
    finally:
        d.stop()
        listener.close()
