"""IMAP intake against a real Dovecot: IDLE, polling, moving, checkpoints, outages."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from tests.conftest import fixture_bytes
from tests.support.daemon_process import wait_until
from tests.support.dovecot import make_dovecot  # noqa: F401 - fixture
from tests.support.relay_sink import free_port
from tierdesk.daemon.config import ImapMailboxConfig
from tierdesk.daemon.intake import imap
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.storage.imap_state import Checkpoint, load_checkpoint, save_checkpoint
from tierdesk.storage.models import ImapMissingBody, SpoolItem, Ticket

USER = "support"
PASSWORD = "s3cret-imap"


def message(tag: str) -> bytes:
    raw = fixture_bytes("flow/new_request.eml").replace(
        b"request-1@", f"request-{tag}@".encode()
    )
    return raw.replace(
        b"Printer on floor 3 is offline", f"Printer {tag} is offline".encode()
    )


@pytest.fixture
def server(make_dovecot):  # noqa: F811 - the fixture imported above
    def start(**kwargs):
        s = make_dovecot(**kwargs)
        s.add_user(USER, PASSWORD)
        return s

    return start


@pytest.fixture
def pollers(runtime, monkeypatch):
    monkeypatch.setenv("TIERDESK_TEST_IMAP_PW", PASSWORD)
    made: list[MailboxPoller] = []

    def make(dovecot, **overrides) -> MailboxPoller:
        settings = {
            "name": "support",
            "host": dovecot.host,
            "port": dovecot.port,
            "security": "none",
            "username": USER,
            "password_env": "TIERDESK_TEST_IMAP_PW",
            "poll_interval": 1.0,
            "timeout": 10.0,
            **overrides,
        }
        poller = MailboxPoller(ImapMailboxConfig(**settings), runtime.sql, lambda: None)
        made.append(poller)
        poller.start()
        return poller

    yield make
    for poller in made:
        poller.stop()


def spool_count() -> int:
    return SpoolItem.select().count()


def connected(poller: MailboxPoller, rounds: int = 1) -> None:
    wait_until(
        lambda: poller.state == "connected" and poller.rounds >= rounds,
        message="the poller to connect",
    )


def test_idle_picks_up_new_mail_and_moves_it_to_processed(server, pollers, runtime):
    dovecot = server()
    poller = pollers(dovecot)
    connected(poller)

    dovecot.append(USER, message("a"))

    wait_until(
        lambda: spool_count() == 1, timeout=10, message="the message to be spooled"
    )
    wait_until(lambda: dovecot.list_uids(USER) == [], message="INBOX to be empty")
    assert len(dovecot.fetch_all(USER, "Processed")) == 1
    runtime.pipeline.drain()
    assert Ticket.get().subject == "Printer a is offline"
    item = SpoolItem.get()
    assert (item.source, item.mailbox) == ("imap", "support")


def test_tickets_from_a_mailbox_start_in_its_queue(server, pollers, runtime):
    from dataclasses import replace

    from tierdesk.daemon.config import ImapMailboxConfig as Mailbox
    from tierdesk.daemon.snapshot import build_snapshot

    config = replace(
        runtime.config,
        imap=[
            Mailbox(
                name="support", host="x", username="u", password="p", queue="billing"
            )
        ],
    )
    runtime.live.swap(
        build_snapshot(
            config, runtime.snapshot.rules, runtime.instance_id, runtime.snapshot.keys
        )
    )
    dovecot = server()
    pollers(dovecot)
    dovecot.append(USER, message("a"))

    wait_until(lambda: spool_count() == 1, message="the message to be spooled")
    runtime.pipeline.drain()
    assert Ticket.get().queue == "billing"


def test_without_idle_the_scheduler_poll_picks_up_mail(server, pollers):
    dovecot = server(capabilities_without=("IDLE",))
    poller = pollers(dovecot)
    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 30})
    scheduler.add_job(poller.wake, "interval", seconds=1)
    scheduler.start()
    try:
        connected(poller)
        dovecot.append(USER, message("a"))
        wait_until(
            lambda: spool_count() == 1,
            timeout=10,
            message="the polled message to be spooled",
        )
    finally:
        scheduler.shutdown(wait=False)


def test_server_without_move_gets_copy_and_expunge(server, pollers):
    dovecot = server(capabilities_without=("MOVE",))
    dovecot.append(USER, message("a"))
    dovecot.append(USER, message("b"))

    pollers(dovecot)

    wait_until(lambda: spool_count() == 2, message="both messages to be spooled")
    wait_until(lambda: dovecot.list_uids(USER) == [], message="INBOX to be expunged")
    assert len(dovecot.fetch_all(USER, "Processed")) == 2


def test_flag_mode_leaves_mail_in_place_and_a_restart_resumes_from_the_checkpoint(
    server, pollers
):
    dovecot = server()
    dovecot.append(USER, message("a"))
    dovecot.append(USER, message("b"))
    first = pollers(dovecot, after="flag")
    wait_until(lambda: spool_count() == 2, message="two messages spooled")
    first.stop()

    dovecot.append(USER, message("c"))
    second = pollers(dovecot, after="flag")
    wait_until(lambda: spool_count() == 3, message="the third message spooled")
    connected(second)

    assert spool_count() == 3  # a and b were not taken twice
    assert len(dovecot.list_uids(USER)) == 3
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        assert all(
            b"\\Seen" in f[b"FLAGS"]
            for f in client.fetch(client.search("ALL"), ["FLAGS"]).values()
        )


def test_message_spooled_before_a_crash_is_moved_not_taken_again(
    server, pollers, runtime
):
    from tierdesk.storage import spool

    dovecot = server()
    uid = dovecot.append(USER, message("a"))
    # the state a crash leaves between the spool commit and the MOVE
    raw = dovecot.fetch_all(USER)[0]
    now = runtime.clock()
    spool.spool(runtime.sql, [spool.Arrival(raw, "imap", mailbox="support")], now)
    with runtime.db.atomic():
        save_checkpoint(
            runtime.sql, "support", Checkpoint(dovecot.uidvalidity(USER), uid), now
        )

    poller = pollers(dovecot)
    connected(poller)

    wait_until(
        lambda: dovecot.list_uids(USER) == [], message="the leftover to be moved"
    )
    assert spool_count() == 1


def test_uidvalidity_change_rereads_the_folder_without_duplicates(
    server, pollers, caplog
):
    dovecot = server()
    dovecot.append(USER, message("a"))
    dovecot.append(USER, message("b"))
    poller = pollers(dovecot, after="flag")
    wait_until(lambda: spool_count() == 2, message="two messages spooled")

    with caplog.at_level(logging.WARNING, logger="tierdesk.imap"):
        dovecot.reset_uidvalidity(USER)
        dovecot.append(USER, message("c"))
        wait_until(
            lambda: spool_count() == 3,
            timeout=20,
            message="the new message after the reset",
        )
        connected(poller)

    assert spool_count() == 3
    assert "UIDVALIDITY changed" in caplog.text


def test_server_restart_mid_session_is_survived(server, pollers):
    dovecot = server()
    poller = pollers(dovecot)
    connected(poller)

    dovecot.restart()
    dovecot.append(USER, message("a"))

    wait_until(
        lambda: spool_count() == 1, timeout=30, message="the message after the restart"
    )


def test_dropped_idle_connection_is_noticed_not_spun_on(server, pollers):
    dovecot = server()
    poller = pollers(dovecot)
    connected(poller)

    dovecot.kick(USER)
    wait_until(
        lambda: poller.failures >= 1 or poller.state != "connected",
        timeout=10,
        message="the drop",
    )
    dovecot.append(USER, message("a"))

    wait_until(
        lambda: spool_count() == 1, timeout=30, message="the message after reconnecting"
    )
    assert poller.failures <= 2


def test_wrong_password_is_a_clear_error_naming_the_mailbox(
    server, pollers, monkeypatch, caplog
):
    dovecot = server()
    monkeypatch.setenv("TIERDESK_TEST_BAD_PW", "wrong")

    with caplog.at_level(logging.ERROR, logger="tierdesk.imap"):
        poller = pollers(dovecot, password_env="TIERDESK_TEST_BAD_PW")
        wait_until(
            lambda: poller.state == "login-refused",
            timeout=10,
            message="the login refusal",
        )
        time.sleep(3)

    refusals = [r for r in caplog.records if "login refused" in r.getMessage()]
    assert len(refusals) == 1  # logged once per change of state, not per attempt
    assert "mailbox 'support'" in refusals[0].getMessage()
    assert poller.failures <= 3  # backing off, not hammering


def test_dead_server_is_retried_with_backoff(pollers):
    class Nowhere:
        host = "127.0.0.1"
        port = free_port()

    poller = pollers(Nowhere)

    wait_until(
        lambda: poller.state == "unreachable",
        timeout=10,
        message="the outage to be noticed",
    )
    time.sleep(2.5)
    assert poller.failures <= 3


@pytest.mark.parametrize("without", [(), ("IDLE",)], ids=["idle", "polling"])
def test_stop_ends_the_session_and_its_named_thread(server, pollers, without):
    # polling waits up to 30s for the next poll: only the stop may end that wait here
    dovecot = server(capabilities_without=without)
    poller = pollers(dovecot)
    connected(poller)
    assert "tierdesk-imap-support" in [t.name for t in threading.enumerate()]

    poller.stop(timeout=10)

    assert "tierdesk-imap-support" not in [t.name for t in threading.enumerate()]
    wait_until(lambda: dovecot.sessions(USER) == [], message="the logout")


# -- messages whose body does not come ---------------------------------------------------


@pytest.fixture
def fetch_replies(monkeypatch):
    """Edits applied to every FETCH reply the poller's own connection gets.

    Only for what a real server cannot be made to do on cue; each test says why.
    """
    edits: list = []
    real_connect = imap.connect

    def connect(config, environ=None):
        client = real_connect(config, environ)
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
