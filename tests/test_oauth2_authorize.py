"""`tierdesk oauth2 authorize NAME` (RFC 8628 device flow) and where refresh tokens live."""

from __future__ import annotations

import io
import stat
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from tierdesk.daemon.cli import main
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.config_transport import OAuth2Config
from tierdesk.daemon.oauth2 import TokenUnavailable, mailbox_tokens
from tierdesk.daemon.oauth2_admin import run_authorize
from tierdesk.daemon.oauth2_device import request_device_code, wait_for_tokens
from tierdesk.rules.yamlsource import SourceError
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from tests.support.oauth2_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    USER_CODE,
    FakeProvider,
    serve,
)

SECRET_ENV = "TIERDESK_TEST_OAUTH2_SECRET"


@pytest.fixture
def provider(monkeypatch) -> Iterator[FakeProvider]:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    with serve(FakeProvider()) as running:
        yield running


def gmail_config(
    tmp_path: Path,
    provider: FakeProvider,
    token_file: str | None,
    storage: str = "",
    sign_in: str = "device",
) -> Path:
    """A config whose mailbox 'gmail' logs in with a stored refresh token."""
    keep = f"      refresh_token_file: {token_file}\n" if token_file else ""
    if sign_in == "device":
        keep += f"      device_authorization_url: {provider.device_url}\n"
    else:
        keep += f"      authorization_url: {provider.authorization_url}\n"
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        (f"storage:\n  url: {storage}\n" if storage else "") + "imap:\n"
        "  - name: gmail\n"
        "    host: imap.gmail.com\n"
        "    username: support@example.com\n"
        "    oauth2:\n"
        "      grant: refresh_token\n"
        f"      client_id: {CLIENT_ID}\n"
        f"      client_secret_env: {SECRET_ENV}\n"
        f"      token_url: {provider.token_url}\n" + keep,
        encoding="utf-8",
    )
    return path


def test_authorize_walks_through_the_device_flow_and_stores_a_0600_file(
    tmp_path, provider, capsys
):
    provider.device_pending = 2  # the admin takes a while to type the code
    (tmp_path / "secrets").mkdir()
    path = gmail_config(tmp_path, provider, "secrets/gmail.token")

    assert main(["oauth2", "authorize", "gmail", "-c", str(path)]) == 0

    out = capsys.readouterr().out
    assert f"open {provider.url}/activate" in out and USER_CODE in out
    token_file = tmp_path / "secrets" / "gmail.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    [stored] = provider.refresh_tokens
    assert token_file.read_text() == stored + "\n"
    assert provider.token_requests("urn:ietf:params:oauth:grant-type:device_code") == 3

    # the daemon's side: the stored token gets access; a rotated one is saved back
    provider.rotate = True
    tokens = mailbox_tokens(load_config(path).imap[0], None)
    assert tokens is not None and tokens.current() in provider.issued()
    [rotated] = provider.refresh_tokens
    assert rotated != stored and token_file.read_text() == rotated + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_without_a_device_endpoint_the_browser_sign_in_stores_the_token(
    tmp_path, provider
):
    path = gmail_config(tmp_path, provider, "gmail.token", sign_in="browser")
    visited: list[str] = []

    def browser(url: str) -> None:
        """The admin's browser: signs in; the provider sends it back to tierdesk."""
        visited.append(url)
        threading.Thread(
            target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True
        ).start()

    out = io.StringIO()
    assert run_authorize(load_config(path), "gmail", out, out, open_page=browser) == 0

    asked = parse_qs(urlsplit(visited[0]).query)
    assert asked["scope"] == ["https://mail.google.com/"]
    assert asked["access_type"] == ["offline"]  # Google: or no refresh token
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["redirect_uri"][0].startswith("http://127.0.0.1:")
    token_file = tmp_path / "gmail.token"
    [stored] = provider.refresh_tokens
    assert token_file.read_text() == stored + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_device_flow_polls_at_the_interval_and_slows_down_when_asked(provider):
    provider.interval = 5
    provider.device_pending = 1
    provider.device_slow_down = 1
    block = OAuth2Config(
        grant="refresh_token",
        client_id=CLIENT_ID,
        token_url=provider.token_url,
        device_authorization_url=provider.device_url,
    )
    slept: list[float] = []

    code = request_device_code(block, CLIENT_SECRET)
    tokens = wait_for_tokens(block, CLIENT_SECRET, code, sleep=slept.append)

    assert slept == [5, 5, 10]  # pending: same pace; slow_down: five seconds more
    assert tokens["refresh_token"] in provider.refresh_tokens


def test_refresh_token_in_the_database_is_stored_and_rotated_there(
    tmp_path, provider, db_url
):
    path = gmail_config(tmp_path, provider, None, storage=db_url)
    config = load_config(path)
    out = io.StringIO()

    assert run_authorize(config, "gmail", out, out, sleep=lambda s: None) == 0
    assert "in the database" in out.getvalue()

    db = open_database(config.storage_url)
    sql = Sql(db)
    key = "oauth2_refresh_token:imap:gmail"
    [stored] = provider.refresh_tokens
    assert sql.scalar("SELECT value FROM meta WHERE key = ?", key) == stored
    provider.rotate = True
    now = [0.0]
    tokens = mailbox_tokens(config.imap[0], sql, clock=lambda: now[0])
    assert tokens is not None
    tokens.current()
    now[0] += 3600  # expired: the next one comes from the rotated refresh token
    tokens.current()
    [rotated] = provider.refresh_tokens
    assert sql.scalar("SELECT value FROM meta WHERE key = ?", key) == rotated
    db.close()


def test_a_refresh_token_file_others_may_read_is_refused(tmp_path, provider):
    path = gmail_config(tmp_path, provider, "gmail.token")
    token_file = tmp_path / "gmail.token"
    token_file.write_text(provider.add_refresh_token() + "\n")
    token_file.chmod(0o644)
    tokens = mailbox_tokens(load_config(path).imap[0], None)
    assert tokens is not None

    with pytest.raises(TokenUnavailable, match=f"chmod 600 {token_file}"):
        tokens.current()
    assert provider.token_requests() == 0


def test_oauth2_mailbox_needs_no_password_but_names_what_it_misses(tmp_path):
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        "imap:\n"
        "  - name: m365\n"
        "    host: outlook.office365.com\n"
        "    username: support@contoso.example\n"
        "    oauth2:\n"
        "      grant: client_credentials\n"
        "      client_id: 00000000-aaaa\n",
        encoding="utf-8",
    )

    with pytest.raises(SourceError) as refused:
        load_config(path, environ={})

    text = str(refused.value)
    assert "oauth2.token_url is required for client_credentials" in text
    assert "needs client_secret_file or client_secret_env" in text
    assert "give password_file" not in text
