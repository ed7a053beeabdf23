"""The outgoing relay with SASL XOAUTH2: a real aiosmtpd relay that asks the loopback provider."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from tierdesk.daemon.config_transport import OAuth2Config, OutgoingConfig
from tierdesk.daemon.runtime import Runtime, open_runtime
from tierdesk.storage.models import OutboxItem

from tests.conftest import make_config
from tests.support.imap_pollers import USER, message
from tests.support.oauth2_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, serve
from tests.support.oauth2_relay import XOAuth2Relay, xoauth2_relay

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
def relay(provider) -> Iterator[XOAuth2Relay]:
    with xoauth2_relay(provider) as running:
        yield running


def relay_config(relay: XOAuth2Relay, provider: FakeProvider) -> OutgoingConfig:
    """The relay as Microsoft 365 app-only sending (SMTP.SendAsApp) reaches it."""
    return OutgoingConfig(
        transport="smtp",
        host="127.0.0.1",
        port=relay.port,  # type: ignore[attr-defined]
        timeout=5,
        username=USER,
        oauth2=OAuth2Config(
            grant="client_credentials",
            client_id=CLIENT_ID,
            token_url=provider.token_url,
            client_secret_env=SECRET_ENV,
        ),
    )


def due_now() -> None:
    OutboxItem.update(next_attempt_at=datetime.now(UTC).replace(tzinfo=None)).execute()


def test_relay_logs_in_with_xoauth2_and_reuses_the_token(
    runtime, ingest, provider, relay
):
    config = relay_config(relay, provider)
    ingest(message("a"))
    assert runtime.sender.deliver_due(config) == 1
    ingest(message("b"))
    assert runtime.sender.deliver_due(config) == 1

    mails = relay.wait_for(2)
    assert [m.rcpt_tos for m in mails] == [["alice@customer.example"]] * 2
    assert relay.logins == [(USER, True), (USER, True)]
    assert provider.token_requests() == 1  # cached across batches


def test_revoked_token_defers_mail_until_a_new_token_is_granted(
    runtime, ingest, provider, relay
):
    config = relay_config(relay, provider)
    ingest(message("a"))
    assert runtime.sender.deliver_due(config) == 1

    provider.revoke_all()
    provider.failing = "invalid_client"
    ingest(message("b"))
    assert runtime.sender.deliver_due(config) == 0  # the relay refuses the old token
    assert (
        "refused the login: 535"
        in OutboxItem.get(OutboxItem.state == "pending").last_error
    )
    due_now()
    assert runtime.sender.deliver_due(config) == 0  # and no new one is to be had
    error = OutboxItem.get(OutboxItem.state == "pending").last_error
    assert "no OAuth2 access token" in error and "invalid_client" in error

    provider.failing = None
    due_now()
    assert runtime.sender.deliver_due(config) == 1

    assert relay.logins == [(USER, True), (USER, False), (USER, True)]
    assert provider.token_requests() == 3
    assert len(relay.wait_for(2)) == 2
