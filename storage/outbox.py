"""The outbox: rendered mail waiting to be delivered, retried with backoff.

Rows are written inside the transaction that causes them (`enqueue`), so a
mail exists if and only if its cause was committed. States: `pending` (due at
`next_attempt_at`), `sent`, `failed` (permanent error or too many attempts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn

from storage.clock import utcnow
from storage.models import Message, OutboxItem, Ticket


@dataclass(frozen=True)
class OutgoingMail:
    """A rendered mail ready for the outbox, with what the ticket history keeps of it."""

    kind: str
    message_id: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    in_reply_to: str
    references: tuple[str, ...]
    raw: bytes
    automatic: bool = True


def enqueue(
    *,
    ticket: Ticket | None,
    message: Message | None,
    kind: str,
    mail_from: str,
    rcpt_tos: list[str],
    message_id: str,
    raw: bytes,
    automatic: bool,
) -> OutboxItem:
    """Add a mail to the outbox (call inside the transaction that causes it)."""
    return OutboxItem.create(
        ticket=ticket,
        message=message,
        kind=kind,
        automatic=automatic,
        mail_from=mail_from,
        rcpt_tos=json.dumps(rcpt_tos),
        rcpt_key=(rcpt_tos[0] if rcpt_tos else "").lower()[:320],
        message_id=message_id,
        raw=raw,
    )


def automatic_mails_since(address: str, since: datetime) -> int:
    """How many automatic mails went (or are going) to `address` since `since`."""
    return (
        OutboxItem.select(fn.COUNT(OutboxItem.id))
        .where(
            OutboxItem.rcpt_key == address.lower(),
            OutboxItem.automatic == True,
            OutboxItem.created_at >= since,
        )
        .scalar()
    )


def due(now: datetime | None = None, limit: int = 50) -> list[OutboxItem]:
    """Pending mails whose next attempt is due, oldest first."""
    now = now or utcnow()
    return list(
        OutboxItem.select()
        .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )


def next_due_at() -> datetime | None:
    """When the earliest pending mail is due, or None when nothing is pending."""
    return (
        OutboxItem.select(fn.MIN(OutboxItem.next_attempt_at))
        .where(OutboxItem.state == "pending")
        .scalar()
    )


def mark_sent(item_id: int) -> None:
    """The relay (or Maildir) has the mail."""
    OutboxItem.update(
        state="sent", sent_at=utcnow(), attempts=OutboxItem.attempts + 1, last_error=""
    ).where(OutboxItem.id == item_id).execute()


def mark_failed(item_id: int, error: str) -> None:
    """Give up on a mail: permanent failure or too many attempts."""
    OutboxItem.update(
        state="failed", attempts=OutboxItem.attempts + 1, last_error=error[:2000]
    ).where(OutboxItem.id == item_id).execute()


def mark_retry(item_id: int, error: str, delay: timedelta) -> None:
    """Try again after `delay`."""
    OutboxItem.update(
        attempts=OutboxItem.attempts + 1,
        last_error=error[:2000],
        next_attempt_at=utcnow() + delay,
    ).where(OutboxItem.id == item_id).execute()


def list_items(state: str | None = None, limit: int | None = None) -> list[OutboxItem]:
    """Outbox rows without their bytes, newest first."""
    fields = [f for f in OutboxItem._meta.sorted_fields if f.name != "raw"]
    query = OutboxItem.select(*fields).order_by(OutboxItem.id.desc())
    if limit:
        query = query.limit(limit)
    if state:
        query = query.where(OutboxItem.state == state)
    return list(query)
