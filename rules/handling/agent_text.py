"""The agent's own text: the `#answer NAME` line in it, and commands misplaced in it.

The layout of an answer with a saved answer is: the agent's own words
first, then a blank line, then the saved answer, wherever in the text the
`#answer` line stands (on a line of its own, or in the command block). Any
other command in the text refuses the mail (parsers/misplaced_commands.py).
"""

from __future__ import annotations

import re

from tierdesk.parsers.commands import CommandBlock
from tierdesk.parsers.misplaced_commands import find_misplaced, misplaced_error
from tierdesk.rules.handling.answer_facts import SavedAnswers
from tierdesk.rules.handling.commands import vendors_of
from tierdesk.rules.handling.settings import Settings

_ANSWER_LINE_RE = re.compile(
    r"[ \t]*#answer(?:[ \t]*[:=][ \t]*|[ \t]+)(\S+)[ \t]*", re.IGNORECASE
)
_ANSWERS_HINT = re.compile(r"#answers?\b", re.IGNORECASE)


def answer_line(text: str) -> tuple[str, str | None]:
    """The text without its `#answer NAME` line (a line of its own), and that name."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = _ANSWER_LINE_RE.fullmatch(line)
        if found:
            rest = "\n".join(lines[:index] + lines[index + 1 :]).strip()
            return rest, found.group(1)
    return text, None


def answer_named(block: CommandBlock, own_text: str) -> str | None:
    """The saved answer an agent's mail names: in the command block or on a line of its own."""
    for command in block.commands:
        if command.name == "answer":
            return command.args[0].lower()  # the files' names are lower-case
    name = answer_line(own_text)[1]
    return name.lower() if name else None


def mentions_answers(text: str) -> bool:
    """Whether a mail's text says `#answer` or `#answers` anywhere (then the catalogue is read)."""
    return _ANSWERS_HINT.search(text) is not None


def own_text_errors(
    block: CommandBlock, own_text: str, answers: SavedAnswers | None, settings: Settings
) -> list[str]:
    """Commands misplaced in the agent's text; a named answer that cannot go."""
    text, line_answer = answer_line(own_text)
    rules = settings.rules
    known = {
        "assign": {*rules.agents, "me", "none"},
        "queue": set(rules.queues),
        "vendor": set(vendors_of(rules)),
        "answer": set(answers.names) if answers else set(),
    }
    errors = [misplaced_error(m) for m in find_misplaced(text, known)]
    if any(c.name == "answers" for c in block.commands) and (
        text or len(block.commands) > 1
    ):
        errors.append(
            "#answers stands alone: send it with no other command and no text"
        )
    in_block = any(c.name == "answer" for c in block.commands)
    if in_block and line_answer:
        errors.append("#answer given twice: name one saved answer")
    if (in_block or line_answer) and (answers is None or answers.problem):
        errors.append(answers.problem if answers else "saved answers are not available")
    return errors


def with_saved_answer(own_text: str, answers: SavedAnswers | None) -> str:
    """What the customer reads: the agent's own words first, then the saved answer."""
    text, _ = answer_line(own_text)
    if answers is None or not answers.text:
        return text
    return f"{text}\n\n{answers.text.strip()}" if text else answers.text.strip()
