"""Evaluating rules: the first matching rule decides, unless it says `continue`.

Pure: everything a rule can test arrives in a MatchInput, and the answer is
a Decision plus a trace of every rule tried and why it did or did not match
(`tierdesk rules test` prints it; the ticket's first event records it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from parsers.parsed import Classification, ParsedMail
from rules.calendar import is_open
from rules.decision import Decision
from rules.model import Actions, Condition, RuleSet

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
    """One rule tried: did it match, and the test that decided it."""

    rule: str
    line: int | None
    matched: bool
    reason: str


@dataclass(frozen=True)
class Routing:
    """The decision and how it was reached."""

    decision: Decision
    trace: tuple[RuleTrace, ...]


def decide(ruleset: RuleSet, inp: MatchInput) -> Routing:
    """Walk the rules in order and build the decision for one message."""
    chosen: list[Actions] = []
    trace = []
    for rule in ruleset.rules:
        matched, reason = (
            (True, "no conditions")
            if rule.when is None
            else _check(rule.when, inp, ruleset)
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


def _check(cond: Condition, inp: MatchInput, ruleset: RuleSet) -> tuple[bool, str]:
    """Whether a condition holds, and the reason in words."""
    kind = cond.kind
    if kind == "all":
        reasons = []
        for child in cond.children:
            ok, why = _check(child, inp, ruleset)
            if not ok:
                return False, why
            reasons.append(why)
        return True, " and ".join(reasons)
    if kind == "any":
        misses = []
        for child in cond.children:
            ok, why = _check(child, inp, ruleset)
            if ok:
                return True, why
            misses.append(why)
        return False, "none of: " + "; ".join(misses)
    if kind == "not":
        ok, why = _check(cond.children[0], inp, ruleset)
        return not ok, f"not: {why}"
    return _test(cond, inp, ruleset)


def _test(cond: Condition, inp: MatchInput, ruleset: RuleSet) -> tuple[bool, str]:
    mail = inp.mail
    sender = mail.from_.key if mail.from_ else ""
    kind = cond.kind
    if kind == "sender":
        return _globs(kind, sender, cond.values)
    if kind == "sender_domain":
        return _globs(kind, sender.rpartition("@")[2], cond.values)
    if kind == "recipient":
        return _recipient(cond.values, _recipients(inp))
    if kind == "mailbox":
        return _one_of(kind, inp.mailbox, cond.values)
    if kind == "language":
        return _one_of(kind, inp.language, cond.values)
    if kind == "classification":
        return _one_of(kind, inp.classification.kind.value, cond.values)
    if kind == "attachment_type":
        return _attachment_type(cond.values, mail)
    if kind in ("subject", "body", "header"):
        text = (
            {"subject": mail.subject, "body": mail.text}.get(kind)
            if kind != "header"
            else mail.headers.get(cond.header)
        )
        assert cond.text is not None
        label = f"header {cond.header}" if kind == "header" else kind
        passed = cond.text.check(text)
        return passed, f"{label} {cond.text.describe(passed)}"
    if kind == "has_attachment":
        has = any(not a.inline for a in mail.attachments)
        return has == cond.flag, f"has_attachment is {str(has).lower()}"
    if kind == "known_customer":
        return (
            inp.known_customer == cond.flag,
            f"known_customer is {str(inp.known_customer).lower()}",
        )
    if kind == "vip":
        vip = any(fnmatchcase(sender, pattern) for pattern in ruleset.vip)
        return (
            vip == cond.flag,
            f"{sender or 'the sender'} is {'' if vip else 'not '}a VIP",
        )
    local = inp.now.astimezone(ZoneInfo(ruleset.timezone))
    if kind == "business_hours":
        assert cond.hours is not None
        open_now = is_open(cond.hours, inp.now)
        return (
            open_now,
            f"{local:%a %H:%M} is {'within' if open_now else 'outside'} business_hours {cond.values[0]}",
        )
    if kind == "weekday":
        return local.weekday() in cond.days, f"weekday is {DAY_NAMES[local.weekday()]}"
    if kind == "time_between":
        start, end = (int(v) for v in cond.values)
        minute = local.hour * 60 + local.minute
        inside = (
            start <= minute < end if start <= end else (minute >= start or minute < end)
        )
        return (
            inside,
            f"time {local:%H:%M} is {'within' if inside else 'outside'} {_hhmm(start)}-{_hhmm(end)}",
        )
    raise AssertionError(f"unhandled test {kind}")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _globs(kind: str, value: str, patterns: tuple[str, ...]) -> tuple[bool, str]:
    for pattern in patterns:
        if fnmatchcase(value, pattern):
            return True, f"{kind} {value!r} matches {pattern!r}"
    return False, f"{kind} {value!r} matches none of {', '.join(patterns)}"


def _one_of(kind: str, value: str, allowed: tuple[str, ...]) -> tuple[bool, str]:
    ok = value.lower() in allowed
    return ok, f"{kind} is {value!r}" + ("" if ok else f", not {' or '.join(allowed)}")


def _recipients(inp: MatchInput) -> list[str]:
    headers = [a.key for a in (*inp.mail.to, *inp.mail.cc)]
    return list(dict.fromkeys([r.lower() for r in inp.recipients] + headers))


def _recipient(values: tuple[str, ...], recipients: list[str]) -> tuple[bool, str]:
    for value in values:
        for address in recipients:
            local, _, _domain = address.partition("@")
            tag = local.partition("+")[2]
            if ("@" in value and fnmatchcase(address, value)) or (
                "@" not in value and tag == value
            ):
                return True, f"recipient {address!r} matches {value!r}"
    return (
        False,
        f"no recipient matches {', '.join(values)} (got {', '.join(recipients) or 'none'})",
    )


def _attachment_type(patterns: tuple[str, ...], mail: ParsedMail) -> tuple[bool, str]:
    for attachment in mail.attachments:
        for pattern in patterns:
            subject = (
                attachment.content_type.lower()
                if "/" in pattern
                else attachment.filename.lower()
            )
            if fnmatchcase(subject, pattern):
                return True, f"attachment {attachment.filename!r} matches {pattern!r}"
    return False, f"no attachment matches {', '.join(patterns)}"
