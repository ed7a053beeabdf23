"""Evaluating rules: the first matching rule decides, unless it says `continue`.

Pure: everything a rule can test arrives in a MatchInput, and the answer is
a Decision plus a trace of the rules tried. With `explain`, each trace line
also says in words why the rule did or did not match (`tierdesk rules test`,
the examples); the pipeline skips the words, which is most of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tierdesk.parsers.parsed import Classification, ParsedMail
from tierdesk.rules.conditions import Facts
from tierdesk.rules.decision import Decision
from tierdesk.rules.model import Actions, RuleSet


@dataclass(frozen=True)
class MatchInput:
    """What rules can test about one message."""

    mail: ParsedMail
    classification: Classification
    now: datetime  # the time rules see (business hours, weekday): the caller's clock
    recipients: tuple[str, ...] = ()
    mailbox: str = ""
    origin_queue: str | None = None
    known_customer: bool = False
    language: str = "en"


@dataclass(frozen=True)
class RuleTrace:
    """One rule tried: did it match, and (when explained) why; else the reason is ''."""

    rule: str
    line: int | None
    matched: bool
    reason: str = ""


@dataclass(frozen=True)
class Routing:
    """The decision and how it was reached."""

    decision: Decision
    trace: tuple[RuleTrace, ...]


def decide(ruleset: RuleSet, inp: MatchInput, explain: bool = False) -> Routing:
    """Walk the rules in order and build the decision for one message."""
    facts = Facts(inp, ruleset)
    chosen: list[Actions] = []
    trace = []
    for rule in ruleset.rules:
        if explain and rule.when is not None:
            matched, reason = rule.when.explain(facts)
        else:
            matched = rule.when is None or rule.when.check(facts)
            reason = "no conditions" if explain else ""
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
