"""OAuth2 mailboxes against a real Dovecot whose oauth2 passdb asks a loopback provider.

The provider (tests/support/oauth2_provider.py) is the token endpoint tierdesk
asks and the introspection endpoint Dovecot asks, so a token counts only if
the provider handed it out and still calls it active. SQLite only: the
database is not what these tests are about (tests/test_oauth2_tokens.py runs
the database-kept refresh token on both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from tierdesk.daemon.checks import run_checks
from tierdesk.daemon.config_transport import ImapMailboxConfig, OAuth2Config
from tierdesk.daemon.intake.imap import MailboxPoller
from tierdesk.daemon.intake.imap_client import close_politely, connect
from tierdesk.daemon.oauth2 import mailbox_tokens
from tierdesk.daemon.runtime import Runtime, open_runtime
from tierdesk.storage.models import Ticket

from tests.conftest import make_config
from tests.support.daemon_process import wait_until
from tests.support.imap_pollers import PASSWORD, USER, message, spool_count
from tests.support.oauth2_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, serve

SECRET_ENV = "TIERDESK_TEST_OAUTH2_SECRET"


@pytest.fixture
def runtime(tmp_path, sqlite_url) -> Iterator[Runtime]:
    rt = open_runtime(make_config(tmp_path, sqlite_url))
    yield rt
    rt.close()


@pytest.fixture
def provider(monkeypatch) -> Iterator[FakeProvider]:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    with serve(FakeProvider(user=USER)) as running:
        yield running


@pytest.fixture
def dovecot(make_dovecot, provider):
    server = make_dovecot(oauth2_introspection_url=provider.introspection_url)
    server.add_user(USER, PASSWORD)  # the userdb entry; the password is for our APPENDs
    return server


@pytest.fixture
def start_poller(runtime) -> Iterator:
    made: list[MailboxPoller] = []

    def start(config: ImapMailboxConfig) -> MailboxPoller:
        poller = MailboxPoller(config, runtime.sql, lambda: None)
        made.append(poller)
        poller.start()
        return poller

    yield start
    for poller in made:
        poller.stop()


def app_only_mailbox(dovecot, provider, **oauth2: object) -> ImapMailboxConfig:
    """A mailbox as Microsoft 365 app-only access reads it: client credentials."""
    return ImapMailboxConfig(
        name="support",
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=USER,
        poll_interval=1.0,
        timeout=10.0,
        oauth2=OAuth2Config(
            grant="client_credentials",
            client_id=CLIENT_ID,
            token_url=provider.token_url,
            client_secret_env=SECRET_ENV,
            **oauth2,  # type: ignore[arg-type]
        ),
    )


def connected_again(poller: MailboxPoller, rounds: int) -> None:
    wait_until(
        lambda: poller.state == "connected" and poller.rounds >= rounds,
        message="the poller to connect",
    )


def test_mailbox_with_client_credentials_is_polled_into_tickets(
    dovecot, provider, start_poller, runtime
):
    poller = start_poller(app_only_mailbox(dovecot, provider))
    connected_again(poller, 1)

    dovecot.append(USER, message("a"))
    wait_until(lambda: spool_count() == 1, message="the first mail to be spooled")
    dovecot.append(USER, message("b"))
    wait_until(lambda: spool_count() == 2, message="the second mail to be spooled")

    runtime.pipeline.drain()
    subjects = sorted(t.subject for t in Ticket.select())
    assert subjects == ["Printer a is offline", "Printer b is offline"]
    assert dovecot.list_uids(USER) == []  # moved to Processed
    # one token for the whole session, asked with the Microsoft 365 defaults
    [(_, form)] = [r for r in provider.requests if r[0] == "/token"]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "https://outlook.office365.com/.default"
    assert form["client_secret"] == CLIENT_SECRET
    assert provider.introspected == provider.issued()  # Dovecot checked that token


def test_oauthbearer_login_is_accepted_too(dovecot, provider):
    config = app_only_mailbox(dovecot, provider, mechanism="oauthbearer")

    close_politely(connect(config))

    assert provider.introspected == provider.issued()


def test_check_config_fetches_a_token_and_logs_in(
    dovecot, provider, tmp_path, sqlite_url
):
    config = replace(
        make_config(tmp_path, sqlite_url), imap=[app_only_mailbox(dovecot, provider)]
    )
    runtime = open_runtime(config)
    try:
        checks = run_checks(runtime)
    finally:
        runtime.close()

    [imap] = [c for c in checks if c.component.startswith("imap")]
    assert imap.ok, imap.detail
    assert provider.introspected == provider.issued()


def test_token_is_cached_across_logins_and_renewed_before_it_expires(dovecot, provider):
    provider.expires_in = 300
    now = [1000.0]
    config = app_only_mailbox(dovecot, provider)
    tokens = mailbox_tokens(config, None, clock=lambda: now[0])
    assert tokens is not None

    def log_in() -> None:
        close_politely(connect(config, tokens=tokens))

    for _ in range(3):
        log_in()
    now[0] += 300 - 60 - 1  # a second before the 60 s margin
    log_in()
    assert provider.token_requests() == 1
    now[0] += 1  # within a minute of expiring: renewed before use
    log_in()

    assert provider.token_requests() == 2
    first, second = provider.issued()
    assert provider.introspected == [first] * 4 + [second]


def test_revoked_token_is_logged_once_and_retried_until_the_provider_works_again(
    dovecot, provider, start_poller, caplog
):
    poller = start_poller(app_only_mailbox(dovecot, provider))
    connected_again(poller, 1)
    poller._worker.backoff.ceiling = 0.2  # the login back-off, shortened for the test
    caplog.set_level(logging.INFO, logger="tierdesk.imap")

    provider.revoke_all()
    provider.failing = "invalid_client"  # and the token endpoint refuses new ones
    dovecot.kick(USER)
    wait_until(lambda: provider.token_requests() >= 5, message="retries")
    provider.failing = None
    wait_until(lambda: poller.state == "connected", message="polling to resume")
    dovecot.append(USER, message("a"))
    wait_until(lambda: spool_count() == 1, message="mail after the outage")

    lines = [r.getMessage() for r in caplog.records]
    refused = [line for line in lines if "login refused" in line]
    no_token = [line for line in lines if "no OAuth2 access token" in line]
    assert len(refused) == 1  # Dovecot said no to the revoked token, once
    assert len(no_token) == 1  # then the endpoint failed on every retry: said once
    assert "invalid_client" in no_token[0]
    assert "check client_id and the client secret" in no_token[0]
    assert poller.failures == 0
    assert provider.introspected.count(provider.issued()[0]) == 2  # no blind retries
