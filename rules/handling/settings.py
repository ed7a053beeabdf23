"""The settings handling depends on, taken from one configuration snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from tierdesk.rules.model import RuleSet


@dataclass(frozen=True)
class Settings:
    """What the policies read: the rules, who we are, and the limits."""

    rules: RuleSet = field(default_factory=lambda: RuleSet("(built-in)"))
    own_addresses: frozenset[str] = frozenset({"support@localhost"})
    subject_tag: str = "TIERDESK"
    languages: tuple[str, ...] = ("en", "ru")
    default_language: str = "en"
    auto_replies_per_hour: int = 10
    reopen_within: float = 30 * 86400.0  # seconds after resolving
    status_words: tuple[str, ...] = ("status", "статус")
