"""What `tierdesk tickets|outbox|spool ...` print: plain dicts, as JSON or as text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from peewee import fn
from tierdesk.storage import outbox, spool
from tierdesk.storage.models import Attachment, Event, Message, Ticket


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


# what the list commands show unless given --limit (0: everything)
DEFAULT_LIMIT = 100


def how_many(query: Any, shown: int, limit: int | None) -> int | None:
    """How many rows the whole list has, when `limit` cut it (None when all are shown)."""
    if not limit or shown < limit:
        return None
    return query.order_by().limit(None).count()


def ticket_rows(
    status: str | None = None, limit: int | None = DEFAULT_LIMIT
) -> tuple[list[dict[str, Any]], int | None]:
    """Tickets, newest first, with their message counts; and the total when cut."""
    query = Ticket.select().order_by(Ticket.number.desc())
    if status:
        query = query.where(Ticket.status == status)
    tickets = list(query.limit(limit or None))
    counts = dict(
        Message.select(Message.ticket, fn.COUNT(Message.id))
        .where(Message.ticket.in_([t.id for t in tickets]))
        .group_by(Message.ticket)
        .tuples()
    )
    rows = [_ticket_dict(t, counts.get(t.id, 0)) for t in tickets]
    return rows, how_many(query, len(rows), limit)


def _ticket_dict(ticket: Ticket, message_count: int) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "tier": ticket.tier,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "language": ticket.language,
        "requester": ticket.requester.email,
        "assignee": ticket.assignee,
        "messages": message_count,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "tags": ticket.tags.split(),
        "sla": ticket.sla,
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "first_response_at": _iso(ticket.first_response_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "escalations": ticket.escalations,
    }


def ticket_detail(number: int) -> dict[str, Any] | None:
    """One ticket with its messages (and attachments) and its events, oldest first."""
    ticket = Ticket.get_or_none(Ticket.number == number)
    if ticket is None:
        return None
    messages = list(ticket.messages.order_by(Message.id))
    detail = _ticket_dict(ticket, len(messages))
    attachments: dict[int, list[dict[str, Any]]] = {}
    for a in Attachment.select().where(
        Attachment.message.in_([m.id for m in messages])
    ):
        attachments.setdefault(a.message_id, []).append(
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256_id,
            }
        )
    detail["message_list"] = [
        {
            "message_id": m.message_id,
            "direction": m.direction,
            "kind": m.kind,
            "from": m.sender,
            "from_name": m.sender_name,
            "to": json.loads(m.recipients),
            "subject": m.subject,
            "date": _iso(m.sent_date),
            "received_at": _iso(m.created_at),
            "in_reply_to": m.in_reply_to,
            "references": m.references.split(),
            "text": m.text,
            "attachments": attachments.get(m.id, []),
        }
        for m in messages
    ]
    detail["events"] = [
        {
            "at": _iso(e.created_at),
            "actor": e.actor,
            "kind": e.kind,
            "field": e.field_name,
            "old": e.old_value,
            "new": e.new_value,
            "detail": e.detail,
        }
        for e in ticket.events.order_by(Event.id)
    ]
    return detail


def outbox_rows(
    state: str | None = None, limit: int | None = DEFAULT_LIMIT
) -> tuple[list[dict[str, Any]], int | None]:
    """Outbox rows, newest first; and the total when cut."""
    rows = [
        {
            "id": item.id,
            "ticket": item.ticket.number if item.ticket_id else None,
            "kind": item.kind,
            "to": json.loads(item.rcpt_tos),
            "message_id": item.message_id,
            "state": item.state,
            "attempts": item.attempts,
            "next_attempt_at": _iso(item.next_attempt_at),
            "last_error": item.last_error,
            "created_at": _iso(item.created_at),
            "sent_at": _iso(item.sent_at),
        }
        for item in outbox.list_items(state, limit)
    ]
    return rows, how_many(outbox.listing(state), len(rows), limit)


def spool_rows(
    state: str | None = None, limit: int | None = DEFAULT_LIMIT
) -> tuple[list[dict[str, Any]], int | None]:
    """Spool rows (without the raw bytes), newest first; and the total when cut."""
    rows = [
        {
            "id": item.id,
            "received_at": _iso(item.received_at),
            "source": item.source,
            "mail_from": item.mail_from,
            "rcpt_tos": json.loads(item.rcpt_tos),
            "size": item.size,
            "state": item.state,
            "outcome": item.outcome,
            "message_id": item.message_id,
            "ticket": item.ticket.number if item.ticket_id else None,
            "attempts": item.attempts,
            "error": item.error,
            # why it ended as it did: the error, the outcome's reason, or the admin's
            "why": item.drop_reason or item.error,
        }
        for item in spool.list_items(state, limit)
    ]
    return rows, how_many(spool.listing(state), len(rows), limit)


def format_ticket_list(rows: list[dict[str, Any]]) -> str:
    """A table of tickets for people."""
    lines = [
        f"{'#':>6}  {'status':8} {'tier':>4}  {'queue':10} {'requester':28} subject"
    ]
    for r in rows:
        lines.append(
            f"{r['number']:>6}  {r['status']:8} {r['tier']:>4}  {r['queue'][:10]:10} "
            f"{r['requester'][:28]:28} {r['subject']}"
        )
    return "\n".join(lines)


def format_ticket_detail(d: dict[str, Any]) -> str:
    """A ticket's header, conversation and timeline for people."""
    lines = [
        f"Ticket {d['number']}: {d['subject']}",
        f"  status {d['status']}, tier {d['tier']}, queue {d['queue']}, priority {d['priority']}",
        f"  requester {d['requester']}, assignee {d['assignee'] or '-'}, created {d['created_at']}",
        (
            f"  tags {' '.join(d['tags']) or '-'}, sla {d['sla'] or '-'}: first response due "
            f"{d['first_response_due_at'] or '-'} (answered {d['first_response_at'] or 'not yet'}), "
            f"resolution due {d['resolution_due_at'] or '-'}, escalations {d['escalations']}"
        ),
        "",
        "Messages:",
    ]
    for m in d["message_list"]:
        arrow = "<-" if m["direction"] == "in" else "->"
        lines.append(
            f"  {m['received_at']} {arrow} {m['kind']:10} {m['from']}  {m['subject']}"
        )
        lines.append(f"      Message-ID: <{m['message_id']}>")
        for a in m["attachments"]:
            lines.append(
                f"      attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)"
            )
        for text_line in m["text"].strip().splitlines()[:8]:
            lines.append(f"      | {text_line}")
    lines += ["", "Timeline:"]
    for e in d["events"]:
        change = f" {e['field']}: {e['old']} -> {e['new']}" if e["field"] else ""
        detail = f" ({e['detail']})" if e["detail"] else ""
        lines.append(f"  {e['at']} {e['actor']}: {e['kind']}{change}{detail}")
    return "\n".join(lines)


def format_rows(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A simple table of the given columns."""
    lines = ["  ".join(columns)]
    for r in rows:
        lines.append(
            "  ".join(
                str(r.get(c, "")) if not isinstance(r.get(c), list) else ",".join(r[c])
                for c in columns
            )
        )
    return "\n".join(lines)
