"""Who belongs on a ticket: its requester, customers copied on it, its agents, its vendor."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tierdesk.rules.guard import address_key
from tierdesk.storage.sql import Sql
from tierdesk.storage.text import address_column


def participants_of(sql: Sql, ticket_id: int) -> frozenset[str]:
    """The address keys of a ticket's participants (not watchers an agent removed)."""
    rows = sql.all(
        "SELECT address FROM participant WHERE ticket_id = ? AND role <> 'cc_removed'",
        ticket_id,
    )
    return frozenset(row[0] for row in rows)


def add_participants(
    sql: Sql, ticket_id: int, addresses: Iterable[str], role: str, now: datetime
) -> None:
    """Add people to a ticket (inside the caller's transaction); known ones stay as they are."""
    for address in addresses:
        sql.insert_ignore(
            "participant",
            ticket_id=ticket_id,
            address=address_column(address_key(address)),
            role=role,
            created_at=now,
        )


def remove_participant(sql: Sql, ticket_id: int, address: str) -> int:
    """Take someone off a ticket; returns how many rows went."""
    cursor = sql.run(
        "DELETE FROM participant WHERE ticket_id = ? AND address = ?",
        ticket_id,
        address_column(address_key(address)),
    )
    return cursor.rowcount


def list_participants(sql: Sql, ticket_id: int) -> list[tuple[str, str]]:
    """(address, role) of a ticket's participants, in the order they joined."""
    return [
        (row[0], row[1])
        for row in sql.all(
            "SELECT address, role FROM participant WHERE ticket_id = ? ORDER BY id",
            ticket_id,
        )
    ]
