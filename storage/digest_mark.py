"""Which day's digest has gone out: one `meta` row, moved forward once per day.

The claim runs inside the transaction that queues the digest mails, so a
day's digest is queued exactly once however many daemons try at once: on
PostgreSQL the second UPDATE waits for the first one's row lock and then
finds the day already taken; SQLite serialises the transactions. A crash
before the commit leaves both the claim and the mails unwritten.
"""

from __future__ import annotations

from datetime import date

from tierdesk.storage.sql import Sql

DIGEST_KEY = "digest_sent_for"


def last_digest_day(sql: Sql) -> date | None:
    """The day whose digest was queued last, or None before the first one."""
    value = sql.scalar("SELECT value FROM meta WHERE key = ?", DIGEST_KEY)
    return date.fromisoformat(value) if value else None


def claim_digest_day(sql: Sql, day: date) -> bool:
    """Take `day`'s digest for this transaction; False if it (or a later one) is taken."""
    sql.insert_ignore("meta", key=DIGEST_KEY, value="")
    # ISO dates compare as text; '' is before every day
    cursor = sql.run(
        "UPDATE meta SET value = ? WHERE key = ? AND value < ?",
        day.isoformat(),
        DIGEST_KEY,
        day.isoformat(),
    )
    return cursor.rowcount == 1
