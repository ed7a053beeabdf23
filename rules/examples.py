"""Examples inside a rules file (`tests:`): small messages and the decision each must get.

An example gives headers and a body inline (or names an .eml file) and what
it expects. `rules check` runs them, and a file whose examples fail is not
loaded. Unless an example says `now:`, it is evaluated on a Wednesday at
10:00 in the rules' time zone, so business-hours rules test the same way
whenever the check runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tierdesk.parsers.classify import classify
from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.match import MatchInput, decide
from tierdesk.rules.model import Example, RuleSet
from tierdesk.rules.yamlsource import (
    Located,
    Problem,
    entries,
    is_mapping,
    is_sequence,
    items,
    suggest,
)

EXAMPLE_KEYS = (
    "name",
    "from",
    "to",
    "cc",
    "subject",
    "body",
    "headers",
    "attachments",
    "mailbox",
    "known_customer",
    "sender",
    "eml",
    "now",
    "expect",
)
EXPECT_KEYS = (
    "tier",
    "queue",
    "priority",
    "assign",
    "assign_group",
    "tags",
    "language",
    "template",
    "sla",
    "ack",
    "action",
    "rules",
)
DEFAULT_NOW = "2026-01-07T10:00:00"  # a Wednesday


def parse_examples(node: Located, problems: list[Problem]) -> list[Example]:
    """The `tests:` list."""
    if not is_sequence(node.value):
        problems.append(node.problem("'tests' must be a list of examples"))
        return []
    out = []
    for item in items(node):
        example = _example(item, problems)
        if example is not None:
            out.append(example)
    return out


def _example(node: Located, problems: list[Problem]) -> Example | None:
    if not is_mapping(node.value):
        problems.append(
            node.problem(
                "an example is a mapping: name, from, subject, body ... and expect"
            )
        )
        return None
    fields = dict(entries(node))
    before = len(problems)
    for key, value in fields.items():
        if key not in EXAMPLE_KEYS:
            problems.append(
                value.problem(
                    f"unknown key '{key}' in an example{suggest(key, EXAMPLE_KEYS)}"
                )
            )
    name = (
        str(fields["name"].value)
        if "name" in fields
        else f"example at line {node.line}"
    )
    expect = fields.get("expect")
    if expect is None or not is_mapping(expect.value):
        problems.append(
            node.problem(f"example {name!r} needs 'expect', e.g. {{queue: billing}}")
        )
        return None
    for key, value in entries(expect):
        if key not in EXPECT_KEYS:
            problems.append(
                value.problem(
                    f"unknown key '{key}' in expect{suggest(key, EXPECT_KEYS)}"
                )
            )
    raw = _raw(fields, node, problems)
    if raw is None or len(problems) > before:
        return None
    value = lambda key, default=None: fields[key].value if key in fields else default
    recipients = value("to", "support@example.com")
    return Example(
        name=name,
        line=node.line,
        raw=raw,
        envelope_sender=value("sender"),
        recipients=tuple(recipients)
        if isinstance(recipients, list)
        else (str(recipients),),
        mailbox=str(value("mailbox", "")),
        known_customer=bool(value("known_customer", False)),
        expect={k: v.value for k, v in entries(expect)}
        | {"__now__": str(value("now", DEFAULT_NOW))},
        path=node.path,
    )


def _raw(
    fields: dict[str, Located], node: Located, problems: list[Problem]
) -> bytes | None:
    if "eml" in fields:
        path = Path(node.path).parent / str(fields["eml"].value)
        try:
            return path.read_bytes()
        except OSError as exc:
            problems.append(
                fields["eml"].problem(f"cannot read {path}: {exc.strerror}")
            )
            return None
    text = lambda key, default="": str(fields[key].value) if key in fields else default
    to = fields["to"].value if "to" in fields else "support@example.com"
    headers = [
        ("From", text("from", "customer@example.org")),
        ("To", ", ".join(to) if isinstance(to, list) else str(to)),
        ("Subject", text("subject")),
        ("Date", format_datetime(datetime(2026, 1, 7, 10, 0, tzinfo=ZoneInfo("UTC")))),
        ("Message-ID", f"<example-{node.line}@rules.invalid>"),
        ("MIME-Version", "1.0"),
    ]
    if "cc" in fields:
        headers.append(("Cc", text("cc")))
    if "headers" in fields:
        if not is_mapping(fields["headers"].value):
            problems.append(
                fields["headers"].problem("'headers' maps header names to values")
            )
            return None
        headers += [(k, str(v.value)) for k, v in entries(fields["headers"])]
    body = text("body", "")
    attachments = fields["attachments"].value if "attachments" in fields else []
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    if not attachments:
        part = 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        return (head + part + body.replace("\n", "\r\n")).encode("utf-8")
    boundary = "example-boundary"
    parts = [
        f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}'
    ]
    for name in attachments:
        parts.append(
            f'Content-Type: application/octet-stream; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\nZXhhbXBsZQ==\r\n"
        )
    joined = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    return (
        head + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n' + joined
    ).encode("utf-8")


@dataclass(frozen=True)
class ExampleResult:
    """An example's outcome: the mismatches, empty when it passed."""

    example: Example
    mismatches: tuple[str, ...]
    explanation: str


def evaluate(
    ruleset: RuleSet, example: Example, languages: tuple[str, ...] = ("en", "ru")
) -> ExampleResult:
    """Run one example through the rules and compare with what it expects."""
    mail = parse_mail(example.raw)
    now = datetime.fromisoformat(str(example.expect["__now__"]))
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(ruleset.timezone))
    routing = decide(
        ruleset,
        MatchInput(
            mail=mail,
            classification=classify(mail, example.envelope_sender, frozenset(), ""),
            recipients=example.recipients,
            mailbox=example.mailbox,
            known_customer=example.known_customer,
            language=detect_language(mail, supported=languages),
            now=now,
        ),
        explain=True,
    )
    got = _observed(routing.decision)
    mismatches = tuple(
        f"expected {key} {want!r}, got {got[key]!r}"
        for key, want in example.expect.items()
        if key != "__now__" and not _same(key, want, got[key])
    )
    tried = ", ".join(
        f"{t.rule} ({'matched' if t.matched else 'no'}: {t.reason})"
        for t in routing.trace
    )
    return ExampleResult(example, mismatches, tried or "no rules")


def _observed(decision: Any) -> dict[str, Any]:
    return {
        "tier": decision.tier,
        "queue": decision.queue,
        "priority": decision.priority,
        "assign": decision.assignee,
        "assign_group": decision.assign_group,
        "tags": list(decision.tags),
        "language": decision.language,
        "template": decision.template,
        "sla": decision.sla,
        "ack": decision.acknowledge,
        "action": decision.action,
        "rules": list(decision.matched_rules),
    }


def _same(key: str, want: Any, got: Any) -> bool:
    if key in ("tags", "rules"):
        return sorted(want if isinstance(want, list) else [want]) == sorted(got)
    return want == got


def run_examples(ruleset: RuleSet) -> list[Problem]:
    """A problem for each example that does not get the decision it expects."""
    problems = []
    for example in ruleset.examples:
        result = evaluate(ruleset, example)
        if result.mismatches:
            problems.append(
                Problem(
                    example.path or ruleset.source,
                    example.line,
                    f"example {example.name!r}: {'; '.join(result.mismatches)} (rules tried: {result.explanation})",
                )
            )
    return problems
