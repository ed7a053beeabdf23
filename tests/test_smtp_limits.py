"""The listener's limits, driven by real clients: recipients per message,
sessions in all and per client, idle time, and long lines."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import time

from tests.conftest import fixture_bytes
from tests.support.daemon_process import wait_until
from tests.support.smtp_listener import converse, spooled

REQUEST = fixture_bytes("flow/new_request.eml")


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
