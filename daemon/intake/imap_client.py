"""The IMAP client side of intake: logging in, fetching bodies, closing politely."""

from __future__ import annotations

import os
import ssl
from contextlib import suppress

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError
from tierdesk.daemon.config import ImapMailboxConfig
from tierdesk.daemon.config_load import read_secret
from tierdesk.daemon.oauth2 import AccessTokens, mailbox_tokens

NETWORK_ERRORS = (OSError, IMAPClientError, ssl.SSLError, EOFError)


class ConnectionDropped(Exception):
    """The server ended the session (BYE, or a dead socket during IDLE)."""


def connect(
    config: ImapMailboxConfig,
    environ: dict[str, str] | None = None,
    tokens: AccessTokens | None = None,
) -> IMAPClient:
    """A logged-in client for a mailbox; raises LoginError or a network error.

    A mailbox with `oauth2` logs in with `tokens` (its poller's, which cache them);
    the token is got first, so that without one no connection is made.
    """
    if tokens is None:
        tokens = mailbox_tokens(config, None, environ=environ)
    token = tokens.current() if tokens is not None else ""
    context = ssl.create_default_context()
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client = IMAPClient(
        config.host,
        port=config.effective_port,
        ssl=config.security == "tls",
        ssl_context=context,
        timeout=SocketTimeout(connect=min(15.0, config.timeout), read=config.timeout),
    )
    try:
        if config.security == "starttls":
            client.starttls(context)
        if tokens is not None:
            oauth2_login(client, config, tokens, token)
        else:
            password = read_secret(
                config.password,
                config.password_file,
                config.password_env,
                dict(os.environ) if environ is None else environ,
            )
            client.login(config.username, password or "")
    except BaseException:
        close_politely(client)
        raise
    return client


def oauth2_login(
    client: IMAPClient, config: ImapMailboxConfig, tokens: AccessTokens, token: str
) -> None:
    """Log in with SASL XOAUTH2 or OAUTHBEARER; a refused token is not offered again."""
    try:
        if tokens.config.mechanism == "oauthbearer":
            client.oauthbearer_login(config.username, token)
        else:
            client.oauth2_login(config.username, token)
    except LoginError:
        tokens.forget()  # revoked or expired early: the next attempt gets a new one
        raise


def close_politely(client: IMAPClient) -> None:
    """Log out politely; a dead connection is just shut."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may be dead already
        with suppress(Exception):
            client.shutdown()


def fetch_bodies(client: IMAPClient, batch: list[int]) -> dict[int, bytes]:
    """The bodies the server sent for `batch`; a UID it left out (or sent NIL) is absent."""
    fetched = client.fetch(batch, ["BODY.PEEK[]"])
    wanted = set(batch)  # a FETCH reply may carry unsolicited updates of other UIDs
    return {
        uid: data[b"BODY[]"]
        for uid, data in fetched.items()
        if uid in wanted and isinstance(data.get(b"BODY[]"), bytes)
    }


def error_text(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, IMAPClientError) and text.startswith("b'"):
        text = text[2:-1]
    return text or type(exc).__name__
