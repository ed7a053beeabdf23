"""Saved answers: `templates/answers/NAME.LANG.txt`, rendered for a ticket, and `tierdesk answers check`.

An answer is a Jinja2 template in the same sandboxed, strict environment as
the other templates, with `ticket`, `customer`, `agent`, `support` and
`token` in scope. The admin's `templates_dir` overrides them file by file
(`<templates_dir>/answers/NAME.LANG.txt`). An answer goes out in the
customer's language, else the default language, else any it is written in.
Its first line, when a Jinja comment `{# ... #}`, describes it in `#answers`
and is never sent.
"""

from __future__ import annotations

import argparse
import difflib
import re
from dataclasses import replace
from pathlib import Path

from jinja2 import FileSystemLoader, TemplateError, TemplateSyntaxError
from tierdesk.daemon.config import Config
from tierdesk.daemon.outgoing.templating import (
    MAX_RENDERED_CHARS,
    MAX_TEMPLATE_BYTES,
    Templates,
    builtin_templates_dir,
)
from tierdesk.daemon.snapshot import Snapshot
from tierdesk.rules.handling.agent import commands_of, new_text
from tierdesk.rules.handling.agent_text import answer_named, mentions_answers
from tierdesk.rules.handling.answer_facts import AnswerEntry, SavedAnswers
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Facts,
    Inbound,
    Party,
    TicketFacts,
)

_FILE_RE = re.compile(r"(?P<name>[a-z0-9][a-z0-9_-]*)\.(?P<lang>[a-z]{2,8})\.txt")
_COMMENT_RE = re.compile(r"\{#-?\s*(.*?)\s*-?#\}")
SAMPLE_TICKET = TicketFacts(
    id=0,
    number=123,
    subject="Printer on floor 3 is offline",
    status="open",
    tier=1,
    queue="general",
    priority="normal",
    language="en",
    requester_email="alice@customer.example",
    requester_name="Alice Example",
    assignee="alice",
)


class AnswerBook:
    """The saved answers of one configuration: the admin's first, then the built-in ones."""

    def __init__(self, override_dir: Path | None, default_language: str) -> None:
        self.default_language = default_language
        self.dirs = [
            d for d in (override_dir, builtin_templates_dir()) if d is not None
        ]
        self._files: dict[tuple[str, str], Path] = {}
        for base in reversed(self.dirs):  # the admin's file wins
            for path in sorted((base / "answers").glob("*.txt")):
                found = _FILE_RE.fullmatch(path.name)
                if found:
                    self._files[(found["name"], found["lang"])] = path

    def entries(self) -> tuple[AnswerEntry, ...]:
        """Every answer with its languages and first line (of the default language's file)."""
        by_name: dict[str, list[str]] = {}
        for name, lang in sorted(self._files):
            by_name.setdefault(name, []).append(lang)
        return tuple(
            AnswerEntry(name, tuple(langs), self._first_line(name, langs))
            for name, langs in by_name.items()
        )

    def files(self) -> dict[tuple[str, str], Path]:
        """Each (name, language) and the file that holds it."""
        return dict(self._files)

    def _first_line(self, name: str, langs: list[str]) -> str:
        lang = self.default_language if self.default_language in langs else langs[0]
        lines = self._files[(name, lang)].read_text("utf-8", "replace").splitlines()
        first = lines[0].strip() if lines else ""
        comment = _COMMENT_RE.fullmatch(first)
        return comment.group(1) if comment else first

    def language_for(self, name: str, wanted: str) -> str | None:
        """The language an answer goes out in: the customer's, the default, else any."""
        langs = sorted(lang for n, lang in self._files if n == name)
        for lang in (wanted, self.default_language, *langs):
            if lang in langs:
                return lang
        return None

    def render(self, name: str, lang: str, context: dict[str, object]) -> str:
        """One answer rendered; raises TemplateError with the file's line in it."""
        path = self._files[(name, lang)]
        env = Templates._environment(FileSystemLoader(str(path.parent)))
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"{path}: larger than {MAX_TEMPLATE_BYTES} bytes")
        try:
            rendered = env.get_template(path.name).render(context)
        except TemplateSyntaxError:
            raise
        except TemplateError as exc:
            raise TemplateError(f"{path}:{_error_line(exc, path)}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"{path}: not UTF-8 ({exc.reason}); save it as UTF-8"
            ) from exc
        return rendered[:MAX_RENDERED_CHARS].strip()


def _error_line(exc: BaseException, path: Path) -> int | str:
    """The template line a render error happened at, from its traceback."""
    tb = exc.__traceback__
    line: int | str = "?"
    while tb is not None:
        # Jinja2 rewrites the traceback: the template's frame carries its own line
        if Path(tb.tb_frame.f_code.co_filename).name == path.name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def answer_context(
    ticket: TicketFacts, agent_name: str, config: Config
) -> dict[str, object]:
    """What an answer can use: the ticket, its customer, the agent, us, the token."""
    support = config.support
    return {
        "ticket": ticket.as_template_dict(),
        "customer": {"name": ticket.requester_name, "email": ticket.requester_email},
        "agent": {"name": agent_name},
        "support": {"name": support.display_name, "address": support.sender},
        "token": f"[{support.subject_tag} #{ticket.number}]",
    }


def saved_answers_for(
    msg: Inbound, party: Party, facts: Facts, live: Snapshot
) -> Facts:
    """The saved answers an agent's mail names (`#answer`, `#answers`), gathered for its plan."""
    ticket = facts.match.ticket
    agent = party.agent if isinstance(party, ClaimedAgent) else None
    if agent is None or ticket is None:
        return facts
    block = commands_of(msg)
    own = new_text(block.body, facts)  # our notices' footers name #answer too
    in_block = any(c.name in ("answer", "answers") for c in block.commands)
    if not in_block and not mentions_answers(own):
        return facts
    book = AnswerBook(live.config.templates_dir, live.settings.default_language)
    found = SavedAnswers(entries=book.entries())
    name = answer_named(block, own)
    if name is not None:
        found = replace(found, named=name, problem=_not_found(name, found))
        lang = book.language_for(name, ticket.language)
        if lang is not None:
            try:
                context = answer_context(
                    ticket, agent.display_name or agent.name, live.config
                )
                text = book.render(name, lang, context)
                found = replace(found, text=text, language=lang)
            except TemplateSyntaxError as exc:
                found = replace(
                    found,
                    problem=f"#answer {name}: {exc.filename}:{exc.lineno}: {exc.message}",
                )
            except TemplateError as exc:
                found = replace(found, problem=f"#answer {name} does not render: {exc}")
    return replace(facts, saved_answers=found)


def _not_found(name: str, found: SavedAnswers) -> str:
    """The refusal for a name that is no saved answer, with the close ones ('' if it is one)."""
    if name in found.names:
        return ""
    close = difflib.get_close_matches(name, sorted(found.names), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    everything = ", ".join(sorted(found.names)) or "none"
    return (
        f"#answer: there is no saved answer {name!r}{hint}; saved answers: {everything}"
    )


def check_answers(book: AnswerBook, config: Config) -> list[str]:
    """Render every answer in every language against a sample ticket; each problem as file:line."""
    problems = []
    for (name, lang), path in sorted(book.files().items()):
        context = answer_context(
            replace(SAMPLE_TICKET, language=lang), "Sample Agent", config
        )
        try:
            book.render(name, lang, context)
        except TemplateSyntaxError as exc:
            problems.append(f"{path}:{exc.lineno}: {exc.message}")
        except TemplateError as exc:
            problems.append(str(exc))
    return problems


def answers_check(args: argparse.Namespace, config: Config) -> int:
    """`tierdesk answers check`: every saved answer renders, or each broken one is named."""
    book = AnswerBook(config.templates_dir, config.support.default_language)
    problems = check_answers(book, config)
    for problem in problems:
        print(problem)
    count = len(book.files())
    print(f"{count} saved answer file(s), {len(problems)} broken")
    return 1 if problems else 0


def add_answers_command(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`answers check`."""
    answers = sub.add_parser("answers", help="saved answers").add_subparsers(
        title="answers commands"
    )
    p = answers.add_parser(
        "check",
        parents=[common],
        help="render every saved answer against a sample ticket; exit 1 if any is broken",
    )
    p.set_defaults(handler=answers_check, needs_storage=False)
