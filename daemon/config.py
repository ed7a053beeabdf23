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

from tierdesk.daemon.config_digest import DigestConfig
from tierdesk.daemon.config_metrics import MetricsConfig
from tierdesk.daemon.config_notices import NoticesConfig
from tierdesk.daemon.config_search import SearchConfig
from tierdesk.daemon.config_transport import (
    ImapMailboxConfig,
    OutgoingConfig,
    SmtpListenConfig,
    described,
)
from tierdesk.parsers.parsed import ParseLimits
from tierdesk.rules.yamlschema import ByteSize, Duration

CONFIG_ENV = "TIERDESK_CONFIG"
DEFAULT_DATA_DIR = Path("tierdesk-data")


@dataclass(frozen=True)
class StorageConfig:
    """Where tickets, messages, the spool and the outbox live."""

    url: str | None = field(
        **described(
            "sqlite:///path/to/tierdesk.db or postgresql://user@host/db; default: SQLite in data_dir"
        ),
        default=None,
    )


@dataclass(frozen=True)
class SupportConfig:
    """Who we are to customers."""

    addresses: list[str] = field(
        **described(
            "support addresses we accept mail for; the first one is the sender of our mail"
        ),
        default_factory=lambda: ["support@localhost"],
    )
    display_name: str = field(
        **described("display name on outgoing mail"), default="Support"
    )
    subject_tag: str = field(
        **described("tag of the subject token, e.g. ACME for [ACME #123]"),
        default="TIERDESK",
    )
    domain: str | None = field(
        **described(
            "domain for our Message-IDs; default: the first support address's domain"
        ),
        default=None,
    )
    default_language: str = field(
        **described("language of templates when nothing else says"), default="en"
    )
    languages: list[str] = field(
        **described("template languages on offer"), default_factory=lambda: ["en", "ru"]
    )
    auto_replies_per_hour: int = field(
        **described(
            "most automatic mails (acks, status mails, answers to commands) one address gets per hour"
        ),
        default=10,
    )
    auto_replies_per_day: int = field(
        **described("... and per day (counted across restarts and daemons)"), default=40
    )
    reopen_within: Duration = field(
        **described(
            "a customer reply within this time of resolving reopens the ticket; later, it opens a new one"
        ),
        default=Duration(30 * 86400),
    )
    own_list_ids: list[str] = field(
        **described(
            "List-Ids of our own lists in front of the support address (a Google Group, "
            "a Mailman list), e.g. support.example.com: their mail counts as its "
            "author's, not as list mail"
        ),
        default_factory=list,
    )
    status_words: list[str] = field(
        **described(
            "a new mail whose subject (or first line) is one of these gets the list of the sender's tickets"
        ),
        default_factory=lambda: ["status", "статус"],
    )
    secret_file: Path | None = field(
        **described(
            "file with the secret that signs reply addresses; default: one kept in the database"
        ),
        default=None,
    )
    secret_env: str | None = field(
        **described("environment variable with that secret instead"), default=None
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
        **described(
            "authserv-id of the Authentication-Results your own MTA adds (e.g. mx.acme.example); "
            "unset: no such header is trusted"
        ),
        default=None,
    )
    require_verified_sender: bool = field(
        **described(
            "automatic mail goes to a sender only when the envelope sender matches From:, "
            "or authserv_id says DMARC/SPF pass for its domain"
        ),
        default=True,
    )
    trusted_envelope_senders: list[str] = field(
        **described(
            "envelope senders (patterns like *@relay.acme.example) that vouch for From: "
            "(your own relay)"
        ),
        default_factory=list,
    )
    strangers: Literal["new_ticket", "hold", "append"] = field(
        **described(
            "mail threaded to a ticket from someone who is not its participant: open a new "
            "ticket that refers to it, hold it for an agent, or append it marked unverified"
        ),
        default="new_ticket",
    )
    participants_domain: bool = field(
        **described(
            "everyone at the requester's domain is a participant of their tickets "
            "(public mail domains such as gmail.com never count)"
        ),
        default=True,
    )
    reply_address_max_age: Duration = field(
        **described("how long an agent's or vendor's signed address may act"),
        default=Duration(90 * 86400),
    )
    key_grace: Duration = field(
        **described("how long addresses signed with a retired key still act"),
        default=Duration(30 * 86400),
    )


@dataclass(frozen=True)
class LimitsConfig:
    """How much mail any one address gets, and how many tickets it may open."""

    notices_per_hour: int = field(
        **described(
            "most notices (new ticket, reply, note, SLA) one agent gets per hour"
        ),
        default=60,
    )
    notices_per_day: int = field(**described("... and per day"), default=500)
    relayed_per_hour: int = field(
        **described("most agent answers relayed to one customer per hour"), default=20
    )
    relayed_per_day: int = field(**described("... and per day"), default=100)
    new_tickets_per_hour: int = field(
        **described(
            "most tickets one sender opens per hour; more mail joins their latest ticket"
        ),
        default=5,
    )
    bounce_threshold: float = field(
        **described(
            "bounce score (hard 1.0, soft 0.5, at most one a day) past which an address "
            "gets no automatic mail until it writes to us again"
        ),
        default=3.0,
    )
    bounce_stale_after: Duration = field(
        **described("a score with no bounce for this long starts again from zero"),
        default=Duration(7 * 86400),
    )
    repeats_are_robots: int = field(
        **described(
            "the same text from one address this many times within repeat_window is "
            "treated as automatic (breaks loops with robots that set no header)"
        ),
        default=3,
    )
    repeat_window: Duration = field(
        **described("the window for repeats_are_robots"), default=Duration(86400)
    )


@dataclass(frozen=True)
class PipelineConfig:
    """How spooled mail is processed."""

    parse_workers: int = field(
        **described(
            "worker processes that parse mail (another core, a hard time limit); "
            "0 parses in-process, where the limit stops Python code but not one C call"
        ),
        default=1,
    )
    parse_timeout: Duration = field(
        **described(
            "a message whose parsing takes longer is quarantined (per message, "
            "from when a worker starts on it; the others are parsed anyway)"
        ),
        default=Duration(60),
    )
    max_header_fields: int = field(
        **described(
            "header fields read of a message, the first ones; the rest are left out"
        ),
        default=1000,
    )
    max_header_length: ByteSize = field(
        **described("characters read of one header field; a longer one is cut"),
        default=ByteSize(64 * 1024),
    )
    max_mime_parts: int = field(
        **described("MIME parts read of a message, the message itself included"),
        default=1000,
    )
    max_mime_depth: int = field(
        **described("levels of MIME nesting read; deeper parts are left out"),
        default=50,
    )
    max_decoded_size: ByteSize = field(
        **described(
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
        **described(
            "`tierdesk purge` removes the raw bytes of mail processed or dropped longer "
            "ago than this (the row, its metadata and the ticket stay)"
        ),
        default=Duration(90 * 86400),
    )


@dataclass(frozen=True)
class ClusterConfig:
    """Several daemons on one PostgreSQL database (see README, "Running several daemons")."""

    heartbeat: Duration = field(
        **described(
            "how often each daemon records that it is alive and renews what it holds"
        ),
        default=Duration(5),
    )
    mailbox_takeover: Duration = field(
        **described(
            "an IMAP mailbox whose daemon stopped renewing its hold this long ago is"
            " taken over by another daemon"
        ),
        default=Duration(30),
    )
    claim_timeout: Duration = field(
        **described(
            "spool and outbox items claimed by a daemon that died are taken up by"
            " another one after this"
        ),
        default=Duration(300),
    )
    stuck_after: Duration = field(
        **described(
            "`tierdesk status` fails when a message or a due mail has waited longer"
            " than this, or a daemon has not beaten for this long"
        ),
        default=Duration(600),
    )
    max_connections: int = field(
        **described(
            "PostgreSQL connections each daemon may open at most (its threads wait for one)"
        ),
        default=16,
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration of one tierdesk instance."""

    data_dir: Path = field(
        **described("state directory (SQLite database, outgoing Maildir)"),
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
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    notices: NoticesConfig = field(default_factory=NoticesConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    rules: Path | None = field(
        **described(
            "routing rules file (see rules/example-rules.yaml); default: built-in tier 1 routing"
        ),
        default=None,
    )
    templates_dir: Path | None = field(
        **described("directory whose templates override the built-in ones"),
        default=None,
    )
    log_level: Literal["debug", "info", "warning", "error"] = field(
        **described("log level"), default="info"
    )
    log_format: Literal["text", "json"] = field(
        **described(
            "log lines as text, or one JSON object each (with spool_id, ticket and"
            " message_id on the lines about a message)"
        ),
        default="text",
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
