"""`all`, `any` and `not`: conditions made of other conditions.

Explaining combines the children's (passed, reason) pairs as they are worked
out, in the order `check` would try them, so nothing is evaluated twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from tierdesk.rules.conditions.base import Condition, Facts, Names
from tierdesk.rules.yamlsource import Located, Problem, is_sequence, items


def _read_when(
    node: Located, names: Names, problems: list[Problem]
) -> Condition | None:
    # combinators nest any test, themselves included, so the registry that
    # lists them can only be consulted when reading, not at import time
    from tierdesk.rules.conditions.parse import parse_condition

    return parse_condition(node, names, problems)


def _read_list(
    key: str, node: Located, names: Names, problems: list[Problem]
) -> tuple[Condition, ...] | None:
    if not is_sequence(node.value) or not node.value:
        problems.append(node.problem(f"'{key}' needs a list of conditions"))
        return None
    children = [_read_when(item, names, problems) for item in items(node)]
    return tuple(child for child in children if child is not None)


@dataclass(frozen=True, slots=True)
class _Combination(Condition):
    """Children tried in order until one settles the answer."""

    children: tuple[Condition, ...]
    # the outcome of a child that settles the whole: a failure for all, a pass for any
    settles_on: ClassVar[bool]

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """`all: [{...}, {...}]` or `any: [...]`."""
        children = _read_list(cls.key, node, names, problems)
        return None if children is None else cls(children, line=node.line)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The settling child's reason, else every child's."""
        reasons = []
        for child in self.children:
            passed, reason = child.explain(facts)
            if passed == self.settles_on:
                return passed, reason
            reasons.append(reason)
        return not self.settles_on, self.summary(reasons)

    def summary(self, reasons: list[str]) -> str:
        """How the reasons read when no child settled it."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class AllOf(_Combination):
    """Every child holds; also what a `when` mapping with several tests means."""

    key = "all"
    settles_on = False

    def check(self, facts: Facts) -> bool:
        """True when no child fails."""
        return all(child.check(facts) for child in self.children)

    def summary(self, reasons: list[str]) -> str:
        """Every child passed."""
        return " and ".join(reasons)


@dataclass(frozen=True, slots=True)
class AnyOf(_Combination):
    """At least one child holds."""

    key = "any"
    settles_on = True

    def check(self, facts: Facts) -> bool:
        """True at the first child that passes."""
        return any(child.check(facts) for child in self.children)

    def summary(self, reasons: list[str]) -> str:
        """No child passed."""
        return "none of: " + "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class Not(Condition):
    """The child does not hold."""

    key = "not"
    child: Condition

    @classmethod
    def read(cls, node: Located, names: Names, problems: list[Problem]) -> Self | None:
        """`not: {...}`: one mapping of tests, which must not all hold."""
        child = _read_when(node, names, problems)
        return None if child is None else cls(child, line=node.line)

    def check(self, facts: Facts) -> bool:
        """The child's answer, reversed."""
        return not self.child.check(facts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """The child's reason, marked as negated."""
        passed, reason = self.child.explain(facts)
        return not passed, f"not: {reason}"
