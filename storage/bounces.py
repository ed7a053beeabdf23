"""Bounce scores per address, the mails bounces are about, and recent texts per sender."""

from __future__ import annotations

from datetime import date, datetime

from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.bounces import BounceScore, next_bounce_score
from tierdesk.rules.handling.facts import SentMail
from tierdesk.rules.handling.settings import Limits
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import ticket_by_id


def score_bounce(
    sql: Sql, address: str, hard: bool, diagnostic: str, now: datetime, limits: Limits
) -> BounceScore:
    """Count one more bounce for an address (inside the caller's transaction)."""
    key = address_key(address)
    before = load_score(sql, key)
    after = next_bounce_score(before, hard, now, limits)
    sql.run(
        "INSERT INTO bounce_state (address, score, last_bounce_on, suppressed_at, diagnostic,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
        " score = excluded.score, last_bounce_on = excluded.last_bounce_on,"
        " suppressed_at = excluded.suppressed_at, diagnostic = excluded.diagnostic,"
        " updated_at = excluded.updated_at",
        key,
        after.score,
        after.last_bounce_on.isoformat() if after.last_bounce_on else None,
        after.suppressed_at,
        diagnostic[:1000],
        now,
    )
    return after


def load_score(sql: Sql, key: str) -> BounceScore:
    """An address key's score (zero when it never bounced)."""
    row = sql.one(
        "SELECT score, last_bounce_on, suppressed_at FROM bounce_state WHERE address = ?",
        key,
    )
    if row is None:
        return BounceScore()
    day = (
        row[1]
        if isinstance(row[1], date) or row[1] is None
        else date.fromisoformat(str(row[1])[:10])
    )
    return BounceScore(float(row[0]), day, as_aware_utc(row[2]))


def suppressed(sql: Sql, address: str) -> str | None:
    """Why an address gets no automatic mail (it bounces), or None."""
    row = sql.one(
        "SELECT score, diagnostic FROM bounce_state WHERE address = ? AND suppressed_at IS NOT NULL",
        address_key(address),
    )
    if row is None:
        return None
    return f"{address_key(address)} bounces (score {row[0]:.1f}): {row[1] or 'no reason given'}"


def forgive(sql: Sql, address: str) -> None:
    """The address wrote to us: its bounces are forgotten."""
    sql.run("DELETE FROM bounce_state WHERE address = ?", address_key(address))


def mark_bounced(sql: Sql, outbox_id: int, diagnostic: str, now: datetime) -> None:
    """A bounce came back for an outbox row."""
    sql.run(
        "UPDATE outbox SET bounced_at = ?, last_error = ? WHERE id = ?",
        now,
        f"bounced: {diagnostic}"[:2000],
        outbox_id,
    )


def sent_mail(sql: Sql, outbox_id: int) -> SentMail | None:
    """One outbox row as a bounce names it."""
    row = sql.one(
        "SELECT id, kind, rcpt_key, ticket_id, author FROM outbox WHERE id = ?",
        outbox_id,
    )
    return _sent(sql, row) if row else None


def latest_sent_to(sql: Sql, address: str, since: datetime) -> SentMail | None:
    """The newest mail we sent an address since `since` (a bounce without VERP is about it)."""
    row = sql.one(
        "SELECT id, kind, rcpt_key, ticket_id, author FROM outbox"
        " WHERE rcpt_key = ? AND created_at >= ? ORDER BY id DESC LIMIT 1",
        address_key(address),
        since,
    )
    return _sent(sql, row) if row else None


def _sent(sql: Sql, row: tuple) -> SentMail:
    ticket = ticket_by_id(sql, row[3]) if row[3] is not None else None
    return SentMail(row[0], row[1], row[2], ticket, row[4] or "")


def remember_text(
    sql: Sql, address: str, fingerprint: str, now: datetime, forget_before: datetime
) -> None:
    """Keep what an address wrote (as a fingerprint), and forget what is too old to count."""
    key = address_key(address)
    sql.run(
        "DELETE FROM recent_text WHERE address = ? AND seen_at < ?", key, forget_before
    )
    sql.insert_ignore("recent_text", address=key, fingerprint=fingerprint, seen_at=now)


def times_written(sql: Sql, address: str, fingerprint: str, since: datetime) -> int:
    """How often an address sent this text since `since`."""
    return int(
        sql.scalar(
            "SELECT COUNT(*) FROM recent_text WHERE address = ? AND fingerprint = ? AND seen_at >= ?",
            address_key(address),
            fingerprint,
            since,
        )
        or 0
    )


def bouncing(sql: Sql) -> list[tuple[str, float, object, object, str]]:
    """Every address with a bounce score: (address, score, last bounce, suppressed since, diagnostic)."""
    return sql.all(
        "SELECT address, score, last_bounce_on, suppressed_at, diagnostic FROM bounce_state"
        " ORDER BY score DESC, address"
    )
