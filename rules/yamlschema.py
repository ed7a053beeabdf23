"""Bind a located YAML mapping onto a typed dataclass, collecting every problem.

The dataclass is the schema: each field's type says what YAML value it takes,
its default says whether it may be left out, and `metadata["help"]` documents it.
Unknown keys are errors with a spelling hint; `yes` is not a boolean.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    entries,
    is_mapping,
    is_sequence,
    items,
    suggest,
)

T = TypeVar("T")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ByteSize(int):
    """A size in bytes, written in YAML as `25MB`, `512k` or a plain number."""


class Duration(float):
    """A duration in seconds, written in YAML as `30s`, `5m`, `2h`, `1d` or a number."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def bind(cls: type[T], node: Located, problems: list[Problem]) -> T | None:
    """Build `cls` from a YAML mapping; append problems and return None on error."""
    if node.value is None:
        node = Located({}, node.path, node.line)
    if not is_mapping(node.value):
        problems.append(
            node.problem(f"expected a mapping of {_type_name(cls)} settings")
        )
        return None
    hints = typing.get_type_hints(cls)
    # a field marked {"yaml": False} is set by the program, never by the file
    fields = {
        f.name: f
        for f in dataclasses.fields(cls)
        if f.init and f.metadata.get("yaml", True)
    }
    yaml_names = {_yaml_name(name): name for name in fields}
    values: dict[str, Any] = {}
    before = len(problems)
    for key, value in entries(node):
        name = yaml_names.get(key)
        if name is None:
            hint = suggest(key, yaml_names)
            problems.append(value.problem(f"unknown key '{key}'{hint}"))
            continue
        converted = _convert(hints[name], value, key, problems)
        if converted is not INVALID:
            values[name] = converted
    for name, field in fields.items():
        missing = field.default is dataclasses.MISSING
        missing = missing and field.default_factory is dataclasses.MISSING
        if missing and name not in values:
            problems.append(node.problem(f"missing required key '{_yaml_name(name)}'"))
    if len(problems) > before:
        return None
    return cls(**values)


INVALID = object()


def _yaml_name(field_name: str) -> str:
    return field_name.rstrip("_")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).lower()


def _convert(tp: Any, node: Located, key: str, problems: list[Problem]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    value = node.value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], node, key, problems)
    if origin is Literal:
        if isinstance(value, str) and value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        hint = suggest(str(value), [str(a) for a in args])
        problems.append(node.problem(f"'{key}' must be one of {choices}{hint}"))
        return INVALID
    if origin is list:
        if not is_sequence(value):
            if isinstance(value, str) and args[0] is str:
                return [value]
            problems.append(node.problem(f"'{key}' must be a list"))
            return INVALID
        out = [_convert(args[0], item, key, problems) for item in items(node)]
        return INVALID if INVALID in out else out
    if origin is dict:
        if not is_mapping(value):
            problems.append(node.problem(f"'{key}' must be a mapping"))
            return INVALID
        return {k: _convert(args[1], v, k, problems) for k, v in entries(node)}
    if dataclasses.is_dataclass(tp):
        result = bind(tp, node, problems)
        return INVALID if result is None else result
    return convert_scalar(tp, node, key, problems)


def convert_scalar(tp: Any, node: Located, key: str, problems: list[Problem]) -> Any:
    """A YAML scalar as `tp` (bool, int, str, Path, Duration, ByteSize), or INVALID."""
    value = node.value
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(node.problem(f"'{key}' must be true or false, not {value!r}"))
        return INVALID
    if tp is ByteSize:
        return _parse_unit(
            value, _SIZE, _SIZE_UNITS, ByteSize, node, key, problems, "25MB"
        )
    if tp is Duration:
        return _parse_unit(
            value, _DURATION, _DURATION_UNITS, Duration, node, key, problems, "30s"
        )
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(node.problem(f"'{key}' must be a whole number, not {value!r}"))
        return INVALID
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        problems.append(node.problem(f"'{key}' must be a number, not {value!r}"))
        return INVALID
    if tp in (str, Path):
        if isinstance(value, str) and value.strip():
            return tp(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and tp is str:
            return str(value)
        problems.append(node.problem(f"'{key}' must be a non-empty string"))
        return INVALID
    raise TypeError(f"yamlschema cannot bind type {tp!r}")


def _parse_unit(
    value: Any,
    pattern: re.Pattern[str],
    units: dict[str, int],
    result: type,
    node: Located,
    key: str,
    problems: list[Problem],
    example: str,
) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return result(value)
    match = pattern.match(str(value)) if isinstance(value, str) else None
    if match is None:
        problems.append(
            node.problem(f"'{key}' must look like {example}, not {value!r}")
        )
        return INVALID
    unit = (match.group(2) or "").lower()[:1]
    return result(float(match.group(1)) * units[unit])
