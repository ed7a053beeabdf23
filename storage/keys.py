"""The keys that sign reply addresses, kept in the database so every daemon shares them.

The newest key signs; `rotate` adds a new one and retires the one before,
which still verifies for the configured grace period (the caller decides
that, from `retired_at`). The secret that signed addresses before keys had
ids stays readable as the ring's legacy secret.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from tierdesk.parsers.reply_address import KeyRing, SigningKey
from tierdesk.storage.clock import as_aware_utc
from tierdesk.storage.schema import REPLY_SECRET_KEY
from tierdesk.storage.sql import Sql

_ID_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def load_keys(sql: Sql, now: datetime) -> KeyRing:
    """Every key, the newest first; the first one is made on first use."""
    rows = _rows(sql)
    if not rows:
        with sql.db.atomic():
            sql.insert_ignore(
                "signing_key", id="00", secret=secrets.token_hex(32), created_at=now
            )
        rows = _rows(sql)
    legacy = sql.scalar("SELECT value FROM meta WHERE key = ?", REPLY_SECRET_KEY)
    keys = tuple(
        SigningKey(key_id, bytes.fromhex(secret), as_aware_utc(retired))
        for key_id, secret, retired in rows
    )
    return KeyRing(keys, legacy=bytes.fromhex(legacy) if legacy else None)


def rotate(sql: Sql, now: datetime) -> SigningKey:
    """A new signing key; the current one is retired now (it keeps verifying for a grace period)."""
    with sql.db.atomic():
        ids = [row[0] for row in _rows(sql)]
        number = max((int(i, 36) for i in ids), default=-1) + 1
        if number >= 36 * 36:
            raise ValueError("all 1296 key ids are used; remove retired keys first")
        key_id = _ID_DIGITS[number // 36] + _ID_DIGITS[number % 36]
        sql.run("UPDATE signing_key SET retired_at = ? WHERE retired_at IS NULL", now)
        secret = secrets.token_hex(32)
        sql.insert_ignore("signing_key", id=key_id, secret=secret, created_at=now)
    return SigningKey(key_id, bytes.fromhex(secret))


def forget_retired(sql: Sql, before: datetime) -> int:
    """Delete keys retired before `before`; addresses they signed stop verifying."""
    with sql.db.atomic():
        cursor = sql.run(
            "DELETE FROM signing_key WHERE retired_at IS NOT NULL AND retired_at < ?",
            before,
        )
    return cursor.rowcount


def key_fingerprint(sql: Sql) -> tuple[object, ...]:
    """Changes whenever a key is added or retired (daemons reload their ring then)."""
    row = sql.one(
        "SELECT COUNT(*), MAX(created_at), COUNT(retired_at) FROM signing_key"
    )
    return tuple(row or ())


def list_keys(sql: Sql) -> list[tuple[str, datetime | None, datetime | None]]:
    """(id, created, retired) of every key, the newest first."""
    rows = sql.all(
        "SELECT id, created_at, retired_at FROM signing_key ORDER BY created_at DESC, id DESC"
    )
    return [(r[0], as_aware_utc(r[1]), as_aware_utc(r[2])) for r in rows]


def _rows(sql: Sql) -> list[tuple[str, str, object]]:
    return sql.all(
        "SELECT id, secret, retired_at FROM signing_key ORDER BY created_at DESC, id DESC"
    )
