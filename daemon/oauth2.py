"""OAuth2 access tokens for the IMAP mailboxes and the relay: fetched, cached, renewed.

One `AccessTokens` per mailbox (and one for the relay) lives as long as its
poller or sender. It asks the token endpoint (through authlib) only when it
holds no token or the one it holds expires within `refresh_margin`: client
credentials for Microsoft 365, the stored refresh token for Google. A new
refresh token the provider hands out is stored back. A failure raises
`TokenUnavailable`, a kind of `LoginError`: the IMAP poller logs it once per
change of state and retries with its login back-off, the sender defers mail
as for a relay that refused the login.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from imapclient.exceptions import LoginError
from tierdesk.daemon.config_load import read_secret
from tierdesk.daemon.config_transport import ImapMailboxConfig, OAuth2Config
from tierdesk.daemon.oauth2_store import RefreshTokenStore, StoreError, store_for
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk.oauth2")

DEFAULT_LIFETIME = 3600.0  # a token endpoint that does not say expires_in
RELAY = "outgoing"


class TokenUnavailable(LoginError):
    """No access token: the endpoint refused or is unreachable, or no refresh token is stored."""


def mailbox_owner(name: str) -> str:
    """The owner name of a mailbox's tokens (the relay's is `outgoing`)."""
    return f"imap:{name}"


def new_session(config: OAuth2Config, secret: str | None) -> OAuth2Session:
    """An authlib session for the token endpoint; the client secret goes in the body."""
    return OAuth2Session(
        config.client_id,
        secret,
        scope=config.effective_scope or None,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
    )


def refused(config: OAuth2Config, exc: Exception, hint: str = "") -> str:
    """What went wrong at the token endpoint, for a log line."""
    url = config.effective_token_url
    if isinstance(exc, AuthlibBaseError):
        text = f"{exc.error}: {exc.description}" if exc.description else exc.error
        return f"the token endpoint {url} refused: {text}{hint}"
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the token endpoint {url}: {exc}"
    return f"the token endpoint {url} sent no usable token: {exc}"


TOKEN_ERRORS = (AuthlibBaseError, requests.RequestException, ValueError, KeyError)


class AccessTokens:
    """The access token of one mailbox or the relay, renewed before it expires."""

    def __init__(
        self,
        config: OAuth2Config,
        owner: str,
        store: RefreshTokenStore | None,
        environ: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.owner = owner
        self.store = store
        self.environ = dict(os.environ) if environ is None else environ
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        # a rotated refresh token that could not be stored stands in for the stored one
        self._unsaved: tuple[str, str] | None = None

    def current(self) -> str:
        """A token valid for at least `refresh_margin`; raises TokenUnavailable."""
        with self._lock:
            if self._token is None or self.clock() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = self.clock() + self._usable_for(lifetime)
            return self._token

    def forget(self) -> None:
        """The server refused the token (revoked?): the next `current` asks for a new one."""
        with self._lock:
            self._token = None

    def _usable_for(self, lifetime: float) -> float:
        margin = self.config.refresh_margin
        # a lifetime within the margin would make every login ask for a new token
        return lifetime - margin if lifetime > margin else lifetime / 2

    def _fetch(self) -> tuple[str, float]:
        config = self.config
        url = config.effective_token_url
        try:
            secret = read_secret(
                config.client_secret,
                config.client_secret_file,
                config.client_secret_env,
                self.environ,
            )
        except OSError as exc:
            raise TokenUnavailable(
                f"cannot read the client secret {config.client_secret_file}: "
                f"{exc.strerror}"
            ) from exc
        refresh_token = self._refresh_token() if config.grant == "refresh_token" else ""
        session = new_session(config, secret)
        try:
            if config.grant == "client_credentials":
                token = session.fetch_token(
                    url, grant_type="client_credentials", timeout=config.timeout
                )
            else:
                token = session.refresh_token(
                    url, refresh_token=refresh_token, timeout=config.timeout
                )
            access = str(token["access_token"])
            lifetime = float(token.get("expires_in") or DEFAULT_LIFETIME)
        except TOKEN_ERRORS as exc:
            raise TokenUnavailable(refused(config, exc, self._hint(exc))) from exc
        finally:
            session.close()
        rotated = token.get("refresh_token")
        if config.grant == "refresh_token" and rotated and rotated != refresh_token:
            self._keep(refresh_token, str(rotated))
        log.debug("%s: new access token, valid for %.0fs", self.owner, lifetime)
        return access, lifetime

    def _refresh_token(self) -> str:
        """The stored refresh token (or the rotated one that could not be stored)."""
        if self.store is None:
            raise TokenUnavailable(
                f"{self.owner}: the refresh token is kept in the database, "
                "which is not open here"
            )
        try:
            stored = self.store.load()
        except StoreError as exc:
            raise TokenUnavailable(str(exc)) from exc
        if self._unsaved is not None and stored == self._unsaved[0]:
            return self._unsaved[1]
        if not stored:
            raise TokenUnavailable(
                f"no refresh token in {self.store.where}: run "
                f"`tierdesk oauth2 authorize {self._name}`"
            )
        return stored

    def _keep(self, old: str, new: str) -> None:
        """Store a rotated refresh token; if that fails, hold it in memory and say so."""
        assert self.store is not None
        try:
            self.store.save(new)
        except StoreError as exc:
            self._unsaved = (old, new)
            log.error(
                "%s: the provider sent a new refresh token that cannot be stored "
                "(%s); it is used until the daemon stops, after which run "
                "`tierdesk oauth2 authorize %s`",
                self.owner,
                exc,
                self._name,
            )
            return
        self._unsaved = None
        log.info("%s: stored the new refresh token in %s", self.owner, self.store.where)

    def _hint(self, exc: Exception) -> str:
        error = getattr(exc, "error", "")
        if error == "invalid_grant" and self.config.grant == "refresh_token":
            return (
                " (the refresh token was revoked or has expired: run "
                f"`tierdesk oauth2 authorize {self._name}`)"
            )
        if error in ("invalid_client", "unauthorized_client"):
            return " (check client_id and the client secret)"
        return ""

    @property
    def _name(self) -> str:
        return self.owner.removeprefix("imap:")


def mailbox_tokens(
    mailbox: ImapMailboxConfig, sql: Sql | None, **kwargs: Any
) -> AccessTokens | None:
    """The tokens of a mailbox that logs in with OAuth2, else None."""
    if mailbox.oauth2 is None:
        return None
    return tokens_for(mailbox_owner(mailbox.name), mailbox.oauth2, sql, **kwargs)


def tokens_for(
    owner: str, config: OAuth2Config, sql: Sql | None, **kwargs: Any
) -> AccessTokens:
    """Tokens for `owner`, with its refresh token kept where the config says."""
    store = None
    if config.grant == "refresh_token" and (sql or config.refresh_token_file):
        store = store_for(owner, config, sql)
    return AccessTokens(config, owner, store, **kwargs)


class RelayTokens:
    """The relay's tokens for the sender's life; new ones when a reload changes the settings."""

    def __init__(self, sql: Sql | None) -> None:
        self.sql = sql
        self._held: AccessTokens | None = None

    def get(self, config: OAuth2Config | None) -> AccessTokens | None:
        """The tokens for these settings (None without oauth2)."""
        if config is None:
            return None
        if self._held is None or self._held.config != config:
            self._held = tokens_for(RELAY, config, self.sql)
        return self._held


def xoauth2_response(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (smtplib base64-encodes it itself)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
