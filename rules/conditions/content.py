"""What kind of message it is: attachments, classification, language, mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from tierdesk.parsers.parsed import MailKind
from tierdesk.rules.conditions.base import (
    Condition,
    Facts,
    FindingCondition,
    FlagCondition,
    Names,
)
from tierdesk.rules.conditions.reading import read_strings
from tierdesk.rules.yamlsource import Located, Problem

CLASSIFICATIONS = tuple(kind.value for kind in MailKind)


def _is_one_of(key: str, actual: str, passed: bool, values: tuple[str, ...]) -> str:
    """`language is 'ru'`, and when that fails, what it should have been."""
    return f"{key} is {actual!r}" + ("" if passed else f", not {' or '.join(values)}")


@dataclass(frozen=True, slots=True)
class HasAttachment(FlagCondition):
    """`has_attachment: true`: an attachment that is not inline (a logo is not one)."""

    key = "has_attachment"

    def check(self, facts: Facts) -> bool:
        """Whether having an attachment is what the rule asks for."""
        return facts.has_attachment == self.flag

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Whether the message has one."""
        has = facts.has_attachment
        return has == self.flag, f"has_attachment is {str(has).lower()}"


@dataclass(frozen=True, slots=True)
class AttachmentType(FindingCondition):
    """`attachment_type: '*.pdf'` (a filename) or `application/pdf`, inline ones too."""

    key = "attachment_type"
    what = "attachment"

    def matching(self, facts: Facts) -> str | None:
        """The filename of the first attachment a pattern matches."""
        for content_type, filename in facts.attachments:
            for value, pattern in zip(self.values, self.patterns, strict=True):
                if pattern.match(content_type if "/" in value else filename):
                    return filename
        return None


@dataclass(frozen=True, slots=True)
class _OneOf(Condition):
    """A value of the message that must be one of those listed."""

    values: tuple[str, ...]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """A value or a list of them; unknown ones are problems."""
        values = read_strings(node, cls.key, problems)
        if not values:
            return None
        problems += [node.problem(text) for text in cls.unknown(values, names)]
        return cls(cls.kept(values), line=node.line)

    @classmethod
    def unknown(cls, values: tuple[str, ...], names: Names) -> list[str]:
        """What is wrong with the values listed (nothing, unless a kind knows better)."""
        return []

    @staticmethod
    def kept(values: tuple[str, ...]) -> tuple[str, ...]:
        """The values as compared: lower-cased."""
        return tuple(value.lower() for value in values)

    def actual(self, facts: Facts) -> str:
        """The message's value."""
        raise NotImplementedError

    def check(self, facts: Facts) -> bool:
        """Whether the message's value is listed."""
        return self.actual(facts).lower() in self.values

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The message's value, and what it should have been."""
        passed = self.check(facts)
        return passed, _is_one_of(self.key, self.actual(facts), passed, self.values)


@dataclass(frozen=True, slots=True)
class Classification(_OneOf):
    """`classification: [auto_reply, bounce]`: what the classifier made of it."""

    key = "classification"

    @classmethod
    def unknown(cls, values: tuple[str, ...], names: Names) -> list[str]:
        """Every value that is not one of CLASSIFICATIONS."""
        return [
            f"'classification': {value!r} is not one of {', '.join(CLASSIFICATIONS)}"
            for value in values
            if value not in CLASSIFICATIONS
        ]

    def actual(self, facts: Facts) -> str:
        """The message's kind."""
        return facts.inp.classification.kind.value


@dataclass(frozen=True, slots=True)
class Language(_OneOf):
    """`language: ru`: the language detected for the message."""

    key = "language"

    @classmethod
    def unknown(cls, values: tuple[str, ...], names: Names) -> list[str]:
        """The first language the desk does not offer."""
        unknown = [value for value in values if value not in names.languages]
        if not unknown:
            return []
        return [f"'language': {unknown[0]!r} is not one of {sorted(names.languages)}"]

    def actual(self, facts: Facts) -> str:
        """The message's language."""
        return facts.inp.language


@dataclass(frozen=True, slots=True)
class Mailbox(_OneOf):
    """`mailbox: vendor`: the mailbox (or listener) it arrived in, ignoring case."""

    key = "mailbox"
    lowered: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # explanations quote the names as written; matching ignores case
        object.__setattr__(self, "lowered", frozenset(v.lower() for v in self.values))

    @staticmethod
    def kept(values: tuple[str, ...]) -> tuple[str, ...]:
        """The names as written."""
        return values

    def actual(self, facts: Facts) -> str:
        """The mailbox it came in through."""
        return facts.inp.mailbox

    def check(self, facts: Facts) -> bool:
        """Whether the message came in through a listed mailbox."""
        return facts.inp.mailbox.lower() in self.lowered
