"""Text as both databases store it: no NUL, no lone surrogate, and within its column.

PostgreSQL refuses a NUL in text and a value longer than a varchar column;
SQLite stores both as given. So that the same mail is kept the same way on
either (and is kept at all on PostgreSQL), every parameter of every
statement passes `storable` at the database edge (`storage.db`), and the
values of limited columns that come from mail (addresses, Message-IDs) pass
`fit`, in the writes and in the look-ups alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

REPLACEMENT = "\ufffd"  # what the codecs put for what cannot be decoded
ADDRESS_CHARS = 320  # contact.email, participant.address ...: RFC 3696's 64 + 1 + 255
# message.message_id: RFC 5322's line of 998 octets; the octets also keep the
# unique index entry under PostgreSQL's btree limit (2704 bytes)
MESSAGE_ID_OCTETS = 998
_DIGEST_CHARS = 16
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """`value` with each NUL and lone surrogate replaced by U+FFFD, which every database stores."""
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate that no codec made into a character
        return _SURROGATE_RE.sub(REPLACEMENT, value)
    return value


def storable_params(params: Sequence[Any] | None) -> Sequence[Any] | None:
    """A statement's parameters with every string made storable (others as they are)."""
    if not params:
        return params
    for p in params:  # a loop, not any(): this runs for every statement
        if isinstance(p, str) and ("\x00" in p or not p.isascii()):
            break
    else:
        return params  # the usual case: nothing copied
    return type(params)(storable(p) if isinstance(p, str) else p for p in params)


def fit(value: str, chars: int, octets: int | None = None) -> str:
    """`value` made storable, within `chars` characters (and `octets` UTF-8 bytes).

    A longer value keeps its start and gains a digest of the whole, so two
    long values that start alike stay apart and the same value always fits
    the same way (a look-up fits its key as the write did).
    """
    value = storable(value)
    size = len(value.encode("utf-8")) if octets is not None else 0
    if len(value) <= chars and (octets is None or size <= octets):
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    tail = "…" + digest
    keep = chars - len(tail)
    head = value[:keep]
    if octets is not None:
        room = octets - len(tail.encode("utf-8"))
        head = head.encode("utf-8")[:room].decode("utf-8", "ignore")
    return head + tail


def address_column(address: str) -> str:
    """An address (or address key) as an address column stores and finds it."""
    return fit(address, ADDRESS_CHARS)


def message_id_column(message_id: str) -> str:
    """A Message-ID as `message.message_id` stores and finds it."""
    return fit(message_id, MESSAGE_ID_OCTETS, MESSAGE_ID_OCTETS)
