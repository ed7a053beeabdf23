"""What every condition is: read from YAML, checked against Facts, explained.

A condition class holds its parsed values and knows, in one place, how it is
read from a rule's `when`, whether a message passes (`check`, the pipeline's
fast path) and why (`explain`, which works the answer out once, with words).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Self
from zoneinfo import ZoneInfo

from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.conditions.reading import compile_globs, read_bool, read_strings
from tierdesk.rules.yamlsource import Located, Problem

if TYPE_CHECKING:
    # only for annotations: rules.match and rules.model import this package
    from tierdesk.rules.match import MatchInput
    from tierdesk.rules.model import RuleSet


@dataclass
class Names:
    """What conditions and actions may refer to: checked while parsing."""

    queues: set[str]
    agents: set[str]
    groups: set[str]
    sla: set[str]
    calendars: dict[str, BusinessHours]
    languages: set[str] = field(default_factory=lambda: {"en", "ru"})


class Facts:
    """The message's testable values, each worked out once however many rules ask."""

    def __init__(self, inp: MatchInput, ruleset: RuleSet) -> None:
        self.inp = inp
        self.ruleset = ruleset

    @cached_property
    def sender(self) -> str:
        """The From address, lowercased; '' when there is none."""
        return self.inp.mail.from_.key if self.inp.mail.from_ else ""

    @cached_property
    def domain(self) -> str:
        """The sender's domain."""
        return self.sender.rpartition("@")[2]

    @cached_property
    def subject(self) -> str:
        """The subject, casefolded for `contains` and `equals`."""
        return self.inp.mail.subject.casefold()

    @cached_property
    def body(self) -> str:
        """The text body, casefolded for `contains` and `equals`."""
        return self.inp.mail.text.casefold()

    @cached_property
    def recipients(self) -> list[str]:
        """Envelope recipients, then To and Cc, lowercased and without repeats."""
        headers = [a.key for a in (*self.inp.mail.to, *self.inp.mail.cc)]
        return list(dict.fromkeys([r.lower() for r in self.inp.recipients] + headers))

    @cached_property
    def plus_tags(self) -> set[str]:
        """The `billing` of support+billing@..., for every recipient that has one."""
        return {
            address.partition("@")[0].partition("+")[2] for address in self.recipients
        } - {""}

    @cached_property
    def attachments(self) -> list[tuple[str, str]]:
        """(content type, filename) of every attachment, inline ones too, lowercased."""
        return [
            (a.content_type.lower(), a.filename.lower())
            for a in self.inp.mail.attachments
        ]

    @cached_property
    def has_attachment(self) -> bool:
        """Whether any attachment is not inline (an inline logo is no attachment)."""
        return any(not a.inline for a in self.inp.mail.attachments)

    @cached_property
    def vip(self) -> bool:
        """Whether the sender is on the rules' VIP list."""
        return any(p.match(self.sender) for p in self.ruleset.vip_patterns)

    @cached_property
    def local(self) -> datetime:
        """The evaluation time in the rules' time zone."""
        return self.inp.now.astimezone(ZoneInfo(self.ruleset.timezone))


@dataclass(frozen=True, slots=True)
class Condition(ABC):
    """One test of a message, or a combination of tests, from a rule's `when`."""

    # the YAML key that introduces this test in a `when` mapping
    key: ClassVar[str]
    line: int | None = field(default=None, kw_only=True)

    @classmethod
    @abstractmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """The condition the value under `key` says; None after adding a problem."""

    @abstractmethod
    def check(self, facts: Facts) -> bool:
        """Whether the message passes; no words, for the pipeline."""

    @abstractmethod
    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Whether the message passes and why, worked out in one evaluation."""


@dataclass(frozen=True, slots=True)
class GlobCondition(Condition):
    """A test that takes a shell-style pattern (`*@example.com`) or a list of them."""

    values: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """The patterns, lowercased and compiled once, when the rules load."""
        values = read_strings(node, cls.key, problems)
        if not values:
            return None
        lowered = tuple(value.lower() for value in values)
        return cls(lowered, compile_globs(lowered), line=node.line)


@dataclass(frozen=True, slots=True)
class FindingCondition(GlobCondition):
    """A pattern test that finds one thing of the message (an address, a file) and names it."""

    # how an explanation names what was looked for: "recipient", "attachment"
    what: ClassVar[str]

    @abstractmethod
    def matching(self, facts: Facts) -> str | None:
        """The first thing a pattern matches, or None."""

    def check(self, facts: Facts) -> bool:
        """True when something matches."""
        return self.matching(facts) is not None

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """What matched, or what there was to match."""
        hit = self.matching(facts)
        listed = ", ".join(self.values)
        if hit:
            return True, f"{self.what} {hit!r} matches {listed}"
        # a match with nothing to name (an attachment without a filename) still passes
        return hit is not None, f"no {self.what} matches {listed}{self.seen(facts)}"

    def seen(self, facts: Facts) -> str:
        """What a failed explanation adds about what there was."""
        return ""


@dataclass(frozen=True, slots=True)
class FlagCondition(Condition):
    """A yes/no test: `true` or `false` in the rules file."""

    flag: bool

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """true or false (YAML booleans only)."""
        flag = read_bool(node, cls.key, problems)
        return None if flag is None else cls(flag, line=node.line)
