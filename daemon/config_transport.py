"""The configuration of the mail transports: the listener, the relay and IMAP mailboxes.

Part of the one configuration object (`daemon.config.Config`); split out only
so that each file stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tierdesk.rules.yamlschema import ByteSize, Duration


def described(text: str, **kwargs: object) -> dict:
    """`field()` arguments that carry a setting's help text (the schema shows it)."""
    return {"metadata": {"help": text}, **kwargs}


@dataclass(frozen=True)
class SmtpListenConfig:
    """The SMTP/LMTP listener that takes mail in."""

    enabled: bool = field(**described("run the listener"), default=True)
    host: str = field(**described("address to listen on"), default="127.0.0.1")
    port: int = field(**described("TCP port"), default=2525)
    mode: Literal["smtp", "lmtp"] = field(
        **described("protocol spoken"), default="smtp"
    )
    max_message_size: ByteSize = field(
        **described("larger messages are refused with 552"),
        default=ByteSize(25 * 1024 * 1024),
    )
    hostname: str = field(
        **described("name in the greeting; default: the message-id domain"), default=""
    )
    timeout: Duration = field(
        **described(
            "a session with nothing from the client for this long gets 421 and is closed"
        ),
        default=Duration(300),
    )
    max_recipients: int = field(
        **described(
            "recipients accepted per message; further RCPT TO get 452 4.5.3 "
            "and the client sends them in another message"
        ),
        default=100,
    )
    max_sessions: int = field(
        **described(
            "sessions served at once; one more gets 421 4.7.0 and is closed, "
            "so its client retries later"
        ),
        default=100,
    )
    max_sessions_per_client: int = field(
        **described(
            "sessions served at once from one IP address (unix_socket has only "
            "max_sessions); keep it at or above your MTA's concurrency towards us "
            "(Postfix's default_destination_concurrency_limit is 20)"
        ),
        default=10,
    )
    unix_socket: Path | None = field(
        **described(
            "also listen on this Unix socket (mode 0660), e.g. for Postfix lmtp:unix:"
        ),
        default=None,
    )
    tls_cert: Path | None = field(
        **described("certificate (PEM chain) for STARTTLS"), default=None
    )
    tls_key: Path | None = field(
        **described("private key (PEM) for STARTTLS"), default=None
    )
    require_starttls: bool = field(
        **described("refuse mail before STARTTLS"), default=False
    )


GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth"
DEFAULT_SCOPES = {
    "client_credentials": "https://outlook.office365.com/.default",
    "refresh_token": "https://mail.google.com/",
}


@dataclass(frozen=True)
class OAuth2Config:
    """Where a mailbox or the relay gets OAuth2 access tokens (README: "Microsoft 365 and Gmail")."""

    grant: Literal["client_credentials", "refresh_token"] = field(
        **described(
            "client_credentials (Microsoft 365 app-only access) or refresh_token "
            "(Google; `tierdesk oauth2 authorize NAME` gets the refresh token)"
        )
    )
    client_id: str = field(**described("the application (client) id"))
    token_url: str | None = field(
        **described(
            "the token endpoint; Microsoft 365: https://login.microsoftonline.com/"
            "TENANT/oauth2/v2.0/token; default for refresh_token: Google's"
        ),
        default=None,
    )
    client_secret: str | None = field(
        **described("client secret inline (prefer client_secret_file)"), default=None
    )
    client_secret_file: Path | None = field(
        **described("file holding the client secret"), default=None
    )
    client_secret_env: str | None = field(
        **described("environment variable holding the client secret"), default=None
    )
    scope: str | None = field(
        **described(
            "scopes asked for, space-separated; default: "
            "https://outlook.office365.com/.default (client_credentials), "
            "https://mail.google.com/ (refresh_token)"
        ),
        default=None,
    )
    refresh_token_file: Path | None = field(
        **described(
            "file (mode 0600) holding the refresh token; unset: kept in the database"
        ),
        default=None,
    )
    device_authorization_url: str | None = field(
        **described(
            "device authorization endpoint (RFC 8628): `tierdesk oauth2 authorize` "
            "shows a code to enter on any device; Microsoft: https://login."
            "microsoftonline.com/TENANT/oauth2/v2.0/devicecode (Google's does not "
            "allow the Gmail scope)"
        ),
        default=None,
    )
    authorization_url: str | None = field(
        **described(
            "authorization endpoint for the browser sign-in (PKCE, redirect to a "
            "loopback port) when there is no device_authorization_url; default "
            "for refresh_token: Google's"
        ),
        default=None,
    )
    mechanism: Literal["xoauth2", "oauthbearer"] = field(
        **described("SASL mechanism (IMAP only; the relay always uses xoauth2)"),
        default="xoauth2",
    )
    refresh_margin: Duration = field(
        **described("an access token is renewed this long before it expires"),
        default=Duration(60),
    )
    timeout: Duration = field(
        **described("timeout of a request to the token endpoint"), default=Duration(30)
    )

    @property
    def effective_token_url(self) -> str:
        """The token endpoint, defaulting to Google's for refresh_token."""
        if self.token_url:
            return self.token_url
        return GOOGLE_TOKEN_URL if self.grant == "refresh_token" else ""

    @property
    def effective_scope(self) -> str:
        """The scopes asked for, defaulting by grant."""
        return self.scope if self.scope is not None else DEFAULT_SCOPES[self.grant]

    @property
    def effective_authorization_url(self) -> str:
        """The browser sign-in's endpoint, defaulting to Google's for refresh_token."""
        if self.authorization_url:
            return self.authorization_url
        google = self.grant == "refresh_token" and self.token_url is None
        return GOOGLE_AUTHORIZATION_URL if google else ""


@dataclass(frozen=True)
class OutgoingConfig:
    """How our mail leaves: into a local Maildir (development) or through an SMTP relay."""

    transport: Literal["maildir", "smtp"] = field(
        **described("maildir or smtp"), default="maildir"
    )
    maildir: Path | None = field(
        **described("Maildir for outgoing mail; default: data_dir/outgoing"),
        default=None,
    )
    host: str = field(**described("relay host"), default="localhost")
    port: int = field(**described("relay port"), default=25)
    security: Literal["none", "starttls", "tls"] = field(
        **described(
            "none, starttls (upgrade a plain connection) or tls (implicit, port 465)"
        ),
        default="none",
    )
    username: str | None = field(**described("relay login"), default=None)
    password: str | None = field(
        **described("relay password inline (prefer password_file)"), default=None
    )
    password_file: Path | None = field(
        **described("file holding the relay password"), default=None
    )
    password_env: str | None = field(
        **described("environment variable holding the relay password"), default=None
    )
    oauth2: OAuth2Config | None = field(
        **described("log in with SASL XOAUTH2 instead of a password"), default=None
    )
    timeout: Duration = field(
        **described("relay connection timeout"), default=Duration(30)
    )
    max_attempts: int = field(
        **described("temporary failures before a mail is marked failed"), default=12
    )
    retry_base: Duration = field(
        **described("first retry delay; it doubles each time"), default=Duration(30)
    )
    retry_max: Duration = field(
        **described("longest delay between retries"), default=Duration(3600)
    )


@dataclass(frozen=True)
class ImapMailboxConfig:
    """One IMAP mailbox to take mail from (Gmail-, Exchange- or Dovecot-hosted)."""

    name: str = field(
        **described("a short name of your choosing; logs and the checkpoint use it")
    )
    host: str = field(**described("IMAP server"))
    username: str = field(**described("login name"))
    port: int | None = field(
        **described("default 993 with tls, 143 otherwise"), default=None
    )
    security: Literal["tls", "starttls", "none"] = field(
        **described("tls (implicit, port 993), starttls, or none (only on loopback)"),
        default="tls",
    )
    password: str | None = field(
        **described("password inline (prefer password_file)"), default=None
    )
    password_file: Path | None = field(
        **described("file holding the password"), default=None
    )
    password_env: str | None = field(
        **described("environment variable holding the password"), default=None
    )
    oauth2: OAuth2Config | None = field(
        **described(
            "log in with OAuth2 (XOAUTH2 or OAUTHBEARER) instead of a password"
        ),
        default=None,
    )
    folder: str = field(**described("folder to take mail from"), default="INBOX")
    queue: str | None = field(
        **described("queue that tickets from this mailbox start in"), default=None
    )
    after: Literal["move", "flag"] = field(
        **described(
            "after a message is safely spooled: move it to processed_folder, or flag it \\Seen"
        ),
        default="move",
    )
    processed_folder: str = field(
        **described("where processed mail is moved (created if missing)"),
        default="Processed",
    )
    idle: bool = field(**described("use IDLE when the server offers it"), default=True)
    idle_renew: Duration = field(
        **described("re-issue IDLE this often (RFC 2177: under 29 min)"),
        default=Duration(600),
    )
    poll_interval: Duration = field(
        **described("how often to look without IDLE"), default=Duration(60)
    )
    timeout: Duration = field(**described("network timeout"), default=Duration(60))
    verify_tls: bool = field(**described("check the server certificate"), default=True)
    delivery_header: (
        Literal["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"] | None
    ) = field(
        **described(
            "the header your MTA adds with the envelope recipient (its topmost copy is "
            "trusted, copies below it are the sender's); unset: none, so agents cannot "
            "act through this mailbox"
        ),
        default=None,
    )
    trust_return_path: bool = field(
        **described("the topmost Return-Path is the envelope sender your MTA saw"),
        default=False,
    )
    authserv_id: str | None = field(
        **described("authserv-id of trusted Authentication-Results for this mailbox"),
        default=None,
    )
    missing_body_attempts: int = field(
        **described(
            "how many rounds a message the server lists but sends without its body "
            "is tried; then it is logged as an error and left in the folder, untouched"
        ),
        default=5,
    )

    @property
    def effective_port(self) -> int:
        """The port, defaulting by security mode."""
        return self.port or (993 if self.security == "tls" else 143)
