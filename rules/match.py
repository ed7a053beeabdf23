"""Evaluating rules: the first matching rule decides, unless it says `continue`.

Pure: everything a rule can test arrives in a MatchInput, and the answer is
a Decision plus a trace of the rules tried. With `explain`, each trace line
also says in words why the rule did or did not match (`tierdesk rules test`,
the examples); the pipeline skips the words, which is most of the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from tierdesk.parsers.parsed import Classification, ParsedMail
from tierdesk.rules.calendar import is_open
from tierdesk.rules.decision import Decision
from tierdesk.rules.model import Actions, Condition, RuleSet

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class MatchInput:
    """What rules can test about one message."""

    mail: ParsedMail
    classification: Classification
    recipients: tuple[str, ...] = ()
    mailbox: str = ""
    origin_queue: str | None = None
    known_customer: bool = False
    language: str = "en"
    now: datetime = field(default_factory=lambda: datetime.now(ZoneInfo("UTC")))


@dataclass(frozen=True)
class RuleTrace:
    """One rule tried: did it match, and (when explained) why. Unexplained traces list only matches."""

    rule: str
    line: int | None
    matched: bool
    reason: str = ""


@dataclass(frozen=True)
class Routing:
    """The decision and how it was reached."""

    decision: Decision
    trace: tuple[RuleTrace, ...]


class Facts:
    """The message's testable values, each worked out once however many rules ask."""

    def __init__(self, inp: MatchInput, ruleset: RuleSet) -> None:
        self.inp = inp
        self.ruleset = ruleset

    @cached_property
    def sender(self) -> str:
        return self.inp.mail.from_.key if self.inp.mail.from_ else ""

    @cached_property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2]

    @cached_property
    def subject(self) -> str:
        return self.inp.mail.subject.casefold()

    @cached_property
    def body(self) -> str:
        return self.inp.mail.text.casefold()

    @cached_property
    def recipients(self) -> list[str]:
        headers = [a.key for a in (*self.inp.mail.to, *self.inp.mail.cc)]
        return list(dict.fromkeys([r.lower() for r in self.inp.recipients] + headers))

    @cached_property
    def plus_tags(self) -> set[str]:
        return {
            address.partition("@")[0].partition("+")[2] for address in self.recipients
        } - {""}

    @cached_property
    def attachments(self) -> list[tuple[str, str]]:
        return [
            (a.content_type.lower(), a.filename.lower())
            for a in self.inp.mail.attachments
        ]

    @cached_property
    def vip(self) -> bool:
        return any(p.match(self.sender) for p in self.ruleset.vip_patterns)

    @cached_property
    def local(self) -> datetime:
        return self.inp.now.astimezone(ZoneInfo(self.ruleset.timezone))


def decide(ruleset: RuleSet, inp: MatchInput, explain: bool = False) -> Routing:
    """Walk the rules in order and build the decision for one message."""
    facts = Facts(inp, ruleset)
    chosen: list[Actions] = []
    trace = []
    for rule in ruleset.rules:
        matched = rule.when is None or _check(rule.when, facts)
        reason = ""
        if explain:
            reason = (
                "no conditions"
                if rule.when is None
                else _why(rule.when, facts, matched)
            )
        trace.append(RuleTrace(rule.name, rule.line, matched, reason))
        if matched:
            chosen.append(rule.then)
            if not rule.keep_going:
                break
    names = tuple(t.rule for t in trace if t.matched)
    return Routing(_combine(chosen, ruleset.default, inp, names), tuple(trace))


def _combine(
    chosen: list[Actions], default: Actions, inp: MatchInput, names: tuple[str, ...]
) -> Decision:
    """Later matches override earlier ones; tags add up; the default fills the gaps."""

    def pick(attr: str, fallback: object) -> object:
        for actions in reversed(chosen):
            value = getattr(actions, attr)
            if value is not None:
                return value
        if attr == "queue" and inp.origin_queue:
            return inp.origin_queue
        value = getattr(default, attr)
        return fallback if value is None else value

    every = [*chosen, default]
    tags = tuple(dict.fromkeys(tag for actions in every for tag in actions.tags))
    action = "ticket"
    if any(a.drop for a in every):
        action = "drop"
    elif any(a.quarantine for a in every):
        action = "quarantine"
    assign = pick("assign", None)
    group = None if assign else pick("assign_group", None)
    return Decision(
        tier=pick("tier", 1),
        queue=pick("queue", "default"),
        priority=pick("priority", "normal"),
        assignee=assign,
        assign_group=group,
        tags=tags,
        language=pick("language", inp.language),
        template=pick("template", "ack"),
        sla=pick("sla", None),
        acknowledge=not any(a.no_ack for a in every),
        action=action,
        matched_rules=names,
    )


def _check(cond: Condition, facts: Facts) -> bool:
    """Whether a condition holds."""
    return _TESTS[cond.kind](cond, facts)


def _time_between(cond: Condition, facts: Facts) -> bool:
    start, end = (int(v) for v in cond.values)
    minute = facts.local.hour * 60 + facts.local.minute
    return start <= minute < end if start <= end else (minute >= start or minute < end)


def _text(cond: Condition, facts: Facts) -> bool:
    assert cond.text is not None
    if cond.kind == "subject":
        return cond.text.check(facts.inp.mail.subject, facts.subject)
    if cond.kind == "body":
        return cond.text.check(facts.inp.mail.text, facts.body)
    return cond.text.check(facts.inp.mail.headers.get(cond.header))


def _is_open(cond: Condition, facts: Facts) -> bool:
    assert cond.hours is not None
    return is_open(cond.hours, facts.inp.now)


_TESTS: dict[str, Callable[[Condition, Facts], bool]] = {
    "all": lambda c, f: all(_check(child, f) for child in c.children),
    "any": lambda c, f: any(_check(child, f) for child in c.children),
    "not": lambda c, f: not _check(c.children[0], f),
    "sender": lambda c, f: any(p.match(f.sender) for p in c.patterns),
    "sender_domain": lambda c, f: any(p.match(f.domain) for p in c.patterns),
    "recipient": lambda c, f: _recipient_matches(c, f) is not None,
    "mailbox": lambda c, f: f.inp.mailbox.lower() in (v.lower() for v in c.values),
    "language": lambda c, f: f.inp.language.lower() in c.values,
    "classification": lambda c, f: f.inp.classification.kind.value in c.values,
    "attachment_type": lambda c, f: _attachment_matches(c, f) is not None,
    "subject": _text,
    "body": _text,
    "header": _text,
    "has_attachment": lambda c, f: (
        any(not a.inline for a in f.inp.mail.attachments) == c.flag
    ),
    "known_customer": lambda c, f: f.inp.known_customer == c.flag,
    "vip": lambda c, f: f.vip == c.flag,
    "business_hours": _is_open,
    "weekday": lambda c, f: f.local.weekday() in c.days,
    "time_between": _time_between,
}


def _recipient_matches(cond: Condition, facts: Facts) -> str | None:
    for value, pattern in zip(cond.values, cond.patterns, strict=True):
        if "@" in value:
            for address in facts.recipients:
                if pattern.match(address):
                    return address
        elif value in facts.plus_tags:
            return next(
                a for a in facts.recipients if a.partition("@")[0].endswith(f"+{value}")
            )
    return None


def _attachment_matches(cond: Condition, facts: Facts) -> str | None:
    for content_type, filename in facts.attachments:
        for value, pattern in zip(cond.values, cond.patterns, strict=True):
            if pattern.match(content_type if "/" in value else filename):
                return filename
    return None


def _why(cond: Condition, facts: Facts, matched: bool) -> str:
    """The reason, in words, that a condition held (or did not)."""
    kind = cond.kind
    if kind == "all":
        if matched:
            return " and ".join(_why(child, facts, True) for child in cond.children)
        failing = next(child for child in cond.children if not _check(child, facts))
        return _why(failing, facts, False)
    if kind == "any":
        if matched:
            winner = next(child for child in cond.children if _check(child, facts))
            return _why(winner, facts, True)
        return "none of: " + "; ".join(
            _why(child, facts, False) for child in cond.children
        )
    if kind == "not":
        return f"not: {_why(cond.children[0], facts, not matched)}"
    inp = facts.inp
    listed = ", ".join(cond.values)
    if kind in ("sender", "sender_domain"):
        value = facts.sender if kind == "sender" else facts.domain
        return (
            f"{kind} {value!r} {'matches' if matched else 'matches none of'} {listed}"
        )
    if kind == "recipient":
        hit = _recipient_matches(cond, facts)
        got = ", ".join(facts.recipients) or "none"
        return (
            f"recipient {hit!r} matches {listed}"
            if hit
            else f"no recipient matches {listed} (got {got})"
        )
    if kind in ("mailbox", "language", "classification"):
        value = {
            "mailbox": inp.mailbox,
            "language": inp.language,
            "classification": inp.classification.kind.value,
        }[kind]
        return f"{kind} is {value!r}" + (
            "" if matched else f", not {' or '.join(cond.values)}"
        )
    if kind == "attachment_type":
        hit = _attachment_matches(cond, facts)
        return (
            f"attachment {hit!r} matches {listed}"
            if hit
            else f"no attachment matches {listed}"
        )
    if kind in ("subject", "body", "header"):
        assert cond.text is not None
        label = f"header {cond.header}" if kind == "header" else kind
        return f"{label} {cond.text.describe(matched)}"
    if kind == "has_attachment":
        has = any(not a.inline for a in inp.mail.attachments)
        return f"has_attachment is {str(has).lower()}"
    if kind == "known_customer":
        return f"known_customer is {str(inp.known_customer).lower()}"
    if kind == "vip":
        return f"{facts.sender or 'the sender'} is {'' if facts.vip else 'not '}a VIP"
    local = facts.local
    if kind == "business_hours":
        is_in = _check(cond, facts)
        return f"{local:%a %H:%M} is {'within' if is_in else 'outside'} business_hours {cond.values[0]}"
    if kind == "weekday":
        return f"weekday is {DAY_NAMES[local.weekday()]}"
    start, end = (int(v) for v in cond.values)
    return (
        f"time {local:%H:%M} is {'within' if _check(cond, facts) else 'outside'} "
        f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    )
