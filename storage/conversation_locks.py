"""One conversation at a time across daemons: PostgreSQL advisory locks on its keys.

Two messages of one new conversation (the request and a quick follow-up
that refers to it), or the same message delivered twice, can reach two
daemons at once; each would find no ticket yet and open one. A transaction
that handles a message first locks its conversation's keys (the root of
its thread, and its sender), so the second waits until the first has
committed and then finds its ticket. The root is the first Message-ID of
References (RFC 5322 keeps it there), else In-Reply-To, else the message's
own: a request, its follow-ups and any copy of either share it. Locking
the root alone, not every Message-ID named, keeps unrelated messages
from waiting on each other (a reply names a whole thread). Sender keys also make the
per-sender counts (new tickets an hour) exact across daemons. Locks are taken
sorted, all at the start of the transaction, so two transactions cannot
deadlock on them. SQLite needs none of this: it has one writer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import Inbound
from tierdesk.storage.sql import Sql


def conversation_keys(msg: Inbound) -> set[str]:
    """The keys a message's transaction locks: its thread's root and its sender."""
    mail = msg.mail
    root = next(
        (i for i in (*mail.references[:1], *mail.in_reply_to[:1]) if i),
        mail.message_id,
    )
    keys = {f"thread:{root}"}
    if msg.sender:
        keys.add(f"sender:{address_key(msg.sender)}")
    return keys


def lock_key(key: str) -> int:
    """A key as the signed 64-bit number PostgreSQL's advisory locks take."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "big",
        signed=True,
    )


def lock_conversations(sql: Sql, keys: Iterable[str]) -> None:
    """Inside a transaction: wait for and hold these keys until it ends (PostgreSQL only)."""
    if sql.sqlite:
        return
    numbers = sorted({lock_key(key) for key in keys})
    if numbers:
        sql.run(
            "SELECT count(pg_advisory_xact_lock(k))"
            " FROM (SELECT unnest(?::bigint[]) AS k ORDER BY 1) AS ordered",
            numbers,
        )
