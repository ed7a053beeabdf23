"""Tests for the Dovecot test harness (tests/support/dovecot.py), driven with imapclient."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.support import dovecot
from tests.support.dovecot import DovecotServer

# Fixtures (harmless duplicates if conftest.py imports them too).
dovecot_server = dovecot.dovecot_server
make_dovecot = dovecot.make_dovecot

MSG = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\nMessage-ID: <1@example.com>\r\n\r\nbody\r\n"


def msg(n: int) -> bytes:
    """A small distinct message."""
    return (
        f"Subject: m{n}\r\nMessage-ID: <{n}@example.com>\r\n\r\nbody {n}\r\n".encode()
    )


def connect(server: DovecotServer, user: str, password: str) -> IMAPClient:
    """A logged-in client (caller logs out)."""
    c = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    try:
        c.login(user, password)
    except BaseException:
        c.shutdown()
        raise
    return c


def idle_until(
    c: IMAPClient, pred: Callable[[list[tuple]], bool], within: float
) -> list[tuple]:
    """Collect IDLE responses until ``pred`` accepts them or ``within`` seconds pass."""
    seen: list[tuple] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not pred(seen):
        resp = c.idle_check(timeout=max(0.1, deadline - time.monotonic()))
        if not resp:  # timed out, or the connection is gone (then [] comes at once)
            break
        seen.extend(resp)
    return seen


def test_login_and_bad_password(dovecot_server: DovecotServer) -> None:
    """A user added after start can log in at once; a wrong password is refused."""
    dovecot_server.add_user("alice", "s3cret")
    c = connect(dovecot_server, "alice", "s3cret")
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c.logout()
    with pytest.raises(LoginError):
        connect(dovecot_server, "alice", "wrong")
    # The passwd-file is re-read on change: a new user can log in immediately.
    dovecot_server.add_user("bob", "pw2")
    connect(dovecot_server, "bob", "pw2").logout()
    with pytest.raises(LoginError):
        connect(dovecot_server, "carol", "pw")


def test_append_visible_via_search_and_fetch(dovecot_server: DovecotServer) -> None:
    """append() stores the exact message; SEARCH/FETCH BODY.PEEK[] see it and keep it unseen."""
    dovecot_server.add_user("alice", "pw")
    uid = dovecot_server.append("alice", MSG)
    dovecot_server.create_folder("alice", "Processed")
    dovecot_server.append("alice", msg(2), folder="Processed")
    c = connect(dovecot_server, "alice", "pw")
    c.select_folder("INBOX")
    assert c.search(["UID", f"{uid}:*"]) == [uid]
    data = c.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
    assert data[uid][b"BODY[]"] == MSG
    assert b"\\Seen" not in data[uid][b"FLAGS"]
    c.logout()
    assert dovecot_server.list_uids("alice") == [uid]
    assert dovecot_server.fetch_all("alice") == [MSG]
    assert dovecot_server.fetch_all("alice", "Processed") == [msg(2)]
    assert dovecot_server.list_uids("alice", "Processed") == [1]


def test_idle_gets_exists_after_append(dovecot_server: DovecotServer) -> None:
    """A client IDLEing on INBOX is told about an append within a couple of seconds."""
    dovecot_server.add_user("alice", "pw")
    c = connect(dovecot_server, "alice", "pw")
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c.idle()
    dovecot_server.append("alice", MSG)
    seen = idle_until(c, lambda rs: any(r[1:2] == (b"EXISTS",) for r in rs), within=5)
    c.idle_done()
    assert (1, b"EXISTS") in seen
    c.logout()


def test_kick_ends_idle_with_bye(dovecot_server: DovecotServer) -> None:
    """After kick(), idle_check returns BYE and then [] well before its timeout."""
    dovecot_server.add_user("alice", "pw")
    c = connect(dovecot_server, "alice", "pw")
    c.select_folder("INBOX")
    c.idle()
    dovecot_server.kick("alice")
    start = time.monotonic()
    first = c.idle_check(timeout=10)
    second = c.idle_check(timeout=10)
    assert time.monotonic() - start < 8  # not a timeout: the connection is gone
    assert first and first[0][0] == b"BYE"
    assert second == []
    assert dovecot_server.sessions("alice") == []
    c.shutdown()


def test_restart_keeps_port_and_mail(dovecot_server: DovecotServer) -> None:
    """restart() comes back on the same port with users and messages intact."""
    dovecot_server.add_user("alice", "pw")
    dovecot_server.append("alice", MSG)
    port = dovecot_server.port
    c = connect(dovecot_server, "alice", "pw")
    c.select_folder("INBOX")
    c.idle()
    dovecot_server.restart()
    assert dovecot_server.port == port
    assert dovecot_server.running
    seen = idle_until(c, lambda rs: bool(rs), within=5)  # the old session was dropped
    assert not seen or seen[0][0] == b"BYE"
    c.shutdown()
    c2 = connect(dovecot_server, "alice", "pw")
    assert c2.select_folder("INBOX")[b"EXISTS"] == 1
    c2.logout()
    assert dovecot_server.fetch_all("alice") == [MSG]


def test_reset_uidvalidity(dovecot_server: DovecotServer) -> None:
    """reset_uidvalidity() changes UIDVALIDITY and keeps the messages."""
    dovecot_server.add_user("alice", "pw")
    dovecot_server.create_folder("alice", "Support")
    for n in range(3):
        dovecot_server.append("alice", msg(n))
        dovecot_server.append("alice", msg(n), folder="Support")
    c = connect(dovecot_server, "alice", "pw")
    before_support = c.select_folder("Support")[b"UIDVALIDITY"]
    before = c.select_folder("INBOX")[b"UIDVALIDITY"]
    c.idle()
    new = dovecot_server.reset_uidvalidity("alice", "INBOX")
    # The session that had INBOX selected was dropped, so it cannot go on with old UIDs.
    seen = idle_until(c, lambda rs: bool(rs), within=5)
    assert not seen or seen[0][0] == b"BYE"
    c.shutdown()
    new_support = dovecot_server.reset_uidvalidity("alice", "Support")
    c = connect(dovecot_server, "alice", "pw")
    inbox = c.select_folder("INBOX")
    assert inbox[b"UIDVALIDITY"] == new != before
    assert inbox[b"EXISTS"] == 3
    assert c.select_folder("Support")[b"UIDVALIDITY"] == new_support != before_support
    c.logout()
    assert dovecot_server.fetch_all("alice") == [msg(n) for n in range(3)]
    assert dovecot_server.fetch_all("alice", "Support") == [msg(n) for n in range(3)]


@pytest.mark.parametrize("hidden", ["IDLE", "MOVE"])
def test_hidden_capabilities(
    make_dovecot: Callable[..., DovecotServer], hidden: str
) -> None:
    """capabilities_without hides a capability before and after login; the rest stay."""
    server = make_dovecot(capabilities_without=(hidden,))
    server.add_user("alice", "pw")
    c = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    assert hidden.encode() not in c.capabilities()
    c.login("alice", "pw")
    caps = c.capabilities()
    assert hidden.encode() not in caps
    assert {b"UIDPLUS", b"IMAP4REV1"} <= set(caps)
    assert {b"IDLE", b"MOVE"} - {hidden.encode()} <= set(caps)
    assert not c.has_capability(hidden)
    c.logout()


def test_two_servers_in_parallel(make_dovecot: Callable[..., DovecotServer]) -> None:
    """Two instances run side by side with separate ports, users and mail."""
    one, two = make_dovecot(), make_dovecot()
    assert one.port != two.port
    one.add_user("alice", "pw1")
    two.add_user("alice", "pw2")
    one.append("alice", msg(1))
    two.append("alice", msg(2))
    two.append("alice", msg(3))
    assert one.fetch_all("alice") == [msg(1)]
    assert two.fetch_all("alice") == [msg(2), msg(3)]
    with pytest.raises(LoginError):
        connect(one, "alice", "pw2")
    one.stop()
    assert two.list_uids("alice") == [1, 2]
