"""IMAP pollers under test against a real Dovecot: the fixtures and a few helpers.

Registered as a plugin by tests/conftest.py, so every IMAP test module gets
`server` and `pollers` without importing them.
"""

from __future__ import annotations

import pytest
from tierdesk.daemon.config import ImapMailboxConfig
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.storage.models import SpoolItem

from tests.conftest import fixture_bytes
from tests.support.daemon_process import wait_until
from tests.support.dovecot import make_dovecot  # noqa: F401 - the fixture `server` uses

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
