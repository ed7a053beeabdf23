"""`tierdesk rules test`: what the rules make of a message, rule by rule, and why."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.match import Routing
from tierdesk.rules.model import RuleSet
from tierdesk.rules.route import route


def explain_message(
    ruleset: RuleSet,
    raw: bytes,
    *,
    name: str,
    own_addresses: frozenset[str],
    languages: tuple[str, ...],
    default_language: str,
    now: datetime,
    mailbox: str = "",
    known_customer: bool = False,
) -> dict[str, Any]:
    """The message as the rules see it, every rule tried, and the decision."""
    mail = parse_mail(raw)
    classification = classify(mail, None, own_addresses, "")
    routing: Routing = route(
        ruleset,
        mail,
        classification,
        recipients=(),
        mailbox=mailbox,
        origin_queue=None,
        known_customer=known_customer,
        languages=languages,
        default_language=default_language,
        now=now,
        explain=True,
    )
    decision = asdict(routing.decision)
    decision["tags"] = list(decision["tags"])
    decision["matched_rules"] = list(decision["matched_rules"])
    return {
        "file": name,
        "message_id": mail.message_id,
        "from": mail.from_.key if mail.from_ else "",
        "subject": mail.subject,
        "classification": f"{classification.kind.value}"
        + (f" ({classification.reason})" if classification.reason else ""),
        "evaluated_at": now.isoformat(),
        "rules": [
            {"rule": t.rule, "line": t.line, "matched": t.matched, "reason": t.reason}
            for t in routing.trace
        ],
        "decision": decision,
    }


def format_explanation(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    lines = [
        f"{report['file']}: <{report['message_id']}>",
        f"  from {report['from'] or '-'}, subject {report['subject']!r}, {report['classification']}",
        f"  evaluated at {report['evaluated_at']}",
    ]
    if not report["rules"]:
        lines.append("  no rules: the default applies")
    for rule in report["rules"]:
        mark = "MATCH" if rule["matched"] else "  -  "
        lines.append(f"  {mark} {rule['rule']} (line {rule['line']}): {rule['reason']}")
    d = report["decision"]
    assignee = d["assignee"] or (
        f"group {d['assign_group']}" if d["assign_group"] else "nobody"
    )
    lines.append(
        f"  => {d['action']}: tier {d['tier']}, queue {d['queue']}, priority {d['priority']}, "
        f"assign {assignee}, sla {d['sla'] or '-'}, language {d['language']}, template {d['template']}, "
        f"acknowledge {'yes' if d['acknowledge'] else 'no'}, tags {' '.join(d['tags']) or '-'}"
    )
    return "\n".join(lines)
