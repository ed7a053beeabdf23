"""The SMTP/LMTP listener of `tierdesk run`, driven by real clients over a socket."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess, wait_until
from tierdesk.storage.db import open_database
from tierdesk.storage.models import SpoolItem

REQUEST = fixture_bytes("flow/new_request.eml")


@pytest.fixture
def daemon(tmp_path: Path, db_url: str):
    made: list[DaemonProcess] = []

    def start(**kwargs) -> DaemonProcess:
        made.append(DaemonProcess(tmp_path, db_url, **kwargs).start())
        return made[-1]

    yield start
    for d in made:
        d.stop()


def spooled(d: DaemonProcess) -> list[SpoolItem]:
    db = open_database(d.storage_url)
    try:
        return list(SpoolItem.select().order_by(SpoolItem.id))
    finally:
        db.close()


def converse(port: int, lines: list[bytes], replies: int) -> list[bytes]:
    """Send raw protocol lines in one write (pipelining) and read `replies` reply lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # greeting
        sock.sendall(b"".join(lines))
        out = []
        while len(out) < replies:
            line = reader.readline()
            if not line:
                break
            if line[3:4] == b"-":  # a continued multi-line reply
                continue
            out.append(line.rstrip())
        return out


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


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("openssl cannot make a test certificate here")
    return cert, key


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


def test_recipients_past_the_limit_get_452_so_the_client_sends_them_later(daemon):
    d = daemon(smtp_yaml="  max_recipients: 3\n")
    recipients = [f"support+{n}@example.com" for n in range(5)]

    replies = converse(
        d.port,
        [
            b"EHLO client.example\r\n",
            b"MAIL FROM:<alice@customer.example>\r\n",
            *(f"RCPT TO:<{r}>\r\n".encode() for r in recipients),
            b"DATA\r\n",
            REQUEST.replace(b"\n", b"\r\n") + b".\r\n",
            b"QUIT\r\n",
        ],
        replies=10,
    )

    assert replies[2:5] == [b"250 2.1.5 OK"] * 3
    assert replies[5:7] == [b"452 4.5.3 Too many recipients"] * 2
    assert replies[7].startswith(b"354") and replies[8].startswith(b"250 2.0.0")
    [item] = spooled(d)
    assert json.loads(item.rcpt_tos) == recipients[:3]


def first_line_from(port: int, source: str) -> tuple[socket.socket, bytes]:
    """Connect from the loopback address `source` and read the server's first line."""
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=20, source_address=(source, 0)
    )
    return sock, sock.makefile("rb").readline()


def admitted_from(port: int, source: str) -> socket.socket:
    """A session from `source` that got its 220, once a slot is (or becomes) free."""
    admitted: list[socket.socket] = []

    def try_once() -> bool:
        sock, line = first_line_from(port, source)
        if line.startswith(b"220"):
            admitted.append(sock)
            return True
        sock.close()
        return False

    wait_until(try_once, message=f"a session from {source} to be admitted")
    return admitted[0]


def refused_from(port: int, source: str) -> bytes:
    """The reply to a session that is over a limit, checking the server then hangs up."""
    sock, line = first_line_from(port, source)
    with sock:
        assert sock.makefile("rb").read() == b""  # closed by the server
    return line.rstrip()


def drop_abruptly(sock: socket.socket) -> None:
    """Reset the connection (RST), as a crashed client or a NAT box would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    sock.close()


TOO_MANY = b"421 4.7.0 Too many connections, try again later"


def test_sessions_over_the_limits_get_421_and_freed_slots_come_back(daemon):
    d = daemon(smtp_yaml="  max_sessions: 3\n  max_sessions_per_client: 2\n")

    first = admitted_from(d.port, "127.0.0.1")
    second = admitted_from(d.port, "127.0.0.1")
    assert refused_from(d.port, "127.0.0.1") == TOO_MANY  # a third from one client
    other = admitted_from(d.port, "127.0.0.2")  # another client still gets in
    assert refused_from(d.port, "127.0.0.3") == TOO_MANY  # now the listener is full

    # the clients go away in every way they do: reset, QUIT, hang-up mid-DATA
    drop_abruptly(first)
    second.sendall(b"QUIT\r\n")
    second.close()
    other.sendall(
        b"EHLO c.example\r\nMAIL FROM:<bob@customer.example>\r\n"
        b"RCPT TO:<support@example.com>\r\nDATA\r\nSubject: half\r\n"
    )
    other.close()

    # every slot is free again: nothing was counted twice or left behind
    back = [admitted_from(d.port, "127.0.0.1"), admitted_from(d.port, "127.0.0.1")]
    back.append(admitted_from(d.port, "127.0.0.3"))
    assert refused_from(d.port, "127.0.0.4") == TOO_MANY
    for sock in back:
        sock.close()
    assert spooled(d) == []


def test_a_session_that_turns_on_starttls_counts_once(daemon, certificate):
    cert, key = certificate
    d = daemon(
        smtp_yaml=f"  tls_cert: {cert}\n  tls_key: {key}\n  max_sessions_per_client: 1\n"
    )

    def deliver_over_tls() -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as smtp:
                smtp.starttls(context=ssl._create_unverified_context())
                smtp.sendmail(
                    "alice@customer.example", ["support@example.com"], REQUEST
                )
        except smtplib.SMTPConnectError:  # the previous session is still closing
            return False
        return True

    wait_until(deliver_over_tls, message="a first delivery over STARTTLS")
    wait_until(deliver_over_tls, message="a second delivery over STARTTLS")

    assert len(spooled(d)) == 2


def test_an_idle_session_hears_421_and_is_closed_after_the_timeout(daemon):
    d = daemon(smtp_yaml="  timeout: 1s\n")

    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n")
        while reader.readline().startswith(b"250-"):
            pass
        # ... and then the client says nothing more

        assert reader.readline().startswith(b"421 4.4.2")
        assert reader.read() == b""  # closed by the server


def test_a_slow_upload_is_not_idle_even_when_longer_than_the_timeout(daemon):
    d = daemon(smtp_yaml="  timeout: 2s\n")

    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(
            b"HELO client.example\r\nMAIL FROM:<alice@customer.example>\r\n"
            b"RCPT TO:<support@example.com>\r\nDATA\r\n"
        )
        replies = [reader.readline()[:3] for _ in range(4)]
        for n in range(10):  # a line now and then, over a slow link
            sock.sendall(f"X-Received-Slowly: part {n}\r\n".encode())
            time.sleep(0.3)
        sock.sendall(REQUEST.replace(b"\n", b"\r\n") + b".\r\n")
        replies.append(reader.readline()[:3])

    assert replies == [b"250", b"250", b"250", b"354", b"250"]
    assert len(spooled(d)) == 1


def test_a_5000_character_body_line_arrives_byte_for_byte(daemon):
    d = daemon()
    long_line = b"<p>" + b"Ticket report " * 357 + b"</p>"
    assert len(long_line) > 5000
    raw = (
        b"From: alice@customer.example\r\nTo: support@example.com\r\n"
        b"Message-ID: <long-line@customer.example>\r\nSubject: long\r\n\r\n"
        + long_line
        + b"\r\n.dot-stuffed "
        + b"x" * 2000
        + b"\r\n"
    )

    with smtplib.SMTP("127.0.0.1", d.port) as smtp:
        assert (
            smtp.sendmail("alice@customer.example", ["support@example.com"], raw) == {}
        )

    [item] = spooled(d)
    assert bytes(item.raw) == raw


def test_one_line_longer_than_the_size_limit_is_552_not_a_line_error(daemon):
    d = daemon(smtp_yaml="  max_message_size: 2k\n")

    replies = converse(
        d.port,
        [
            b"EHLO client.example\r\n",
            b"MAIL FROM:<alice@customer.example>\r\n",
            b"RCPT TO:<support@example.com>\r\n",
            b"DATA\r\n",
            b"Subject: one line\r\n\r\n" + b"y" * 9000 + b"\r\n.\r\n",
            b"QUIT\r\n",
        ],
        replies=6,
    )

    assert replies[4].startswith(b"552 5.3.4"), replies
    assert replies[5].startswith(b"221")
    assert spooled(d) == []
