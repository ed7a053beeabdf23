"""The configuration: one YAML file loaded once into a typed, validated object.

Each setting is declared once, here, with its default and help text; the
dataclasses are the schema (see rules.yamlschema). With no file at all the
embedded default runs with zero external services: SQLite and a Maildir under
./tierdesk-data, SMTP on 127.0.0.1:2525 for support@localhost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tierdesk.parsers.parsed import ParseLimits
from tierdesk.rules.yamlschema import ByteSize, Duration

CONFIG_ENV = "TIERDESK_CONFIG"
DEFAULT_DATA_DIR = Path("tierdesk-data")


def _help(text: str, **kwargs: object) -> dict:
    return {"metadata": {"help": text}, **kwargs}


@dataclass(frozen=True)
class StorageConfig:
    """Where tickets, messages, the spool and the outbox live."""

    url: str | None = field(
        **_help(
            "sqlite:///path/to/tierdesk.db or postgresql://user@host/db; default: SQLite in data_dir"
        ),
        default=None,
    )


@dataclass(frozen=True)
class SupportConfig:
    """Who we are to customers."""

    addresses: list[str] = field(
        **_help(
            "support addresses we accept mail for; the first one is the sender of our mail"
        ),
        default_factory=lambda: ["support@localhost"],
    )
    display_name: str = field(
        **_help("display name on outgoing mail"), default="Support"
    )
    subject_tag: str = field(
        **_help("tag of the subject token, e.g. ACME for [ACME #123]"),
        default="TIERDESK",
    )
    domain: str | None = field(
        **_help(
            "domain for our Message-IDs; default: the first support address's domain"
        ),
        default=None,
    )
    default_language: str = field(
        **_help("language of templates when nothing else says"), default="en"
    )
    languages: list[str] = field(
        **_help("template languages on offer"), default_factory=lambda: ["en", "ru"]
    )
    auto_replies_per_hour: int = field(
        **_help(
            "most automatic mails (acks, status mails, answers to commands) one address gets per hour"
        ),
        default=10,
    )
    auto_replies_per_day: int = field(
        **_help("... and per day (counted across restarts and daemons)"), default=40
    )
    reopen_within: Duration = field(
        **_help(
            "a customer reply within this time of resolving reopens the ticket; later, it opens a new one"
        ),
        default=Duration(30 * 86400),
    )
    own_list_ids: list[str] = field(
        **_help(
            "List-Ids of our own lists in front of the support address (a Google Group, "
            "a Mailman list), e.g. support.example.com: their mail counts as its "
            "author's, not as list mail"
        ),
        default_factory=list,
    )
    status_words: list[str] = field(
        **_help(
            "a new mail whose subject (or first line) is one of these gets the list of the sender's tickets"
        ),
        default_factory=lambda: ["status", "статус"],
    )
    secret_file: Path | None = field(
        **_help(
            "file with the secret that signs reply addresses; default: one kept in the database"
        ),
        default=None,
    )
    secret_env: str | None = field(
        **_help("environment variable with that secret instead"), default=None
    )

    @property
    def sender(self) -> str:
        """The address our mail comes from."""
        return self.addresses[0]

    @property
    def message_id_domain(self) -> str:
        """The right-hand side of every Message-ID we mint."""
        return self.domain or self.sender.rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class TrustConfig:
    """What tierdesk believes about a mail, and who may act on a ticket."""

    authserv_id: str | None = field(
        **_help(
            "authserv-id of the Authentication-Results your own MTA adds (e.g. mx.acme.example); "
            "unset: no such header is trusted"
        ),
        default=None,
    )
    require_verified_sender: bool = field(
        **_help(
            "automatic mail goes to a sender only when the envelope sender matches From:, "
            "or authserv_id says DMARC/SPF pass for its domain"
        ),
        default=True,
    )
    trusted_envelope_senders: list[str] = field(
        **_help(
            "envelope senders (patterns like *@relay.acme.example) that vouch for From: "
            "(your own relay)"
        ),
        default_factory=list,
    )
    strangers: Literal["new_ticket", "hold", "append"] = field(
        **_help(
            "mail threaded to a ticket from someone who is not its participant: open a new "
            "ticket that refers to it, hold it for an agent, or append it marked unverified"
        ),
        default="new_ticket",
    )
    participants_domain: bool = field(
        **_help(
            "everyone at the requester's domain is a participant of their tickets "
            "(public mail domains such as gmail.com never count)"
        ),
        default=True,
    )
    reply_address_max_age: Duration = field(
        **_help("how long an agent's or vendor's signed address may act"),
        default=Duration(90 * 86400),
    )
    key_grace: Duration = field(
        **_help("how long addresses signed with a retired key still act"),
        default=Duration(30 * 86400),
    )


@dataclass(frozen=True)
class LimitsConfig:
    """How much mail any one address gets, and how many tickets it may open."""

    notices_per_hour: int = field(
        **_help("most notices (new ticket, reply, note, SLA) one agent gets per hour"),
        default=60,
    )
    notices_per_day: int = field(**_help("... and per day"), default=500)
    relayed_per_hour: int = field(
        **_help("most agent answers relayed to one customer per hour"), default=20
    )
    relayed_per_day: int = field(**_help("... and per day"), default=100)
    new_tickets_per_hour: int = field(
        **_help(
            "most tickets one sender opens per hour; more mail joins their latest ticket"
        ),
        default=5,
    )
    bounce_threshold: float = field(
        **_help(
            "bounce score (hard 1.0, soft 0.5, at most one a day) past which an address "
            "gets no automatic mail until it writes to us again"
        ),
        default=3.0,
    )
    bounce_stale_after: Duration = field(
        **_help("a score with no bounce for this long starts again from zero"),
        default=Duration(7 * 86400),
    )
    repeats_are_robots: int = field(
        **_help(
            "the same text from one address this many times within repeat_window is "
            "treated as automatic (breaks loops with robots that set no header)"
        ),
        default=3,
    )
    repeat_window: Duration = field(
        **_help("the window for repeats_are_robots"), default=Duration(86400)
    )


@dataclass(frozen=True)
class SmtpListenConfig:
    """The SMTP/LMTP listener that takes mail in."""

    enabled: bool = field(**_help("run the listener"), default=True)
    host: str = field(**_help("address to listen on"), default="127.0.0.1")
    port: int = field(**_help("TCP port"), default=2525)
    mode: Literal["smtp", "lmtp"] = field(**_help("protocol spoken"), default="smtp")
    max_message_size: ByteSize = field(
        **_help("larger messages are refused with 552"),
        default=ByteSize(25 * 1024 * 1024),
    )
    hostname: str = field(
        **_help("name in the greeting; default: the message-id domain"), default=""
    )
    timeout: Duration = field(
        **_help(
            "a session with nothing from the client for this long gets 421 and is closed"
        ),
        default=Duration(300),
    )
    max_recipients: int = field(
        **_help(
            "recipients accepted per message; further RCPT TO get 452 4.5.3 "
            "and the client sends them in another message"
        ),
        default=100,
    )
    max_sessions: int = field(
        **_help(
            "sessions served at once; one more gets 421 4.7.0 and is closed, "
            "so its client retries later"
        ),
        default=100,
    )
    max_sessions_per_client: int = field(
        **_help(
            "sessions served at once from one IP address (unix_socket has only "
            "max_sessions); keep it at or above your MTA's concurrency towards us "
            "(Postfix's default_destination_concurrency_limit is 20)"
        ),
        default=10,
    )
    unix_socket: Path | None = field(
        **_help(
            "also listen on this Unix socket (mode 0660), e.g. for Postfix lmtp:unix:"
        ),
        default=None,
    )
    tls_cert: Path | None = field(
        **_help("certificate (PEM chain) for STARTTLS"), default=None
    )
    tls_key: Path | None = field(
        **_help("private key (PEM) for STARTTLS"), default=None
    )
    require_starttls: bool = field(
        **_help("refuse mail before STARTTLS"), default=False
    )


@dataclass(frozen=True)
class OutgoingConfig:
    """How our mail leaves: into a local Maildir (development) or through an SMTP relay."""

    transport: Literal["maildir", "smtp"] = field(
        **_help("maildir or smtp"), default="maildir"
    )
    maildir: Path | None = field(
        **_help("Maildir for outgoing mail; default: data_dir/outgoing"), default=None
    )
    host: str = field(**_help("relay host"), default="localhost")
    port: int = field(**_help("relay port"), default=25)
    security: Literal["none", "starttls", "tls"] = field(
        **_help(
            "none, starttls (upgrade a plain connection) or tls (implicit, port 465)"
        ),
        default="none",
    )
    username: str | None = field(**_help("relay login"), default=None)
    password: str | None = field(
        **_help("relay password inline (prefer password_file)"), default=None
    )
    password_file: Path | None = field(
        **_help("file holding the relay password"), default=None
    )
    password_env: str | None = field(
        **_help("environment variable holding the relay password"), default=None
    )
    timeout: Duration = field(**_help("relay connection timeout"), default=Duration(30))
    max_attempts: int = field(
        **_help("temporary failures before a mail is marked failed"), default=12
    )
    retry_base: Duration = field(
        **_help("first retry delay; it doubles each time"), default=Duration(30)
    )
    retry_max: Duration = field(
        **_help("longest delay between retries"), default=Duration(3600)
    )


@dataclass(frozen=True)
class ImapMailboxConfig:
    """One IMAP mailbox to take mail from (Gmail-, Exchange- or Dovecot-hosted)."""

    name: str = field(
        **_help("a short name of your choosing; logs and the checkpoint use it")
    )
    host: str = field(**_help("IMAP server"))
    username: str = field(**_help("login name"))
    port: int | None = field(
        **_help("default 993 with tls, 143 otherwise"), default=None
    )
    security: Literal["tls", "starttls", "none"] = field(
        **_help("tls (implicit, port 993), starttls, or none (only on loopback)"),
        default="tls",
    )
    password: str | None = field(
        **_help("password inline (prefer password_file)"), default=None
    )
    password_file: Path | None = field(
        **_help("file holding the password"), default=None
    )
    password_env: str | None = field(
        **_help("environment variable holding the password"), default=None
    )
    folder: str = field(**_help("folder to take mail from"), default="INBOX")
    queue: str | None = field(
        **_help("queue that tickets from this mailbox start in"), default=None
    )
    after: Literal["move", "flag"] = field(
        **_help(
            "after a message is safely spooled: move it to processed_folder, or flag it \\Seen"
        ),
        default="move",
    )
    processed_folder: str = field(
        **_help("where processed mail is moved (created if missing)"),
        default="Processed",
    )
    idle: bool = field(**_help("use IDLE when the server offers it"), default=True)
    idle_renew: Duration = field(
        **_help("re-issue IDLE this often (RFC 2177: under 29 min)"),
        default=Duration(600),
    )
    poll_interval: Duration = field(
        **_help("how often to look without IDLE"), default=Duration(60)
    )
    timeout: Duration = field(**_help("network timeout"), default=Duration(60))
    verify_tls: bool = field(**_help("check the server certificate"), default=True)
    delivery_header: (
        Literal["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"] | None
    ) = field(
        **_help(
            "the header your MTA adds with the envelope recipient (its topmost copy is "
            "trusted, copies below it are the sender's); unset: none, so agents cannot "
            "act through this mailbox"
        ),
        default=None,
    )
    trust_return_path: bool = field(
        **_help("the topmost Return-Path is the envelope sender your MTA saw"),
        default=False,
    )
    authserv_id: str | None = field(
        **_help("authserv-id of trusted Authentication-Results for this mailbox"),
        default=None,
    )
    missing_body_attempts: int = field(
        **_help(
            "how many rounds a message the server lists but sends without its body "
            "is tried; then it is logged as an error and left in the folder, untouched"
        ),
        default=5,
    )

    @property
    def effective_port(self) -> int:
        """The port, defaulting by security mode."""
        return self.port or (993 if self.security == "tls" else 143)


@dataclass(frozen=True)
class PipelineConfig:
    """How spooled mail is processed."""

    parse_workers: int = field(
        **_help(
            "worker processes that parse mail (another core, a hard time limit); "
            "0 parses in-process, where the limit stops Python code but not one C call"
        ),
        default=1,
    )
    parse_timeout: Duration = field(
        **_help(
            "a message whose parsing takes longer is quarantined (per message, "
            "from when a worker starts on it; the others are parsed anyway)"
        ),
        default=Duration(60),
    )
    max_header_fields: int = field(
        **_help(
            "header fields read of a message, the first ones; the rest are left out"
        ),
        default=1000,
    )
    max_header_length: ByteSize = field(
        **_help("characters read of one header field; a longer one is cut"),
        default=ByteSize(64 * 1024),
    )
    max_mime_parts: int = field(
        **_help("MIME parts read of a message, the message itself included"),
        default=1000,
    )
    max_mime_depth: int = field(
        **_help("levels of MIME nesting read; deeper parts are left out"), default=50
    )
    max_decoded_size: ByteSize = field(
        **_help(
            "decoded text and attachments kept of a message; text past it is cut, "
            "attachments past it are left out"
        ),
        default=ByteSize(25 * 1024 * 1024),
    )

    @property
    def parse_limits(self) -> ParseLimits:
        """The caps as `parse_mail` takes them (each at least 1)."""
        return ParseLimits(
            header_fields=max(1, self.max_header_fields),
            header_length=max(1, self.max_header_length),
            parts=max(1, self.max_mime_parts),
            depth=max(1, self.max_mime_depth),
            decoded_size=max(1, self.max_decoded_size),
        )


@dataclass(frozen=True)
class RetentionConfig:
    """How long processed mail keeps its raw bytes (`tierdesk purge`; the daemon never purges)."""

    raw_mail_after: Duration = field(
        **_help(
            "`tierdesk purge` removes the raw bytes of mail processed or dropped longer "
            "ago than this (the row, its metadata and the ticket stay)"
        ),
        default=Duration(90 * 86400),
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration of one tierdesk instance."""

    data_dir: Path = field(
        **_help("state directory (SQLite database, outgoing Maildir)"),
        default=DEFAULT_DATA_DIR,
    )
    storage: StorageConfig = field(default_factory=StorageConfig)
    support: SupportConfig = field(default_factory=SupportConfig)
    smtp: SmtpListenConfig = field(default_factory=SmtpListenConfig)
    outgoing: OutgoingConfig = field(default_factory=OutgoingConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    imap: list[ImapMailboxConfig] = field(default_factory=list)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    rules: Path | None = field(
        **_help(
            "routing rules file (see rules/example-rules.yaml); default: built-in tier 1 routing"
        ),
        default=None,
    )
    templates_dir: Path | None = field(
        **_help("directory whose templates override the built-in ones"), default=None
    )
    log_level: Literal["debug", "info", "warning", "error"] = field(
        **_help("log level"), default="info"
    )
    source: str = field(
        default="(embedded default)",
        metadata={"help": "the file this was read from", "yaml": False},
    )

    @property
    def storage_url(self) -> str:
        """The database URL, defaulting to SQLite inside data_dir."""
        return self.storage.url or f"sqlite:///{self.data_dir / 'tierdesk.db'}"

    @property
    def outgoing_maildir(self) -> Path:
        """The Maildir that the maildir transport writes to."""
        return self.outgoing.maildir or self.data_dir / "outgoing"
