"""IMAP mailboxes in the metrics: up, their state, and their last good round (real Dovecot)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, generate_latest
from tierdesk.daemon.metrics_collect import MailboxCollector

from tests.support.daemon_process import wait_until
from tests.support.imap_pollers import connected
from tests.support.ports import free_port
from tests.support.scrape import parse, value


def test_a_connected_mailbox_is_up_with_its_last_round_and_a_dead_one_is_down(
    server, pollers
):
    before = time.time()
    dovecot = server()
    good = pollers(dovecot)
    dead = pollers(dovecot, name="archive", port=free_port())  # nothing listens
    registry = CollectorRegistry()
    registry.register(MailboxCollector(lambda: [good, dead]))
    connected(good)
    wait_until(lambda: dead.state == "unreachable", message="the dead mailbox noticed")

    m = parse(generate_latest(registry).decode())

    assert value(m, "tierdesk_imap_mailbox_up", mailbox="support") == 1
    assert value(m, "tierdesk_imap_mailbox_up", mailbox="archive") == 0
    assert (
        value(m, "tierdesk_imap_mailbox_state", mailbox="archive", state="unreachable")
        == 1
    )
    assert (
        value(m, "tierdesk_imap_mailbox_state", mailbox="archive", state="connected")
        == 0
    )
    last = value(m, "tierdesk_imap_last_success_timestamp_seconds", mailbox="support")
    assert before <= last <= time.time()
    assert (
        value(m, "tierdesk_imap_last_success_timestamp_seconds", mailbox="archive")
        is None
    )
