"""`tierdesk report`: how the tiers and SLAs are doing, as a table, JSON or CSV.

Over the tickets opened in the window (`--since 7d`), as they stand now:
opened, answered, resolved; first-response and resolution times (median,
p90) and the share within their SLA; escalations from each tier to the
next; the reopen rate; and the open tickets now, by age. The figures are
computed in `report_figures.py`; this module fetches, groups and prints.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tierdesk.daemon.report_figures import (
    BACKLOG_BUCKETS,
    ESCALATION_STEPS,
    GROUPINGS,
    Figures,
    TimeFigures,
    report,
)
from tierdesk.daemon.runtime import Runtime
from tierdesk.rules.model import SlaPolicy
from tierdesk.storage import report_rows
from tierdesk.storage.sql import Sql

EX_USAGE = 64
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Report:
    """The figures of one window: all tickets, and each group when grouped."""

    since: datetime
    until: datetime
    now: datetime
    by: str | None
    total: Figures
    groups: list[Figures]


def window_start(since: str, now: datetime) -> datetime:
    """`7d`, `12h`, `2w`, `90m` before `now`, or a day (`2026-11-30`, 00:00 UTC) or ISO time.

    Raises ValueError naming how to write it.
    """
    match = _SPAN.match(since)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2].lower()])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", since.strip()):
            return datetime.combine(date.fromisoformat(since.strip()), time(), UTC)
        moment = datetime.fromisoformat(since.strip())
    except ValueError:
        raise ValueError(
            f"--since {since!r}: write a span such as 7d, 12h, 2w, or a day such as 2026-11-30"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(
    sql: Sql,
    policies: dict[str, SlaPolicy],
    since: datetime,
    until: datetime,
    now: datetime,
    by: str | None = None,
) -> Report:
    """Fetch the rows of [since, until) and the open tickets, and compute the figures at `now`."""
    opened = report_rows.opened_between(sql, since, until)
    open_tickets = report_rows.open_now(sql)
    history = report_rows.history_of(sql, (t.id for t in opened))
    total, groups = report(opened, open_tickets, history, policies, now, by)
    return Report(since, until, now, by, total, groups)


def _times_dict(times: TimeFigures) -> dict[str, Any]:
    return {
        "count": times.count,
        "median_seconds": times.median,
        "p90_seconds": times.p90,
        "sla_met": times.met,
        "sla_missed": times.missed,
        "sla_met_pct": times.met_pct,
    }


def figures_dict(figures: Figures) -> dict[str, Any]:
    """One group's figures as a stable JSON object (seconds for times, percent for shares)."""
    return {
        "group": figures.group,
        "opened": figures.opened,
        "answered": figures.answered,
        "resolved": figures.resolved,
        "first_response": _times_dict(figures.first_response),
        "resolution": _times_dict(figures.resolution),
        "resolved_at_tier_1": figures.tier1_alone,
        "escalations": dict(figures.escalations),
        "reopened": figures.reopened,
        "reopen_rate_pct": figures.reopen_pct,
        "backlog": dict(figures.backlog),
    }


def report_dict(rep: Report) -> dict[str, Any]:
    """The whole report as JSON: the window, the total and the groups."""
    return {
        "since": rep.since.isoformat(),
        "until": rep.until.isoformat(),
        "generated_at": rep.now.isoformat(),
        "by": rep.by,
        "total": figures_dict(rep.total),
        "groups": [figures_dict(g) for g in rep.groups],
    }


def duration_text(seconds: float | None) -> str:
    """A time as people read it: 45m, 3h20m, 2d4h; `-` for none."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def pct_text(value: float | None) -> str:
    """A share in percent, `-` when nothing was decided."""
    return "-" if value is None else f"{value:g}%"


COLUMNS = (
    ("group", lambda f: f.group),
    ("opened", lambda f: f.opened),
    ("answered", lambda f: f.answered),
    ("resolved", lambda f: f.resolved),
    ("1st resp med", lambda f: duration_text(f.first_response.median)),
    ("p90", lambda f: duration_text(f.first_response.p90)),
    ("in SLA", lambda f: pct_text(f.first_response.met_pct)),
    ("resolution med", lambda f: duration_text(f.resolution.median)),
    ("p90", lambda f: duration_text(f.resolution.p90)),
    ("in SLA", lambda f: pct_text(f.resolution.met_pct)),
    ("T1 alone", lambda f: f.tier1_alone),
    *(
        (f"{a}>{b}", lambda f, k=f"{a}>{b}": f.escalations[k])
        for a, b in ESCALATION_STEPS
    ),
    ("reopened", lambda f: pct_text(f.reopen_pct)),
    *((f"open {b}", lambda f, k=b: f.backlog[k]) for b in BACKLOG_BUCKETS),
)


def format_table(rep: Report) -> str:
    """An aligned table: one line per group, then the total."""
    rows = [*rep.groups, rep.total] if rep.groups else [rep.total]
    cells = [[name for name, _ in COLUMNS]]
    cells += [[str(value(f)) for _, value in COLUMNS] for f in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    title = (
        f"tickets opened {rep.since.astimezone(UTC):%Y-%m-%d %H:%M} –"
        f" {rep.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        " as they stand now (times in business hours of each ticket's SLA)"
    )
    lines = [title]
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = "  ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        lines.append(f"{first}  {rest}".rstrip())
    return "\n".join(lines)


CSV_FIELDS = (
    "group",
    "opened",
    "answered",
    "resolved",
    "first_response_median_seconds",
    "first_response_p90_seconds",
    "first_response_sla_met_pct",
    "resolution_median_seconds",
    "resolution_p90_seconds",
    "resolution_sla_met_pct",
    "resolved_at_tier_1",
    *(f"escalated_{a}_to_{b}" for a, b in ESCALATION_STEPS),
    "reopened",
    "reopen_rate_pct",
    *(f"backlog_{b}" for b in ("under_1d", "1_3d", "3_7d", "over_7d")),
)


def format_csv(rep: Report) -> str:
    """One CSV row per group (and one for all tickets), with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for f in [*rep.groups, rep.total]:
        writer.writerow(
            [
                f.group,
                f.opened,
                f.answered,
                f.resolved,
                *_csv_times(f.first_response),
                *_csv_times(f.resolution),
                f.tier1_alone,
                *(f.escalations[f"{a}>{b}"] for a, b in ESCALATION_STEPS),
                f.reopened,
                "" if f.reopen_pct is None else f.reopen_pct,
                *(f.backlog[b] for b in BACKLOG_BUCKETS),
            ]
        )
    return out.getvalue()


def _csv_times(times: TimeFigures) -> list[object]:
    return ["" if v is None else v for v in (times.median, times.p90, times.met_pct)]


def report_command(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk report [--since 7d] [--by tier|queue|agent] [--json|--csv]`."""
    now = runtime.clock()
    try:
        since = window_start(args.since, now)
    except ValueError as exc:
        print(f"tierdesk: {exc}", file=sys.stderr)
        return EX_USAGE
    rep = build_report(
        runtime.sql, runtime.snapshot.rules.sla, since, now, now, args.by
    )
    if args.json:
        print(json.dumps(report_dict(rep), ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(format_csv(rep))
    else:
        print(format_table(rep))
    return 0


def add_report_command(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`report`: the supervisor's figures over a window."""
    p = sub.add_parser(
        "report",
        parents=[common],
        help="tickets opened, answered, resolved; SLA, escalations, reopens, backlog",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "--since",
        default="7d",
        help="window: a span before now (7d, 12h, 2w) or a day (2026-11-30); default 7d",
    )
    p.add_argument("--by", choices=GROUPINGS, help="one line per tier, queue or agent")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", action="store_true")
    p.set_defaults(handler=report_command, needs_rules=True, create_if_empty=False)
