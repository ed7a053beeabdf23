"""What automatic mail may repeat of a sender's words: short, and nothing that reads as a link.

An acknowledgement can be aimed at a victim with a forged From; if it
repeated a display name like "verify at http://evil.test/verify", we would
be delivering the attacker's message. So names and subjects we echo are
cut short, and anything that looks like an address on the web goes.
"""

from __future__ import annotations

import re

NAME_CHARS = 40
SUBJECT_CHARS = 80
# Only the start of a text is read: the link patterns backtrack over a long
# run of letters (a 64 KB subject of one word took 13 s a pattern), and no
# more than `limit` characters are echoed anyway.
SCANNED_PER_ECHOED = 4
_LINK_RE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*"  # scheme:// and www.
    r"|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?"  # host.tld and host.tld/path
    r"|\S+@\S+",  # addresses
    re.IGNORECASE,
)


def safe_echo(text: str, limit: int) -> str:
    """`text` without links, hosts or addresses, white space folded, at most `limit` characters."""
    start = text[: limit * SCANNED_PER_ECHOED]
    cleaned = " ".join(_LINK_RE.sub(" ", start).split())
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 1].rstrip() + "…"
