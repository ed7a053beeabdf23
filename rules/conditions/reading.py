"""Reading the plain values tests (and actions) take: texts, flags, glob patterns."""

from __future__ import annotations

import fnmatch
import re

from tierdesk.rules.yamlsource import Located, Problem, is_sequence


def read_strings(node: Located, key: str, problems: list[Problem]) -> tuple[str, ...]:
    """A text or a list of texts, stripped; () after adding a problem."""
    values = node.value if is_sequence(node.value) else [node.value]
    if not values or any(not isinstance(v, str) or not v.strip() for v in values):
        problems.append(node.problem(f"'{key}' takes a text or a list of texts"))
        return ()
    return tuple(v.strip() for v in values)


def read_bool(node: Located, key: str, problems: list[Problem]) -> bool | None:
    """True or false (YAML booleans only); None after adding a problem."""
    if isinstance(node.value, bool):
        return node.value
    problems.append(node.problem(f"'{key}' must be true or false, not {node.value!r}"))
    return None


def compile_globs(values: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Shell-style patterns such as `*@example.com`, compiled once, at load."""
    return tuple(re.compile(fnmatch.translate(value)) for value in values)
