"""IMAP FETCH replies that leave things out, against a real Dovecot: a missing
body is retried and, past a limit, given up and reported; nothing sits in
Processed without a ticket; identical bytes are counted, not lost."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from tierdesk.daemon.intake import imap
from tierdesk.storage.imap_state import load_checkpoint
from tierdesk.storage.models import ImapMissingBody, SpoolItem

from tests.support.daemon_process import wait_until
from tests.support.imap_pollers import (
    USER,
    connected,
    message,
    spool_count,
)


@pytest.fixture
def fetch_replies(monkeypatch):
    """Edits applied to every FETCH reply the poller's own connection gets.

    Only for what a real server cannot be made to do on cue; each test says why.
    """
    edits: list = []
    real_connect = imap.connect

    def connect(config, environ=None, tokens=None):
        client = real_connect(config, environ, tokens)
        real_fetch = client.fetch

        def fetch(messages, data, *args, **kwargs):
            for edit in edits:
                edit("before", messages)
            reply = real_fetch(messages, data, *args, **kwargs)
            for edit in edits:
                edit("after", reply)
            return reply

        client.fetch = fetch  # this connection only; the test's own clients are real
        return client

    monkeypatch.setattr(imap, "connect", connect)
    return edits


def body_left_out(uid: int, times: int | None = None):
    """An edit that drops `uid`'s body from the reply (`times` replies, or always)."""
    left = [times]

    def edit(when, reply):
        if when == "after" and uid in reply and left[0] != 0:
            reply[uid].pop(b"BODY[]", None)
            left[0] = None if left[0] is None else left[0] - 1

    return edit


def spooled_tags() -> list[str]:
    return sorted(
        item.raw.split(b"Printer ")[1].split(b" ")[0].decode()
        for item in SpoolItem.select()
    )


def attempts_at(uid: int) -> int:
    row = ImapMissingBody.get_or_none(ImapMissingBody.uid == uid)
    return row.attempts if row else 0


def given_up(uid: int) -> bool:
    row = ImapMissingBody.get_or_none(ImapMissingBody.uid == uid)
    return bool(row and row.given_up_at)


def flags_in_inbox(dovecot) -> dict[int, tuple]:
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        return {u: f[b"FLAGS"] for u, f in client.fetch(uids, ["FLAGS"]).items()}


def test_message_sent_without_its_body_is_retried_then_left_in_the_folder(
    server, pollers, runtime, fetch_replies, caplog
):
    """The server lists UID 2 round after round, but never sends its body.

    Dovecot leaves a body out only when the message's file vanished, and then the
    message is gone from the folder too; one that stays listed without a body cannot
    be made for real, so the poller's FETCH replies are edited to drop it.
    """
    dovecot = server()
    for tag in "abc":
        dovecot.append(USER, message(tag))
    fetch_replies.append(body_left_out(2))

    with caplog.at_level(logging.INFO, logger="tierdesk.imap"):
        poller = pollers(dovecot, missing_body_attempts=3, idle_renew=0.5)
        wait_until(lambda: given_up(2), message="UID 2 to be given up")
        connected(poller, rounds=poller.rounds + 2)  # later rounds leave it alone

    assert spooled_tags() == ["a", "c"]
    assert len(dovecot.fetch_all(USER, "Processed")) == 2
    assert dovecot.list_uids(USER) == [2]
    assert b"\\Seen" not in flags_in_inbox(dovecot)[2]  # untouched
    # passed at last (3 had left the folder already, so 2 is the last UID seen)
    assert load_checkpoint(runtime.sql, "support").last_uid == 2
    messages = [r.getMessage() for r in caplog.records]
    # while UID 2 was retried, the checkpoint stayed below it
    assert any(
        "took 2 message(s): 2 new, 0 already spooled; checkpoint at UID 1" in m
        for m in messages
    )
    retries = [m for m in messages if "came without its body (no body; attempt" in m]
    assert [("attempt 1 of 3" in m, "attempt 2 of 3" in m) for m in retries] == [
        (True, False),
        (False, True),
    ]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "mailbox 'support'" in error.getMessage()
    assert "UID 2 came without its body 3 times" in error.getMessage()


def test_body_left_out_once_is_fetched_again_next_round(
    server, pollers, runtime, fetch_replies, caplog
):
    """The first FETCH reply lacks UID 2's body; the next round's has it.

    A reply that leaves a body out once cannot be had from Dovecot on cue, so the
    poller's first FETCH reply is edited.
    """
    dovecot = server()
    for tag in "abc":
        dovecot.append(USER, message(tag))
    fetch_replies.append(body_left_out(2, times=1))

    with caplog.at_level(logging.WARNING, logger="tierdesk.imap"):
        pollers(dovecot, idle_renew=0.5)
        wait_until(lambda: spool_count() == 3, message="all three spooled")
        wait_until(lambda: dovecot.list_uids(USER) == [], message="INBOX to be empty")

    assert spooled_tags() == ["a", "b", "c"]
    assert len(dovecot.fetch_all(USER, "Processed")) == 3
    assert ImapMissingBody.select().count() == 0  # the count went with the body
    assert load_checkpoint(runtime.sql, "support").last_uid == 2  # 3 had left
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]


def test_missing_body_attempts_are_counted_across_restarts(
    server, pollers, fetch_replies, caplog
):
    """Each poller gets one round (IDLE is renewed only after 10 minutes).

    A body that never comes cannot be had from Dovecot while the message stays
    listed, so the poller's FETCH replies are edited to drop UID 1's.
    """
    dovecot = server()
    dovecot.append(USER, message("a"))
    fetch_replies.append(body_left_out(1))
    first = pollers(dovecot, missing_body_attempts=2)
    wait_until(lambda: attempts_at(1) == 1, message="the first attempt")
    first.stop()

    with caplog.at_level(logging.ERROR, logger="tierdesk.imap"):
        second = pollers(dovecot, missing_body_attempts=2)
        wait_until(lambda: given_up(1), message="the second attempt to give up")
        connected(second)

    assert spool_count() == 0
    assert dovecot.list_uids(USER) == [1]
    assert "UID 1 came without its body 2 times" in caplog.text


def test_expunge_between_search_and_fetch_leaves_nothing_unspooled_in_processed(
    server, pollers, runtime, fetch_replies
):
    """Another client really deletes and expunges UID 2 after the poller's SEARCH.

    Only the timing is arranged: the poller's first FETCH waits until the other
    connection has expunged; the server's replies are not edited. Dovecot may
    still send the body (the poller's view of the folder is not updated yet) or
    leave it out; either way Processed holds only mail that is in the spool.
    """
    dovecot = server()
    for tag in "abc":
        dovecot.append(USER, message(tag))
    done = []

    def expunge_first(when, payload):
        if when == "before" and not done:
            with dovecot.client(USER) as other:
                other.select_folder("INBOX")
                other.add_flags([2], [imap.DELETED])
                other.uid_expunge([2])
            done.append(True)

    fetch_replies.append(expunge_first)

    pollers(dovecot)

    wait_until(lambda: dovecot.list_uids(USER) == [], message="INBOX to be empty")
    wait_until(lambda: spool_count() >= 2, message="the others spooled")
    spooled = {item.sha256 for item in SpoolItem.select()}
    processed = dovecot.fetch_all(USER, "Processed")
    assert len(processed) >= 2
    assert all(hashlib.sha256(raw).hexdigest() in spooled for raw in processed)
    assert {"a", "c"} <= set(spooled_tags())


def test_message_the_server_cannot_read_is_given_up_without_stalling_the_mailbox(
    server, pollers, runtime, caplog
):
    """A real unreadable message file: Dovecot answers its FETCH with BYE."""
    dovecot = server()
    for tag in "abc":
        dovecot.append(USER, message(tag))
    inbox = make_unreadable(dovecot, b"Printer b is offline")

    try:
        with caplog.at_level(logging.ERROR, logger="tierdesk.imap"):
            pollers(dovecot, missing_body_attempts=2)
            wait_until(
                lambda: spool_count() == 2, timeout=40, message="a and c spooled"
            )
            wait_until(lambda: dovecot.list_uids(USER) == [2], message="a, c moved")
    finally:
        for path in inbox.glob("*/*"):  # Dovecot may have moved it from new/ to cur/
            if path.stat().st_mode & 0o777 == 0:
                path.chmod(0o600)

    assert spooled_tags() == ["a", "c"]
    assert len(dovecot.fetch_all(USER, "Processed")) == 2
    assert load_checkpoint(runtime.sql, "support").last_uid == 3
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "UID 2 came without its body 2 times" in errors[0]


def make_unreadable(dovecot, text: bytes) -> Path:
    """Take read permission off the maildir file of the message containing `text`.

    Returns the INBOX maildir.
    """
    inbox = dovecot._host_path(
        dovecot.doveadm("mailbox", "path", "-u", USER, "INBOX").stdout.strip()
    )
    [path] = [
        f
        for f in [*inbox.glob("cur/*"), *inbox.glob("new/*")]
        if text in f.read_bytes()
    ]
    path.chmod(0)
    return inbox


def test_identical_bytes_already_spooled_are_counted_and_moved(
    server, pollers, runtime, caplog
):
    from tierdesk.storage import spool

    dovecot = server()
    for tag in "abc":
        dovecot.append(USER, message(tag))
    # a and b were spooled before a crash that also lost the checkpoint
    earlier = [
        spool.Arrival(raw, "imap", mailbox="support")
        for raw in dovecot.fetch_all(USER)[:2]
    ]
    spool.spool(runtime.sql, earlier, runtime.clock())

    with caplog.at_level(logging.INFO, logger="tierdesk.imap"):
        pollers(dovecot)
        wait_until(lambda: dovecot.list_uids(USER) == [], message="INBOX to be empty")

    assert spool_count() == 3
    assert len(dovecot.fetch_all(USER, "Processed")) == 3
    assert (
        "took 3 message(s): 1 new, 2 already spooled; checkpoint at UID 3"
        in caplog.text
    )
