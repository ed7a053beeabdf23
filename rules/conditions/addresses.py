"""Who the message is from and to: `sender`, `sender_domain`, `recipient`.

Values are lowercased shell-style patterns (`*@example.com`), compiled when
the rules load.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from tierdesk.rules.conditions.base import Facts, FindingCondition, GlobCondition


@dataclass(frozen=True, slots=True)
class _AddressPatterns(GlobCondition):
    """A test of one address of the sender against the patterns."""

    @abstractmethod
    def address(self, facts: Facts) -> str:
        """The part of the message the patterns are matched against."""

    def check(self, facts: Facts) -> bool:
        """True when any pattern matches."""
        tested = self.address(facts)
        return any(pattern.match(tested) for pattern in self.patterns)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The tested value and the patterns."""
        tested = self.address(facts)
        passed = any(pattern.match(tested) for pattern in self.patterns)
        verb = "matches" if passed else "matches none of"
        return passed, f"{self.key} {tested!r} {verb} {', '.join(self.values)}"


@dataclass(frozen=True, slots=True)
class Sender(_AddressPatterns):
    """`sender: '*@customer.example'`: the From address."""

    key = "sender"

    def address(self, facts: Facts) -> str:
        """The From address."""
        return facts.sender


@dataclass(frozen=True, slots=True)
class SenderDomain(_AddressPatterns):
    """`sender_domain: '*.customer.example'`: the From address's domain."""

    key = "sender_domain"

    def address(self, facts: Facts) -> str:
        """The From address's domain."""
        return facts.domain


@dataclass(frozen=True, slots=True)
class Recipient(FindingCondition):
    """`recipient: billing` (support+billing@...) or `recipient: 'help@*'`."""

    key = "recipient"
    what = "recipient"

    def matching(self, facts: Facts) -> str | None:
        """The first recipient that a value matches, trying the values in order."""
        for value, pattern in zip(self.values, self.patterns, strict=True):
            if "@" in value:
                for address in facts.recipients:
                    if pattern.match(address):
                        return address
            elif value in facts.plus_tags:
                return next(
                    address
                    for address in facts.recipients
                    if address.partition("@")[0].endswith(f"+{value}")
                )
        return None

    def seen(self, facts: Facts) -> str:
        """Every recipient there was."""
        return f" (got {', '.join(facts.recipients) or 'none'})"
