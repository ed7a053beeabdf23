"""The plain data a parsed message travels as through the pipeline."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ParseLimits:
    """How much of one message `parse_mail` reads (the `pipeline` caps of the config).

    Whatever lies past a cap is left out and named in a defect; the message
    still becomes a ticket with what fits. Small and frozen, so it travels to
    the parse worker processes with each message.
    """

    header_fields: int = 1000  # header fields of the message read, the first ones
    header_length: int = 64 * 1024  # characters of one header field, unfolded
    parts: int = 1000  # MIME parts walked, the message itself included
    depth: int = 50  # levels of MIME nesting walked
    decoded_size: int = 25 * 1024 * 1024  # bytes of text and attachments, decoded


@dataclass(frozen=True)
class Address:
    """One mailbox: a display name (may be empty) and an addr-spec."""

    name: str
    email: str

    @property
    def key(self) -> str:
        """The address as we compare it: lower-cased, surrounding space removed."""
        return self.email.strip().lower()

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class MailAttachment:
    """A file carried by a message; `filename` is already safe to show and store."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass
class ParsedMail:
    """Everything the later stages need from one raw message, decoded once.

    Message-IDs are stored without angle brackets. `message_id` is never empty:
    when the header is missing or unusable it is derived from the content hash,
    so the same bytes always get the same id (and a re-delivery is a duplicate).
    """

    message_id: str
    message_id_synthesized: bool
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_: Address | None
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    date: datetime | None
    headers: dict[str, str]
    content_type: str
    text: str
    html: str | None
    attachments: list[MailAttachment]
    defects: list[str] = field(default_factory=list)
    size: int = 0
    sha256: str = ""
    # (lower-cased name, value) of every trace header (Return-Path, Delivered-To,
    # Authentication-Results ...), topmost first: the MTA's own copies stand on top
    trace: tuple[tuple[str, str], ...] = ()
    # `quotes.text_fingerprint` of `text`, made where the parsing is (another core)
    text_fingerprint: str = ""

    def header(self, name: str) -> str:
        """The first value of header `name` (case-insensitive), or '' when absent."""
        return self.headers.get(name.lower(), "")

    def trace_values(self, name: str) -> list[str]:
        """Every value of trace header `name`, topmost first."""
        wanted = name.lower()
        return [value for header, value in self.trace if header == wanted]


class MailKind(enum.StrEnum):
    """What sort of sender produced a message, as far as auto-replies go."""

    HUMAN = "human"
    AUTO_GENERATED = "auto_generated"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    BULK = "bulk"
    LOOP = "loop"


@dataclass(frozen=True)
class Classification:
    """The verdict of `classify`: the kind and the evidence for it."""

    kind: MailKind
    reason: str = ""

    @property
    def is_automatic(self) -> bool:
        """True when nothing automatic may ever be sent back to this sender."""
        return self.kind is not MailKind.HUMAN

    @property
    def is_person(self) -> bool:
        """True when the desk treats the sender as a person: a human, or bulk-marked mail.

        Bulk marks (`List-Unsubscribe`, `Precedence: bulk`) are on some people's
        every mail, so such mail reopens tickets, notifies agents and may act
        for an agent; it only gets nothing automatic back (`is_automatic`).
        """
        return self.kind in (MailKind.HUMAN, MailKind.BULK)

    @property
    def may_open_ticket(self) -> bool:
        """True when the message may open a ticket if it threads nowhere.

        Humans, bulk-marked mail and machine notifications (monitoring, cron:
        `auto-generated`) do; auto-replies, bounces, list traffic and our own
        mail only attach to a ticket they thread into.
        """
        return self.kind in (MailKind.HUMAN, MailKind.BULK, MailKind.AUTO_GENERATED)


@dataclass(frozen=True)
class SubjectInfo:
    """A subject split into the ticket number its token names, the title, and [k=v] args."""

    ticket: int | None
    title: str
    args: dict[str, str] = field(default_factory=dict)
