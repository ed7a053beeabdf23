"""IMAP intake against a real Dovecot: IDLE, polling, moving, checkpoints, outages."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from tierdesk.storage.imap_state import Checkpoint, save_checkpoint
from tierdesk.storage.models import SpoolItem, Ticket

from tests.support.daemon_process import wait_until
from tests.support.imap_pollers import (
    USER,
    connected,
    message,
    spool_count,
)
from tests.support.ports import free_port


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
