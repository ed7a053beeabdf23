"""YAML files that admins edit, read so that every error names file:line and a fix.

ruamel.yaml in round-trip mode keeps the line of every key and refuses duplicate
keys; YAML 1.2 keeps `no` and `010` as the strings and numbers they look like.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: where it is and what to do about it."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class SourceError(Exception):
    """One or more problems found in an admin's file; str() lists them all."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Located:
    """A value read from YAML with the file and line it came from."""

    value: Any
    path: str
    line: int | None

    def problem(self, message: str) -> Problem:
        """A problem pointing at this value."""
        return Problem(self.path, self.line, message)


def load_yaml_text(text: str, path: str) -> Located:
    """Parse YAML text; syntax errors and duplicate keys become a SourceError."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = _describe_yaml_error(exc)
        raise SourceError([Problem(path, line, message)]) from None
    except YAMLError as exc:
        raise SourceError([Problem(path, None, str(exc))]) from None
    return Located(data, path, 1)


def load_yaml_file(path: Path | str) -> Located:
    """Read and parse a YAML file; an unreadable file is a SourceError too."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SourceError(
            [Problem(name, None, f"cannot read file: {reason}")]
        ) from None
    return load_yaml_text(text, name)


def _describe_yaml_error(exc: MarkedYAMLError) -> str:
    problem = (exc.problem or "").strip()
    if "duplicate key" in problem:
        return f"{problem}; each key may appear once in a mapping"
    context = (exc.context or "").strip()
    return f"{context}: {problem}" if context and problem else problem or context


def entries(node: Located) -> list[tuple[str, Located]]:
    """The (key, located value) pairs of a YAML mapping, in file order."""
    mapping = node.value
    out = []
    for key, value in mapping.items():
        line = _key_line(mapping, key, node.line)
        out.append((str(key), Located(value, node.path, line)))
    return out


def items(node: Located) -> list[Located]:
    """The located items of a YAML sequence."""
    seq = node.value
    out = []
    for index, value in enumerate(seq):
        line = node.line
        if isinstance(seq, CommentedSeq):
            with suppress(KeyError, TypeError, AttributeError):
                line = seq.lc.item(index)[0] + 1
        out.append(Located(value, node.path, line))
    return out


def _key_line(mapping: Any, key: Any, default: int | None) -> int | None:
    if isinstance(mapping, CommentedMap):
        try:
            return mapping.lc.key(key)[0] + 1
        except (KeyError, TypeError, AttributeError):
            return default
    return default


def suggest(word: str, known: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint for a misspelt name, or ''."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def is_mapping(value: Any) -> bool:
    """True for a YAML mapping node."""
    return isinstance(value, dict)


def is_sequence(value: Any) -> bool:
    """True for a YAML sequence node."""
    return isinstance(value, list)
