"""Commands an agent wrote in their text instead of the command block at the top.

"Please restart the router. #status pending" would reach the customer word
for word and change nothing; such a mail is refused, with the corrected
layout. The rule, made so that ordinary prose and quoted customer text never
trip it:

- only the agent's own text counts (the caller strips the command block, the
  quoted history and our own notices first); lines that still begin with ">"
  are quotes left between the agent's answers and are skipped;
- the `#` starts a word: at the start of a line, after a space or an opening
  bracket or quote, never inside a word (`C#`), a URL (`…/page#status`) or
  `##`;
- the word is a command name (`#1`, `#hashtag` are prose);
- and the value after it is one the command would take: `#status pending`,
  `#tier 2`; for a name (`#assign`, `#queue`, `#vendor`, `#answer`) one of
  the names the desk knows, when the caller says which; a command that takes
  no value (`#comment`, `#answers`) only at the end of a line. "see #status
  above" is prose; "#status pending" anywhere is a command.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tierdesk.parsers.commands import COMMAND_NAMES, check_value

# "#word value": the value is the next word, without the sentence's punctuation
_HASH_WORD_RE = re.compile(r"(?<![\w#/&:.@=?-])#([^\W\d_][\w-]*)(?:[ \t]*[:=]?[ \t]*)")
_VALUE_RE = re.compile(r"[^\s]+")
_TRAILING_PUNCTUATION = ".,;:!?)]}»\"'"
_URL_RE = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*", re.IGNORECASE)
_NO_VALUE = ("comment", "answers", "files")


@dataclass(frozen=True)
class Misplaced:
    """A command found in the agent's text: the command as written, and its line."""

    command: str  # "#status pending"
    line: str  # the line it stands in, as written
    rest: str  # that line without the command


def find_misplaced(
    text: str, known_names: Mapping[str, Collection[str]] | None = None
) -> tuple[Misplaced, ...]:
    """The commands in `text` (the agent's own text, below the command block).

    `known_names` holds, per name command ("assign", "queue", ...), the values
    the desk knows; a name command without an entry takes any one word.
    """
    found: list[Misplaced] = []
    for line in text.splitlines():
        if line.lstrip().startswith(">"):
            continue
        urls = [m.span() for m in _URL_RE.finditer(line)]
        for match in _HASH_WORD_RE.finditer(line):
            if any(start <= match.start() < end for start, end in urls):
                continue
            command = _command_at(line, match, known_names or {})
            if command:
                rest = " ".join(line.replace(command, " ", 1).split())
                found.append(Misplaced(command, line.strip(), rest))
    return tuple(found)


def _command_at(
    line: str, match: re.Match[str], known_names: Mapping[str, Collection[str]]
) -> str | None:
    """The command as written at `match`, if the word is one with a value it takes."""
    name = match.group(1).lower()
    if name not in COMMAND_NAMES:
        return None
    after = line[match.end() :]
    if name in _NO_VALUE:
        return match.group(0).strip() if not after.strip() else None
    value = _VALUE_RE.match(after)
    if value is None:
        return None
    word = value.group().rstrip(_TRAILING_PUNCTUATION)
    if not word or isinstance(check_value(name, word), str):
        return None
    known = known_names.get(name)
    if known is not None and word not in known and word.lower() not in known:
        return None
    return line[match.start() : match.end() + len(word)]


def misplaced_error(found: Misplaced) -> str:
    """The refusal for one misplaced command: the line quoted, and the layout that works."""
    answer = found.command.lower().startswith("#answer")
    if answer:  # the one command that goes below the text, on a line of its own
        layout = f"{found.rest}\n\n{found.command}" if found.rest else found.command
        where = "Put #answer on a line of its own, below your text"
    else:
        layout = f"{found.command}\n\n{found.rest}" if found.rest else found.command
        where = "Put commands on their own lines at the very top of the reply, above your text"
    shown = "\n".join(f"      {line}" if line else "" for line in layout.splitlines())
    return (
        f'"{found.line}": {found.command} is a command, but it stands in your text, '
        "where it would go to the customer word for word and change nothing. "
        f"{where}:\n\n{shown}"
    )
