"""Command lines at the top of an agent's reply: `#status resolved`, `#tier 2` ...

The block is the run of `#word` lines (blank lines between allowed) that opens
the text; the first other line ends it, so a #hashtag in prose stays text.
Values are checked here; names of agents, queues and vendors are not, the
caller knows them. Subject args (`[status=resolved]`) are the same commands.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One command: its lower-case name, checked args, 1-based line (0: subject), the line."""

    name: str
    args: tuple[str, ...]
    line: int
    text: str


@dataclass(frozen=True)
class CommandBlock:
    """The valid commands, one message per problem, and the text without command lines."""

    commands: tuple[Command, ...]
    errors: tuple[str, ...]
    body: str


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")
# The word must be followed by a space, ":" or "=" (or end the line):
# "#hashtag!" or "#1" is prose, not a mistyped command.
_COMMAND_RE = re.compile(r"\s*#([^\W\d_][\w-]*)(?:\s*[:=]|\s|$)(.*)", re.DOTALL)
_ARG_SPLIT_RE = re.compile(r"[\s,]+")
# "#merge 123", "#merge #123", "#merge [ACME #123]", "#merge ACME #123".
_MERGE_RE = re.compile(
    r"\[?\s*(?:[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*)*\s*(?=#))?#?\s*(\d{1,18})\s*\]?"
)
_ME_OR_NONE = ("me", "none")
_MAX_ECHO = 60  # errors go back to the agent; a pasted paragraph need not

# A check turns the raw value text into the args, or into an error message.
Check = Callable[[str], tuple[str, ...] | str]


def _choice(name: str, values: tuple[str, ...]) -> Check:
    """A check for one value out of `values`, in any case; gives it lower-cased."""
    allowed = ", ".join(values[:-1]) + f" or {values[-1]}"

    def check(raw: str) -> tuple[str, ...] | str:
        value = raw.strip().lower()
        if value in values:
            return (value,)
        return f"#{name} takes {allowed}, {_not(raw)}"

    return check


def _name(name: str, what: str) -> Check:
    """A check for a free name, kept as given; the caller knows the valid ones."""

    def check(raw: str) -> tuple[str, ...] | str:
        value = raw.strip()
        if not value:
            return f"#{name} needs {what}"
        # "me" and "none" are keywords of #assign, so their case is ours to fix.
        if name == "assign" and value.lower() in _ME_OR_NONE:
            return (value.lower(),)
        return (value,)

    return check


def _answers(raw: str) -> tuple[str, ...] | str:
    """No value: the list of saved answers, mailed to the agent."""
    return () if not raw.strip() else f"#answers takes no value, {_not(raw)}"


def _tags(raw: str) -> tuple[str, ...] | str:
    """Tags to add ("+a" or bare "a") and remove ("-b"), as "+a"/"-b"."""
    result: list[str] = []
    for word in _ARG_SPLIT_RE.split(raw.strip()):
        if not word:
            continue
        sign, tag = (word[0], word[1:]) if word[0] in "+-" else ("+", word)
        if not tag or tag[0] in "+-":
            return f"#tags: {word!r} is not a tag"
        opposite = ("-" if sign == "+" else "+") + tag
        if opposite in result:
            return f"#tags both adds and removes {tag!r}"
        if sign + tag not in result:
            result.append(sign + tag)
    return tuple(result) if result else "#tags needs at least one tag: +add -remove"


def _merge(raw: str) -> tuple[str, ...] | str:
    """The ticket number out of "123", "#123" or "[ACME #123]"."""
    found = _MERGE_RE.fullmatch(raw.strip())
    if found and int(found.group(1)) > 0:
        return (str(int(found.group(1))),)
    return f"#merge takes a ticket number, {_not(raw)}"


def _comment(raw: str) -> tuple[str, ...] | str:
    """No value: the reply is a private note."""
    return () if not raw.strip() else f"#comment takes no value, {_not(raw)}"


def _files(raw: str) -> tuple[str, ...] | str:
    """No value: the ticket's files, mailed to the agent."""
    return () if not raw.strip() else f"#files takes no value, {_not(raw)}"


def _cc(raw: str) -> tuple[str, ...] | str:
    """Customer watchers to add ("+a@b" or bare "a@b") and remove ("-a@b"), as "+a@b"/"-a@b"."""
    result: list[str] = []
    for word in _ARG_SPLIT_RE.split(raw.strip()):
        if not word:
            continue
        sign, address = (word[0], word[1:]) if word[0] in "+-" else ("+", word)
        address = address.strip("<>")
        local, at, domain = address.rpartition("@")
        if not (local and at and "." in domain):
            return f"#cc: {word!r} is not an address; write +name@example.com or -name@example.com"
        if sign + address not in result:
            result.append(sign + address)
    if not result:
        return "#cc needs an address: +add@example.com -remove@example.com"
    return tuple(result)


def _not(raw: str) -> str:
    """The end of an error message about the value `raw`."""
    value = raw.strip()
    if len(value) > _MAX_ECHO:
        value = value[: _MAX_ECHO - 1] + "…"
    return f"not {value!r}" if value else "none given"


_CHECKS: dict[str, Check] = {
    "status": _choice("status", ("open", "pending", "resolved", "closed")),
    # saved answers (daemon/answers.py): #answer may also stand on a line of its own below the text
    "answer": _name("answer", "a saved answer's name"),
    "answers": _answers,
    "tier": _choice("tier", ("1", "2", "3", "4")),
    "assign": _name("assign", "an agent name, 'me' or 'none'"),
    "priority": _choice("priority", ("low", "normal", "high", "urgent")),
    "queue": _name("queue", "a queue name"),
    "tags": _tags,
    "merge": _merge,
    "comment": _comment,
    "vendor": _name("vendor", "a vendor name"),
    "files": _files,
    "cc": _cc,
}
COMMAND_NAMES: tuple[str, ...] = tuple(_CHECKS)


def is_command_line(line: str) -> bool:
    """True when `line` (without its line break) is a command line, known or not."""
    return _COMMAND_RE.fullmatch(line) is not None


def check_value(name: str, raw: str) -> tuple[str, ...] | str:
    """The args of command `name` (known, lower-case) for the value text `raw`, or the error."""
    return _CHECKS[name](raw)


def parse_commands(
    text: str, subject_args: dict[str, str] | None = None
) -> CommandBlock:
    """Split the command block off the top of `text`; check it and the subject args.

    Commands in error are left out of `commands`; their lines still leave the body.
    """
    commands: list[Command] = []
    errors: list[str] = []
    from_subject: set[str] = set()
    for key, value in (subject_args or {}).items():
        name = key.strip().lower()
        outcome = _check(name, f"#{name}", value, "subject", from_subject)
        if name in _CHECKS:
            from_subject.add(name)
        if isinstance(outcome, str):
            errors.append(outcome)
        else:
            commands.append(Command(name, outcome, 0, f"{key}={value}"))

    seen: set[str] = set()
    offset = 0
    number = 0
    for found in _LINE_RE.finditer(text):
        if found.start() == len(text) and number:
            break  # the empty match after the last line break
        raw = found.group()
        line = raw.rstrip("\r\n")
        number += 1
        if not line.strip():
            offset = found.end()
            continue
        parts = _COMMAND_RE.fullmatch(line)
        if not parts:
            break
        offset = found.end()
        word, rest = parts.group(1), parts.group(2)
        name = word.lower()
        where = f"line {number}"
        if name in from_subject:
            errors.append(f"{where}: #{name} also given in the subject")
            continue
        outcome = _check(name, f"#{word}", rest, where, seen)
        seen.add(name)
        if isinstance(outcome, str):
            errors.append(outcome)
        else:
            commands.append(Command(name, outcome, number, line))

    return CommandBlock(tuple(commands), tuple(errors), text[offset:])


def _check(
    name: str, typed: str, raw: str, where: str, seen: set[str]
) -> tuple[str, ...] | str:
    """The args of one command, or the error message for it (prefixed with `where`)."""
    check = _CHECKS.get(name)
    if check is None:
        close = difflib.get_close_matches(name, COMMAND_NAMES, n=1)
        hint = f" (did you mean '#{close[0]}'?)" if close else ""
        return f"{where}: unknown command {typed!r}{hint}"
    if name in seen:
        return f"{where}: #{name} given twice"
    outcome = check(raw)
    return f"{where}: {outcome}" if isinstance(outcome, str) else outcome
