"""The inspecting and administering commands: tickets, outbox, spool, rules."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tierdesk.daemon.config import Config
from tierdesk.daemon.reports import (
    format_rows,
    format_ticket_detail,
    format_ticket_list,
    outbox_rows,
    spool_rows,
    ticket_detail,
    ticket_rows,
)
from tierdesk.daemon.runtime import Runtime
from tierdesk.rules.explain import explain_message, format_explanation
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.load import load_rules
from tierdesk.rules.yamlsource import SourceError
from tierdesk.storage import spool
from tierdesk.storage.changes import change_field, change_status, record_first_response
from tierdesk.storage.clock import system_clock
from tierdesk.storage.tickets import ticket_by_number

EX_USAGE = 64
EX_NOTFOUND = 1


def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    """Print `data` as JSON with --json, else as text."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=None))
    else:
        print(text(data))


def emit_list(
    args: argparse.Namespace,
    listed: tuple[list[dict[str, Any]], int | None],
    text: Callable[[Any], str],
) -> None:
    """Print a list; when --limit cut it, say so on stderr (the JSON stays a plain list)."""
    rows, total = listed
    emit(args, rows, text)
    if total is not None:
        print(
            f"tierdesk: the newest {len(rows)} of {total} shown; "
            "--limit N shows more, --limit 0 all",
            file=sys.stderr,
        )


def tickets_list(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk tickets list`."""
    emit_list(args, ticket_rows(args.status, args.limit), format_ticket_list)
    return 0


def tickets_show(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk tickets show N`."""
    detail = ticket_detail(args.number)
    if detail is None:
        print(f"tierdesk: no ticket {args.number}", file=sys.stderr)
        return EX_NOTFOUND
    emit(args, detail, format_ticket_detail)
    return 0


def numbered_ticket(runtime: Runtime, number: int) -> TicketFacts | None:
    """The ticket with this number; when there is none, say so on stderr."""
    ticket = ticket_by_number(runtime.sql, number)
    if ticket is None:
        print(f"tierdesk: no ticket {number}", file=sys.stderr)
    return ticket


def tickets_update(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk tickets update N ...`: each change is an event on the timeline."""
    ticket = numbered_ticket(runtime, args.number)
    if ticket is None:
        return EX_NOTFOUND
    rules = runtime.snapshot.rules
    if args.queue is not None and args.queue not in rules.queues:
        print(
            f"tierdesk: unknown queue {args.queue!r}; known: {', '.join(sorted(rules.queues))}",
            file=sys.stderr,
        )
        return EX_USAGE
    if args.assign and args.assign not in rules.agents:
        print(
            f"tierdesk: unknown agent {args.assign!r}; known: {', '.join(sorted(rules.agents))}",
            file=sys.stderr,
        )
        return EX_USAGE
    actor = f"admin:{args.by}"
    now = runtime.clock()
    changed = []
    with runtime.db.atomic():
        fields = {"tier": args.tier, "queue": args.queue, "priority": args.priority}
        if args.assign is not None:
            fields["assignee"] = args.assign or None
        for field, value in fields.items():
            wanted = value is not None or field == "assignee"
            if wanted and change_field(
                runtime.sql, ticket.id, field, value, actor, now
            ):
                changed.append(f"{field} {value}")
        if args.status and change_status(
            runtime.sql, ticket.id, args.status, actor, rules.sla, now
        ):
            changed.append(f"status {args.status}")
        if args.responded and record_first_response(runtime.sql, ticket.id, actor, now):
            changed.append("first response recorded")
    print(
        f"ticket {args.number}: "
        + (", ".join(changed) if changed else "nothing to change")
    )
    return 0


def outbox_list(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk outbox list`."""
    columns = ["id", "ticket", "kind", "state", "attempts", "to", "last_error"]
    emit_list(
        args,
        outbox_rows(args.state, args.limit),
        lambda rows: format_rows(rows, columns),
    )
    return 0


def spool_list(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk spool list`."""
    columns = [
        "id",
        "received_at",
        "source",
        "state",
        "outcome",
        "ticket",
        "size",
        "message_id",
        "why",
    ]
    emit_list(
        args,
        spool_rows(args.state, args.limit),
        lambda rows: format_rows(rows, columns),
    )
    return 0


def spool_show(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk spool show ID`: the raw bytes."""
    item = spool.load(runtime.sql, args.id)
    if item is None:
        print(f"tierdesk: no spool item {args.id}", file=sys.stderr)
        return EX_NOTFOUND
    if not item.raw and item.size:
        print(
            f"tierdesk: the raw bytes of spool item {args.id} were purged (retention); "
            f"`tierdesk spool why {args.id}` shows what is kept",
            file=sys.stderr,
        )
        return EX_NOTFOUND
    sys.stdout.buffer.write(item.raw)
    return 0


def rules_file(config: Config, given: str | None) -> str | None:
    """The rules file named on the command line, else by the config; None (and a message) when neither."""
    path = given or (str(config.rules) if config.rules else None)
    if path is None:
        print(
            "tierdesk: no rules file given, and the config names none (built-in routing is in use)",
            file=sys.stderr,
        )
    return path


def rules_check(args: argparse.Namespace, config: Config) -> int:
    """`tierdesk rules check [FILE]`."""
    path = rules_file(config, args.file)
    if path is None:
        return EX_USAGE
    try:
        ruleset = load_rules(path, tuple(config.support.languages))
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{path}: ok: {len(ruleset.rules)} rule(s), {len(ruleset.agents)} agent(s), "
        f"{len(ruleset.sla)} SLA polic(ies), {len(ruleset.examples)} example(s) passed"
    )
    return 0


def rules_test(args: argparse.Namespace, config: Config) -> int:
    """`tierdesk rules test [--rules FILE] MSG.eml ...`."""
    path = rules_file(config, args.rules)
    if path is None:
        return EX_USAGE
    try:
        ruleset = load_rules(path, tuple(config.support.languages), run_tests=False)
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 1
    now = datetime.fromisoformat(args.now) if args.now else system_clock()
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(ruleset.timezone))
    reports = []
    for name in args.messages:
        raw = Path(name).read_bytes()
        reports.append(
            explain_message(
                ruleset,
                raw,
                name=name,
                own_addresses=frozenset(a.lower() for a in config.support.addresses),
                languages=tuple(config.support.languages),
                default_language=config.support.default_language,
                now=now,
                mailbox=args.mailbox,
                known_customer=args.known_customer,
            )
        )
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_explanation(r) for r in reports))
    return 0
