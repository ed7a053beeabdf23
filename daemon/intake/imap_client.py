"""The IMAP client side of intake: logging in, fetching bodies, closing politely."""

from __future__ import annotations

import os
import ssl
from contextlib import suppress

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError
from tierdesk.daemon.config import ImapMailboxConfig
from tierdesk.daemon.config_load import read_secret

NETWORK_ERRORS = (OSError, IMAPClientError, ssl.SSLError, EOFError)


class ConnectionDropped(Exception):
    """The server ended the session (BYE, or a dead socket during IDLE)."""


def connect(
    config: ImapMailboxConfig, environ: dict[str, str] | None = None
) -> IMAPClient:
    """A logged-in client for a mailbox; raises LoginError or a network error."""
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
