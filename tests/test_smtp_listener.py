"""The SMTP/LMTP listener of `tierdesk run`, driven by real clients over a socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess, wait_until
from tests.support.smtp_listener import converse, spooled

REQUEST = fixture_bytes("flow/new_request.eml")


def test_good_mail_is_spooled_with_its_envelope_before_250(daemon):
    d = daemon()

    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        _, banner = smtp.ehlo()
        assert b"SMTPUTF8" in banner and b"8BITMIME" in banner
        refused = smtp.sendmail(
            "alice@customer.example", ["Support@Example.com"], REQUEST
        )

    assert refused == {}
    [item] = spooled(d)
    assert item.mail_from == "alice@customer.example"
    assert item.rcpt_tos == '["Support@Example.com"]'
    assert item.peer.startswith("127.0.0.1:")
    assert bytes(item.raw).replace(b"\r\n", b"\n").rstrip() == REQUEST.rstrip()


def test_unknown_recipient_is_refused_and_nothing_relayed(daemon):
    d = daemon()

    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        smtp.ehlo()
        smtp.mail("alice@customer.example")
        assert smtp.rcpt("victim@elsewhere.example")[0] == 550
        assert smtp.rcpt("support@example.com.evil.example")[0] == 550
        assert smtp.rcpt("support+billing@example.com")[0] == 250


def test_oversize_is_refused_with_552_before_or_after_data(daemon):
    d = daemon(smtp_yaml="  max_message_size: 2k\n")

    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        smtp.ehlo()
        code, message = smtp.mail("alice@customer.example", ["SIZE=50000"])
        assert (code, message[:5]) == (552, b"5.3.4")
    replies = converse(
        d.port,
        [
            b"EHLO client.example\r\n",
            b"MAIL FROM:<alice@customer.example>\r\n",
            b"RCPT TO:<support@example.com>\r\n",
            b"DATA\r\n",
            b"Subject: big\r\n\r\n" + (b"y" * 900 + b"\r\n") * 10 + b".\r\n",
            b"QUIT\r\n",
        ],
        replies=5,
    )

    assert replies[4].startswith(b"552 5.3.4"), replies
    assert spooled(d) == []


def test_lmtp_answers_once_per_recipient(daemon):
    d = daemon(mode="lmtp")

    replies = converse(
        d.port,
        [
            b"LHLO mta.example\r\n",
            b"MAIL FROM:<alice@customer.example>\r\n",
            b"RCPT TO:<support@example.com>\r\n",
            b"RCPT TO:<support+billing@example.com>\r\n",
            b"DATA\r\n",
            REQUEST.replace(b"\n", b"\r\n") + b".\r\n",
            b"QUIT\r\n",
        ],
        replies=7,
    )

    assert replies[0].startswith(b"250")  # LHLO
    assert replies[1:4] == [b"250 OK", b"250 2.1.5 OK", b"250 2.1.5 OK"]
    assert replies[4].startswith(b"354")
    assert replies[5].startswith(b"250 2.0.0") and replies[6].startswith(b"250 2.0.0")
    assert len(spooled(d)) == 1


def test_pipelined_commands_are_answered_in_order(daemon):
    d = daemon()

    replies = converse(
        d.port,
        [
            b"EHLO client.example\r\n",
            (
                b"MAIL FROM:<alice@customer.example>\r\nRCPT TO:<nobody@example.net>\r\n"
                b"RCPT TO:<support@example.com>\r\nDATA\r\n"
            ),
            REQUEST.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n",
        ],
        replies=7,
    )

    codes = [r[:3] for r in replies]
    assert codes == [b"250", b"250", b"550", b"250", b"354", b"250", b"221"]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers_with_pipelining(daemon):
    d = daemon()

    done = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{d.port}",
            "--from",
            "alice@customer.example",
            "--to",
            "support@example.com",
            "--pipeline",
            "--header",
            "Subject: Принтер не печатает",
            "--body",
            "Привет, принтер снова сломался.",
        ],
        capture_output=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    wait_until(lambda: len(spooled(d)) == 1, message="the swaks mail to be spooled")


def test_smtputf8_sender_is_accepted(daemon):
    d = daemon()
    raw = "From: Дима <дима@пример.рф>\r\nTo: support@example.com\r\nSubject: тест\r\n\r\nПривет\r\n".encode()

    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        smtp.sendmail(
            "дима@пример.рф", ["support@example.com"], raw, mail_options=["SMTPUTF8"]
        )

    [item] = spooled(d)
    assert item.mail_from == "дима@пример.рф"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MB filesystem of its own (tmpfs), so it can really run full."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> Path:
    """Write until the filesystem is full."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_answers_451_and_recovers_when_space_returns(tmp_path, small_disk):
    d = DaemonProcess(tmp_path, f"sqlite:///{small_disk / 'tierdesk.db'}").start()
    try:
        d.send(REQUEST)  # the database exists and works
        filler = fill(small_disk)

        with pytest.raises(smtplib.SMTPDataError) as refused:
            d.send(REQUEST.replace(b"request-1@", b"request-2@"))
        assert refused.value.smtp_code == 451
        assert b"4.3.0" in refused.value.smtp_error
        assert d.proc.poll() is None  # still running

        filler.unlink()
        d.send(REQUEST.replace(b"request-1@", b"request-2@"))  # the client's retry
        assert len(spooled(d)) == 2
    finally:
        d.stop()


def test_unexpected_handler_error_is_a_451_that_leaks_nothing():
    from tierdesk.daemon.intake.smtp import IntakeHandler

    async def spool_arrival(arrival):
        return 1

    handler = IntakeHandler(
        lambda: frozenset({"support@example.com"}), spool_arrival, lambda: None
    )

    reply = asyncio.run(handler.handle_exception(RuntimeError("db password=secret")))

    assert reply.startswith("451 4.3.0")
    assert "secret" not in reply


def test_starttls_is_offered_and_required_when_a_certificate_is_configured(
    daemon, certificate
):
    cert, key = certificate
    d = daemon(
        smtp_yaml=f"  tls_cert: {cert}\n  tls_key: {key}\n  require_starttls: true\n"
    )

    with smtplib.SMTP("127.0.0.1", d.port) as plain:
        assert plain.ehlo()[0] == 250 and plain.has_extn("starttls")
        code, _ = plain.mail("alice@customer.example")
        assert code == 530  # must issue STARTTLS first
    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        smtp.starttls(context=ssl._create_unverified_context())
        smtp.sendmail("alice@customer.example", ["support@example.com"], REQUEST)

    assert len(spooled(d)) == 1


def test_lmtp_over_a_unix_socket(daemon, tmp_path):
    path = tmp_path / "run" / "lmtp.sock"
    d = daemon(mode="lmtp", smtp_yaml=f"  unix_socket: {path}\n")

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(
            b"LHLO mta.example\r\nMAIL FROM:<alice@customer.example>\r\nRCPT TO:<support@example.com>\r\n"
            b"DATA\r\n" + REQUEST.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n"
        )
        replies = [
            line for line in reader.read().split(b"\r\n") if line and line[3:4] != b"-"
        ]

    assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354", b"250", b"221"]
    assert oct(path.stat().st_mode & 0o777) == "0o660"
    assert len(spooled(d)) == 1
