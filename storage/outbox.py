"""The outbox: rendered mail waiting to be delivered, retried with backoff.

Rows are written inside the transaction that causes them (`enqueue`), so a
mail exists if and only if its cause was committed. States: `pending` (due at
`next_attempt_at`), `sent`, `failed` (permanent error or too many attempts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import ModelSelect
from tierdesk.parsers.idn import readable_address
from tierdesk.rules.guard import address_key
from tierdesk.storage.claims import Claimant, skip_locked
from tierdesk.storage.models import OutboxItem
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event, store_outgoing


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
    limit_class: str = "automatic"  # which per-address limit it counts against
    author: str = ""  # the agent whose answer it relays


@dataclass(frozen=True)
class OutboxRow:
    """What the sender needs of a pending mail."""

    id: int
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    raw: bytes
    attempts: int
    ticket_id: int | None = None
    kind: str = ""
    author: str = ""  # the agent whose answer it relays: told if it fails

    @property
    def needs_smtputf8(self) -> bool:
        """True when an envelope address or a header is UTF-8: only SMTPUTF8 carries that."""
        addresses = (self.mail_from, *self.rcpt_tos)
        return not all(a.isascii() for a in addresses) or not self.raw.isascii()


def queue(
    sql: Sql, ticket_id: int | None, mail: OutgoingMail, why: str, now: datetime
) -> int | None:
    """Put a mail in the outbox; a ticket's mail is also kept as its message, with an event.

    Returns the outbox row's id, or None when the same mail exists already.
    """
    if ticket_id is None:
        return enqueue(sql, None, None, mail, now)
    message_row_id = store_outgoing(
        sql,
        ticket_id,
        message_id=mail.message_id,
        kind=mail.kind,
        sender=mail.mail_from,
        recipients=list(mail.rcpt_tos),
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
        now=now,
    )
    if message_row_id is None:  # the same cause was handled before: the mail exists
        return None
    outbox_id = enqueue(sql, ticket_id, message_row_id, mail, now)
    record_event(
        sql,
        ticket_id,
        "system",
        f"{mail.kind}_queued",
        detail=f"to {', '.join(readable_address(r) for r in mail.rcpt_tos)}: {why}",
        now=now,
    )
    return outbox_id


def set_envelope_sender(sql: Sql, outbox_id: int, address: str) -> None:
    """The envelope sender one outbox row goes out with (its own VERP address)."""
    sql.run("UPDATE outbox SET mail_from = ? WHERE id = ?", address, outbox_id)


def enqueue(
    sql: Sql,
    ticket_id: int | None,
    message_row_id: int | None,
    mail: OutgoingMail,
    now: datetime,
) -> int:
    """Add a mail to the outbox (call inside the transaction that causes it)."""
    return sql.insert(
        "outbox",
        created_at=now,
        ticket_id=ticket_id,
        message_ref=message_row_id,
        kind=mail.kind,
        automatic=mail.limit_class == "automatic",
        limit_class=mail.limit_class,
        author=mail.author,
        mail_from=mail.mail_from,
        rcpt_tos=json.dumps(list(mail.rcpt_tos)),
        rcpt_key=address_key(mail.rcpt_tos[0] if mail.rcpt_tos else "")[:320],
        message_id=mail.message_id,
        raw=mail.raw,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        last_error="",
    )


def sent_since(
    sql: Sql, address: str, limit_class: str, hour_ago: datetime, day_ago: datetime
) -> tuple[int, int]:
    """How many mails of `limit_class` went (or are going) to `address` in the last hour and day.

    Counted by address key, so alice+1@ and Alice@ are alice@; counted in the
    database, so the limit holds across restarts and daemons.
    """
    row = sql.one(
        "SELECT COUNT(*), SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END) FROM outbox"
        " WHERE rcpt_key = ? AND limit_class = ? AND created_at >= ?",
        hour_ago,
        address_key(address),
        limit_class,
        day_ago,
    )
    return (int(row[1] or 0), int(row[0] or 0)) if row else (0, 0)


def claim_due(
    sql: Sql, now: datetime, claimant: Claimant, limit: int = 50
) -> list[OutboxRow]:
    """Claim pending mails due at `now` that no other live daemon has; oldest first.

    The claim keeps every other daemon from sending them too; a daemon that
    dies holding it leaves them to the others when it runs out.
    """
    wall, until = claimant.window()
    choose = skip_locked(
        sql,
        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until < ? OR claimed_by = ?)"
        " ORDER BY next_attempt_at, id LIMIT ?",
    )
    with sql.db.atomic():
        rows = sql.all(
            f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ({choose})"
            " RETURNING id, mail_from, rcpt_tos, message_id, raw, attempts, ticket_id,"
            " kind, author, next_attempt_at",
            claimant.holder,
            until,
            now,
            wall,
            claimant.holder,
            limit,
        )
    rows.sort(key=lambda r: (str(r[9]), r[0]))
    return [
        OutboxRow(
            r[0],
            r[1],
            json.loads(r[2]),
            r[3],
            bytes(r[4]),
            r[5],
            r[6],
            r[7],
            r[8] or "",
        )
        for r in rows
    ]


def mark_sent(sql: Sql, item_id: int, now: datetime) -> None:
    """The relay (or Maildir) has the mail."""
    sql.run(
        "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1,"
        " last_error = '', claimed_until = NULL WHERE id = ?",
        now,
        item_id,
    )


def mark_failed(sql: Sql, item_id: int, error: str) -> None:
    """Give up on a mail: permanent failure or too many attempts."""
    sql.run(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?,"
        " claimed_until = NULL WHERE id = ?",
        error[:2000],
        item_id,
    )


def mark_retry(
    sql: Sql, item_id: int, error: str, delay: timedelta, now: datetime
) -> None:
    """Try again after `delay`."""
    sql.run(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
        " claimed_until = NULL WHERE id = ?",
        error[:2000],
        now + delay,
        item_id,
    )


def listing(state: str | None = None) -> ModelSelect:
    """Outbox rows without their bytes, newest first (a query to cut or count)."""
    fields = [f for f in OutboxItem._meta.sorted_fields if f.name != "raw"]
    query = OutboxItem.select(*fields).order_by(OutboxItem.id.desc())
    return query.where(OutboxItem.state == state) if state else query


def list_items(state: str | None = None, limit: int | None = None) -> list[OutboxItem]:
    """The newest `limit` outbox rows without their bytes (None or 0: all)."""
    return list(listing(state).limit(limit or None))
