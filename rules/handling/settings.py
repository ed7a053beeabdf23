"""The settings handling depends on, taken from one configuration snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tierdesk.rules.model import RuleSet

DAY = 86400.0


@dataclass(frozen=True)
class Limits:
    """How many mails of each class one address gets, and tickets one sender opens."""

    automatic_per_hour: int = 10  # acks, status mails, answers to commands
    automatic_per_day: int = 40
    notices_per_hour: int = 60  # notices to one agent
    notices_per_day: int = 500
    relayed_per_hour: int = 20  # agents' answers relayed to one customer
    relayed_per_day: int = 100
    new_tickets_per_hour: int = 5
    bounce_threshold: float = 3.0
    bounce_stale_after: float = 7 * DAY
    repeats_are_robots: int = 3  # the same text this often within repeat_window
    repeat_window: float = DAY


@dataclass(frozen=True)
class IntakeTrust:
    """What may be believed about mail from one source (the listener, or an IMAP mailbox)."""

    delivery_header: str | None = (
        None  # IMAP: the header holding the envelope recipient
    )
    trust_return_path: bool = (
        False  # IMAP: the topmost Return-Path is the envelope sender
    )
    authserv_id: str | None = None  # whose Authentication-Results are facts


@dataclass(frozen=True)
class Settings:
    """What the policies read: the rules, who we are, what we trust, and the limits."""

    rules: RuleSet = field(default_factory=lambda: RuleSet("(built-in)"))
    own_addresses: frozenset[str] = frozenset({"support@localhost"})
    own_list_ids: frozenset[str] = frozenset()  # our own lists in front of support
    subject_tag: str = "TIERDESK"
    languages: tuple[str, ...] = ("en", "ru")
    default_language: str = "en"
    reopen_within: float = 30 * DAY  # seconds after resolving
    status_words: tuple[str, ...] = ("status", "статус")
    limits: Limits = field(default_factory=Limits)
    listener: IntakeTrust = field(default_factory=IntakeTrust)
    mailboxes: Mapping[str, IntakeTrust] = field(default_factory=dict)
    require_verified_sender: bool = True
    trusted_envelope_senders: tuple[str, ...] = ()
    strangers: str = "new_ticket"  # new_ticket | hold | append
    participants_domain: bool = True  # colleagues at a company domain (not gmail.com)
    reply_address_max_age: float = 90 * DAY
    key_grace: float = 30 * DAY
    attach_up_to: int = 10 * 1024 * 1024  # notices carry attachments up to this total
    files_per_mail: int = 15 * 1024 * 1024  # the most one mail of #files carries

    def trust_for(self, mailbox: str) -> IntakeTrust:
        """What to believe about mail that came in through `mailbox` ('' for the listener)."""
        return self.mailboxes.get(mailbox, self.listener) if mailbox else self.listener
