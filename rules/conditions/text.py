"""Words in the message: `subject`, `body` and `header`.

Each takes a text (contains, ignoring case) or one of contains, equals and
regex; a header may also just be present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Self

from tierdesk.rules.conditions.base import Condition, Facts, Names
from tierdesk.rules.yamlsource import Located, Problem, entries, is_mapping, suggest

TEXT_MODES = ("contains", "equals", "regex")
HEADER_MODES = (*TEXT_MODES, "present")


@dataclass(frozen=True)
class TextTest:
    """How a subject, body or header value is tested."""

    mode: Literal["contains", "equals", "regex", "present"]
    value: str = ""
    pattern: re.Pattern[str] | None = None
    folded: str = field(default="", init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", self.value.casefold())

    def check(self, text: str | None, folded: str | None = None) -> bool:
        """True when `text` passes; `folded` is text.casefold() if the caller has it."""
        if self.mode == "present":
            return text is not None
        if text is None:
            return False
        if self.mode == "contains":
            return self.folded in (folded if folded is not None else text.casefold())
        if self.mode == "equals":
            return (
                self.folded
                == (folded if folded is not None else text.casefold()).strip()
            )
        assert self.pattern is not None
        return self.pattern.search(text) is not None

    def describe(self, passed: bool = True) -> str:
        """How an explanation says this test passed (or did not)."""
        if self.mode == "present":
            return "is present" if passed else "is absent"
        if self.mode == "regex":
            return f"{'matches' if passed else 'does not match'} /{self.value}/"
        verb = {
            "contains": ("contains", "does not contain"),
            "equals": ("equals", "does not equal"),
        }[self.mode]
        return f"{verb[0] if passed else verb[1]} {self.value!r}"


def read_text_test(
    node: Located, key: str, problems: list[Problem], modes: tuple[str, ...]
) -> TextTest | None:
    """A bare text (contains) or `{MODE: TEXT}`; `present` ignores its value."""
    value = node.value
    if isinstance(value, str):
        return TextTest("contains", value)
    if not is_mapping(value) or len(value) != 1:
        problems.append(
            node.problem(f"'{key}' takes a text, or one of {', '.join(modes)}: TEXT")
        )
        return None
    [(mode, inner)] = entries(node)
    if mode not in modes:
        problems.append(
            inner.problem(f"'{key}': unknown test '{mode}'{suggest(mode, modes)}")
        )
        return None
    if mode == "present":
        return TextTest("present")
    if not isinstance(inner.value, str):
        problems.append(inner.problem(f"'{key}': {mode} takes a text"))
        return None
    if mode == "regex":
        try:
            return TextTest(
                "regex", inner.value, re.compile(inner.value, re.IGNORECASE)
            )
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            problems.append(
                inner.problem(f"bad regex {inner.value!r}: {exc.msg}{where}")
            )
            return None
    return TextTest(mode, inner.value)


@dataclass(frozen=True, slots=True)
class _MailText(Condition):
    """A text test of the subject or the body, which every message has."""

    test: TextTest

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """`KEY: text` or `KEY: {contains|equals|regex: text}`."""
        test = read_text_test(node, cls.key, problems, TEXT_MODES)
        return None if test is None else cls(test, line=node.line)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """What the text was tested for."""
        passed = self.check(facts)
        return passed, f"{self.key} {self.test.describe(passed)}"


@dataclass(frozen=True, slots=True)
class Subject(_MailText):
    """`subject: invoice`: the Subject line."""

    key = "subject"

    def check(self, facts: Facts) -> bool:
        """Whether the subject passes the test."""
        return self.test.check(facts.inp.mail.subject, facts.subject)


@dataclass(frozen=True, slots=True)
class Body(_MailText):
    """`body: {contains: refund}`: the text body."""

    key = "body"

    def check(self, facts: Facts) -> bool:
        """Whether the body passes the test."""
        return self.test.check(facts.inp.mail.text, facts.body)


@dataclass(frozen=True, slots=True)
class Header(Condition):
    """`header: {name: X-Priority, equals: '1'}`; with only a name: it is present."""

    key = "header"
    name: str
    test: TextTest

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """`{name: X-Header}` plus at most one of present, equals, contains, regex."""
        if not is_mapping(node.value) or "name" not in node.value:
            problems.append(
                node.problem(
                    "'header' takes {name: X-Header} plus one of present, equals, contains, regex"
                )
            )
            return None
        fields = dict(entries(node))
        name = str(fields.pop("name").value).strip().lower()
        if not fields:
            return cls(name, TextTest("present"), line=node.line)
        if len(fields) > 1:
            problems.append(node.problem("'header' takes one test besides its name"))
            return None
        [(mode, inner)] = fields.items()
        # re-rooted at the test's own line, so its problems point there
        sub = Located({mode: inner.value}, node.path, inner.line)
        test = read_text_test(sub, cls.key, problems, HEADER_MODES)
        return None if test is None else cls(name, test, line=node.line)

    def check(self, facts: Facts) -> bool:
        """Whether the header's value passes the test (None when it is absent)."""
        return self.test.check(facts.inp.mail.headers.get(self.name))

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """Which header was tested for what."""
        passed = self.check(facts)
        return passed, f"header {self.name} {self.test.describe(passed)}"
