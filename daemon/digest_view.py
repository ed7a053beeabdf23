"""What the daily digest shows, as plain template variables: pure, no I/O.

Yesterday's figures, small bar charts (a pixel width for HTML table cells
and a run of Unicode blocks for the plain-text part, so they show in any
mail client without images), the open tickets past or near their SLA
deadlines, and the oldest open tickets of each tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tierdesk.daemon.report_figures import BACKLOG_BUCKETS, Figures
from tierdesk.daemon.supervisor_report import duration_text, figures_dict, pct_text
from tierdesk.storage.report_rows import EventRow, TicketRow

BAR_PIXELS = 200
BAR_CHARS = 20
_EIGHTHS = " ▏▎▍▌▋▊▉"
MAX_LISTED = 20  # breaching tickets listed; the rest are counted
TIERS = (1, 2, 3, 4)


def blocks(value: float, most: float, width: int = BAR_CHARS) -> str:
    """A bar of Unicode blocks, `width` characters for `most`, in eighths."""
    if most <= 0 or value <= 0:
        return ""
    eighths = max(1, round(8 * width * value / most))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def chart(rows: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Rows of one bar chart: key, value, HTML width in pixels and text blocks."""
    most = max((v for _, v in rows), default=0)
    return [
        {
            "key": key,
            "value": value,
            "px": round(BAR_PIXELS * value / most) if most else 0,
            "blocks": blocks(value, most),
        }
        for key, value in rows
    ]


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _ticket(t: TicketRow, now: datetime) -> dict[str, Any]:
    return {
        "number": t.number,
        "subject": t.subject[:80],
        "tier": t.tier,
        "queue": t.queue,
        "assignee": t.assignee or "",
        "age": duration_text((now - t.created_at).total_seconds()),
    }


def at_risk(
    open_tickets: Sequence[TicketRow],
    history: dict[int, list[EventRow]],
    now: datetime,
    near: float,
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """Open tickets past a deadline (breached) or due within `near` seconds, most urgent first.

    Pending tickets are left out: their clocks stand while the customer answers.
    A first response overdue at the escalation ceiling has no deadline left,
    only its `sla_breached` event: it is listed as breached from then.
    """
    horizon = now + timedelta(seconds=near)
    found: list[tuple[datetime, dict[str, Any]]] = []
    for t in open_tickets:
        if t.status == "pending":
            continue
        deadlines = []
        if t.first_response_at is None:
            if t.first_response_due_at is not None:
                deadlines.append(("first_response", t.first_response_due_at))
            else:
                # overdue at the ceiling: no deadline is left, only when the sweep saw it
                breaches = [
                    e.at for e in history.get(t.id, ()) if e.kind == "sla_breached"
                ]
                deadlines += [("first_response", breaches[0])] if breaches else []
        if t.resolution_due_at is not None:
            deadlines.append(("resolution", t.resolution_due_at))
        for what, due in deadlines:
            if due > horizon:
                continue
            entry = _ticket(t, now) | {
                "what": what,
                "due": _local(due, zone),
                "breached": due <= now,
                "left": ""
                if due <= now
                else duration_text((due - now).total_seconds()),
            }
            found.append((due, entry))
    found.sort(key=lambda pair: (pair[0], pair[1]["number"]))
    return [entry for _, entry in found]


def oldest_by_tier(
    open_tickets: Sequence[TicketRow], now: datetime, per_tier: int
) -> list[dict[str, Any]]:
    """The oldest open tickets of each tier that has any (the rows come oldest first)."""
    tiers = []
    for tier in TIERS:
        mine = [t for t in open_tickets if t.tier == tier]
        if mine:
            tiers.append(
                {
                    "tier": tier,
                    "open": len(mine),
                    "tickets": [_ticket(t, now) for t in mine[:per_tier]],
                }
            )
    return tiers


def digest_context(
    day: str,
    yesterday: Figures,
    open_tickets: Sequence[TicketRow],
    history: dict[int, list[EventRow]],
    now: datetime,
    zone: ZoneInfo,
    near: float,
    per_tier: int,
) -> dict[str, Any]:
    """Everything the digest templates show."""
    first, resolution = yesterday.first_response, yesterday.resolution
    risky = at_risk(open_tickets, history, now, near, zone)
    figures = figures_dict(yesterday) | {
        "first_response_median": duration_text(first.median),
        "first_response_p90": duration_text(first.p90),
        "first_response_met": pct_text(first.met_pct),
        "resolution_median": duration_text(resolution.median),
        "resolution_p90": duration_text(resolution.p90),
        "resolution_met": pct_text(resolution.met_pct),
        "reopen_rate": pct_text(yesterday.reopen_pct),
    }
    return {
        "day": day,
        "timezone": zone.key,
        "generated": _local(now, zone),
        "figures": figures,
        "charts": {
            "yesterday": chart(
                [
                    ("opened", yesterday.opened),
                    ("answered", yesterday.answered),
                    ("resolved", yesterday.resolved),
                ]
            ),
            "tiers": chart(
                [(str(n), sum(t.tier == n for t in open_tickets)) for n in TIERS]
            ),
            "ages": chart([(b, yesterday.backlog[b]) for b in BACKLOG_BUCKETS]),
        },
        "open_total": len(open_tickets),
        "breaching": risky[:MAX_LISTED],
        "breaching_more": max(0, len(risky) - MAX_LISTED),
        "breached_count": sum(r["breached"] for r in risky),
        "near_count": sum(not r["breached"] for r in risky),
        "oldest": oldest_by_tier(open_tickets, now, per_tier),
        "near_hours": round(near / 3600),
    }
