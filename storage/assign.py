"""Assignment helpers that need the database: round-robin over a group, known contacts."""

from __future__ import annotations

from collections.abc import Sequence

from tierdesk.storage.sql import Sql


def round_robin(sql: Sql, group: str, members: Sequence[str]) -> str | None:
    """The next member of `group` in turn (the counter survives restarts)."""
    if not members:
        return None
    name = f"rr:{group}"[:64]
    sql.run(
        "INSERT INTO counter (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
        name,
    )
    turn = sql.scalar(
        "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value", name
    )
    return members[(turn - 1) % len(members)]


def is_known_contact(sql: Sql, email: str) -> bool:
    """True when this address has written to us before."""
    return sql.one("SELECT 1 FROM contact WHERE email = ?", email.lower()) is not None
