"""The last check before any automatic mail: never to robots, bounces, lists or ourselves.

Pure: the caller supplies how many automatic mails the address already got
in the last hour.
"""

from __future__ import annotations

import re

from tierdesk.parsers.classify import is_own_address
from tierdesk.parsers.parsed import Classification

_MAILBOX = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
_ROBOT_LOCAL_PART = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer[-_.]?daemon|postmaster|bounces?"
    r"|notifications?|alerts?)([+-].*)?$",
    re.IGNORECASE,
)


def is_deliverable_address(address: str) -> bool:
    """True for a plain addr-spec we are willing to put in To: and RCPT TO."""
    return address.isascii() and bool(_MAILBOX.match(address)) and len(address) <= 254


def is_robot_address(address: str) -> bool:
    """True for addresses that by their name never read replies (noreply@, mailer-daemon@ ...)."""
    local = address.rpartition("@")[0]
    return bool(_ROBOT_LOCAL_PART.match(local))


def automatic_mail_refusal(
    classification: Classification,
    address: str,
    own_addresses: frozenset[str],
    sent_last_hour: int,
    limit_per_hour: int,
) -> str | None:
    """Why no automatic mail may go to `address` now, or None when it may."""
    if classification.is_automatic:
        return f"sender is not a person ({classification.kind.value}: {classification.reason})"
    if not address or not is_deliverable_address(address):
        return f"no usable address ({address!r})"
    if is_own_address(address, own_addresses):
        return "address is our own"
    if is_robot_address(address):
        return "address belongs to a robot"
    if sent_last_hour >= limit_per_hour:
        return f"rate limit: {sent_last_hour} automatic mails to {address} in the last hour"
    return None
