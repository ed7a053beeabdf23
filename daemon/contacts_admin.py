"""`tierdesk contacts`: who writes to us, and whose mailbox bounces our mail."""

from __future__ import annotations

import argparse
from typing import Any

from tierdesk.daemon.admin import emit
from tierdesk.daemon.runtime import Runtime
from tierdesk.storage.bounces import forgive
from tierdesk.storage.contacts import ContactRow, contact_rows


def contacts(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk contacts [--bouncing] [--forgive ADDR] [--json]`."""
    if args.forgive:
        with runtime.db.atomic():
            for address in args.forgive:
                forgive(runtime.sql, address)
        print(
            f"forgiven: {', '.join(args.forgive)} (automatic mail goes to them again)"
        )
        return 0
    rows = [as_dict(r) for r in contact_rows(runtime.sql, args.bouncing, args.limit)]
    emit(args, rows, format_contacts)
    return 0


def as_dict(row: ContactRow) -> dict[str, Any]:
    """One contact for --json."""
    return {
        "address": row.address,
        "name": row.name,
        "tickets": row.tickets,
        "bounce_score": row.bounce_score,
        "last_bounce_on": row.last_bounce_on.isoformat()
        if row.last_bounce_on
        else None,
        "suppressed_at": row.suppressed_at.isoformat() if row.suppressed_at else None,
        "diagnostic": row.diagnostic,
        "state": state_of(row),
    }


def state_of(row: ContactRow) -> str:
    """`ok`, `bouncing`, or `suppressed` (no more automatic mail until they write)."""
    if row.suppressed_at is not None:
        return "suppressed"
    return "bouncing" if row.bounce_score > 0 else "ok"


def format_contacts(rows: list[dict[str, Any]]) -> str:
    """A table for people: address, tickets, state, score, last bounce, reason."""
    lines = [
        f"{'address':36} {'tickets':>7}  {'state':10} {'score':>5}  last bounce  reason"
    ]
    for r in rows:
        score = f"{r['bounce_score']:.1f}" if r["bounce_score"] else ""
        lines.append(
            f"{r['address'][:36]:36} {r['tickets']:>7}  {r['state']:10} {score:>5}  "
            f"{r['last_bounce_on'] or '':11}  {r['diagnostic'][:60]}"
        )
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def add_contacts_command(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`contacts`: addresses, their tickets and bounce state."""
    p = sub.add_parser(
        "contacts",
        parents=[common],
        help="addresses we exchange mail with; --bouncing: the ones whose mail bounces",
    )
    p.add_argument(
        "--bouncing", action="store_true", help="only addresses that bounced"
    )
    p.add_argument(
        "--forgive",
        action="append",
        metavar="ADDRESS",
        help="forget an address's bounces (its mailbox works again)",
    )
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=contacts)
