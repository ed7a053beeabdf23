"""The way a spooled message came, as its Received headers tell it (`tierdesk spool why`).

mail-parser reads the Received chain into hops with their delays; its parse
is a second opinion beside our own, useful on mail we quarantined. Only the
header block goes to it, capped, so a hostile body costs nothing here. The
hops are what the headers claim: every one but our own MTA's is written by
someone else, so they are shown, never trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mailparser
from tierdesk.parsers.headers import single_line

MAX_HEADER_BYTES = 64 * 1024  # more Received headers than that is itself the news
MAX_HOPS = 30
MAX_FIELD_CHARS = 120
_C1_CONTROLS_RE = re.compile("[\x80-\x9f]+")  # CSI (0x9b) drives terminals too


@dataclass(frozen=True)
class Hop:
    """One Received header: who handed the message to whom, when, and how long after."""

    number: int
    by: str
    from_: str
    with_: str
    date: str
    delay: float | None


def header_block(raw: bytes) -> bytes:
    """The raw headers, up to the first empty line, at most MAX_HEADER_BYTES."""
    head = raw[:MAX_HEADER_BYTES]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] + b"\n\n" if ends else head


def mail_path(raw: bytes) -> list[Hop]:
    """The hops from the first Received header (the sender's side) to ours."""
    try:
        found = mailparser.parse_from_bytes(header_block(raw)).received
    except Exception:  # noqa: BLE001 - forensics on hostile mail: nothing to show is fine
        return []
    hops = []
    for index, hop in enumerate(found[:MAX_HOPS], start=1):
        delay = hop.get("delay")
        hops.append(
            Hop(
                index,
                _clean(hop.get("by")),
                _clean(hop.get("from")),
                _clean(hop.get("with")),
                _clean(hop.get("date_utc") or hop.get("date")),
                float(delay) if isinstance(delay, int | float) else None,
            )
        )
    return hops


def _clean(value: object) -> str:
    """One printable line (a header may carry terminal escapes), clipped."""
    text = _C1_CONTROLS_RE.sub(" ", single_line(str(value))) if value else ""
    return text[:MAX_FIELD_CHARS] + ("…" if len(text) > MAX_FIELD_CHARS else "")
