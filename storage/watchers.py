"""A ticket's customer watchers (participants with role `cc`), and the mail they were copied on.

An agent's `#cc -addr` keeps the row as `cc_removed`: the person no longer
hears from us or counts as a participant, and a customer's reply-all that
copies them again does not bring them back; only `#cc +addr` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from tierdesk.parsers.idn import UnwritableAddress, wire_address
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import SentMail
from tierdesk.storage.bounces import suppressed
from tierdesk.storage.sql import Sql
from tierdesk.storage.text import address_column
from tierdesk.storage.tickets import record_event

REMOVED = "cc_removed"


def watchers_of(sql: Sql, ticket_id: int) -> tuple[str, ...]:
    """The address keys of a ticket's customer watchers, in the order they joined."""
    rows = sql.all(
        "SELECT address FROM participant WHERE ticket_id = ? AND role = 'cc' ORDER BY id",
        ticket_id,
    )
    return tuple(row[0] for row in rows)


def bouncing_among(sql: Sql, addresses: Iterable[str]) -> frozenset[str]:
    """The address keys among `addresses` that bounce (suppressed): never watchers."""
    return frozenset(
        address_key(a) for a in addresses if suppressed(sql, a) is not None
    )


def set_watchers(
    sql: Sql,
    ticket_id: int,
    add: Iterable[str],
    remove: Iterable[str],
    actor: str,
    now: datetime,
) -> None:
    """Apply an agent's `#cc` (inside the caller's transaction), with one event."""
    done = []
    for address in add:
        key = address_column(address_key(address))
        sql.run(
            f"UPDATE participant SET role = 'cc' WHERE ticket_id = ? AND address = ?"
            f" AND role = '{REMOVED}'",
            ticket_id,
            key,
        )
        sql.insert_ignore(
            "participant", ticket_id=ticket_id, address=key, role="cc", created_at=now
        )
        done.append(f"+{key}")
    for address in remove:
        key = address_column(address_key(address))
        sql.run(
            f"UPDATE participant SET role = '{REMOVED}' WHERE ticket_id = ?"
            " AND address = ? AND role = 'cc'",
            ticket_id,
            key,
        )
        done.append(f"-{key}")
    record_event(sql, ticket_id, actor, "watchers", detail=" ".join(done), now=now)


def copies_since(
    sql: Sql, address: str, hour_ago: datetime, day_ago: datetime
) -> tuple[int, int]:
    """How many of our mails copied `address` (Cc, as a ticket's watcher) in the last hour
    and day, looked up through the tickets it watches (only asked for a mail with Cc)."""
    key = address_key(address)
    try:
        wire = wire_address(key).address
    except UnwritableAddress:
        return 0, 0
    row = sql.one(
        "SELECT COUNT(*), SUM(CASE WHEN o.created_at >= ? THEN 1 ELSE 0 END)"
        " FROM participant p JOIN outbox o ON o.ticket_id = p.ticket_id"
        " WHERE p.address = ? AND p.role IN ('cc', ?) AND o.created_at >= ?"
        " AND o.rcpt_key <> ? AND o.rcpt_tos LIKE ?",
        hour_ago,
        address_column(key),
        REMOVED,
        day_ago,
        key,
        f'%"{wire}"%',
    )
    return (int(row[1] or 0), int(row[0] or 0)) if row else (0, 0)


def bounced_copy(
    sql: Sql, sent: SentMail | None, failed: tuple[str, ...]
) -> SentMail | None:
    """A bounce of a mail we copied watchers on is about the address it reports:
    a watcher's bounce must not count against the customer the mail was to."""
    keys = {address_key(a) for a in failed}
    if sent is None or not keys or sent.recipient in keys:
        return sent
    recipients = sql.scalar("SELECT rcpt_tos FROM outbox WHERE id = ?", sent.id)
    for address in json.loads(recipients or "[]"):
        if address_key(address) in keys:
            return replace(sent, recipient=address_key(address))
    return sent
