"""What kind of message it is: attachments, classification, language, mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from tierdesk.rules.conditions.base import (
    Condition,
    Facts,
    FlagCondition,
    GlobCondition,
    Names,
)
from tierdesk.rules.conditions.reading import read_strings
from tierdesk.rules.yamlsource import Located, Problem

CLASSIFICATIONS = ("human", "auto_generated", "auto_reply", "bounce", "list", "loop")


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
class AttachmentType(GlobCondition):
    """`attachment_type: '*.pdf'` (a filename) or `application/pdf`, inline ones too."""

    key = "attachment_type"

    def matching(self, facts: Facts) -> str | None:
        """The filename of the first attachment a pattern matches."""
        for content_type, filename in facts.attachments:
            for value, pattern in zip(self.values, self.patterns, strict=True):
                if pattern.match(content_type if "/" in value else filename):
                    return filename
        return None

    def check(self, facts: Facts) -> bool:
        """True when some attachment matches."""
        return self.matching(facts) is not None

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The attachment that matched."""
        hit = self.matching(facts)
        listed = ", ".join(self.values)
        if hit:
            return True, f"attachment {hit!r} matches {listed}"
        # an attachment without a filename matches by content type, yet names nothing
        return hit is not None, f"no attachment matches {listed}"


@dataclass(frozen=True, slots=True)
class Classification(Condition):
    """`classification: [auto_reply, bounce]`: what the classifier made of it."""

    key = "classification"
    values: tuple[str, ...]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """One of CLASSIFICATIONS, or a list of them."""
        values = read_strings(node, cls.key, problems)
        if not values:
            return None
        for value in values:
            if value not in CLASSIFICATIONS:
                problems.append(
                    node.problem(
                        f"'classification': {value!r} is not one of {', '.join(CLASSIFICATIONS)}"
                    )
                )
        return cls(tuple(value.lower() for value in values), line=node.line)

    def check(self, facts: Facts) -> bool:
        """Whether the message's kind is listed."""
        return facts.inp.classification.kind.value in self.values

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The message's kind."""
        passed = self.check(facts)
        kind = facts.inp.classification.kind.value
        return passed, _is_one_of(self.key, kind, passed, self.values)


@dataclass(frozen=True, slots=True)
class Language(Condition):
    """`language: ru`: the language detected for the message."""

    key = "language"
    values: tuple[str, ...]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """A language the desk supports, or a list of them."""
        values = read_strings(node, cls.key, problems)
        if not values:
            return None
        unknown = [value for value in values if value not in names.languages]
        if unknown:
            problems.append(
                node.problem(
                    f"'language': {unknown[0]!r} is not one of {sorted(names.languages)}"
                )
            )
        return cls(tuple(value.lower() for value in values), line=node.line)

    def check(self, facts: Facts) -> bool:
        """Whether the message's language is listed."""
        return facts.inp.language.lower() in self.values

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The message's language."""
        passed = self.check(facts)
        return passed, _is_one_of(self.key, facts.inp.language, passed, self.values)


@dataclass(frozen=True, slots=True)
class Mailbox(Condition):
    """`mailbox: vendor`: the mailbox (or listener) it arrived in, ignoring case."""

    key = "mailbox"
    values: tuple[str, ...]
    lowered: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # explanations quote the names as written; matching ignores case
        object.__setattr__(self, "lowered", frozenset(v.lower() for v in self.values))

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """A mailbox name or a list of them."""
        values = read_strings(node, cls.key, problems)
        return cls(values, line=node.line) if values else None

    def check(self, facts: Facts) -> bool:
        """Whether the message came in through a listed mailbox."""
        return facts.inp.mailbox.lower() in self.lowered

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The mailbox it came in through."""
        passed = self.check(facts)
        return passed, _is_one_of(self.key, facts.inp.mailbox, passed, self.values)
