"""What the pipeline found out about saved answers for one agent mail (daemon/answers.py gathers it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerEntry:
    """One saved answer: its name, the languages it is written in, its first line."""

    name: str
    languages: tuple[str, ...]
    first_line: str


@dataclass(frozen=True)
class SavedAnswers:
    """The saved answers there are, and the one the mail names, rendered for its ticket.

    `problem` says why the named answer cannot go (no such answer, with the
    close names; or it does not render, with file:line); then `text` is empty.
    """

    entries: tuple[AnswerEntry, ...] = ()
    named: str = ""
    text: str = ""
    language: str = ""
    problem: str = ""

    @property
    def names(self) -> frozenset[str]:
        """The names of all saved answers."""
        return frozenset(e.name for e in self.entries)
