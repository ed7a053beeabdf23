"""The last checks before any mail we send: never to robots, bounces, lists or ourselves, never past a limit.

Pure: the caller supplies how many mails of the class the address already
got in the last hour and day (counted in the database, by address key).
"""

from __future__ import annotations

import re

from tierdesk.parsers.classify import is_own_address
from tierdesk.parsers.idn import (
    UnwritableAddress,
    comparable_domain,
    comparable_local,
    wire_address,
)
from tierdesk.parsers.parsed import Classification
from tierdesk.rules.handling.settings import Limits

_ROBOT_LOCAL_PART = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer[-_.]?daemon|postmaster|bounces?"
    r"|notifications?|alerts?)([+-].*)?$",
    re.IGNORECASE,
)


def is_deliverable_address(address: str) -> bool:
    """True for a plain addr-spec we are willing to put in To: and RCPT TO.

    An internationalised domain is (it goes out in A-labels), and so is a
    UTF-8 local part: whether the relay can carry it is the sender's to find out.
    """
    try:
        wire_address(address)
    except UnwritableAddress:
        return False
    return True


def address_key(address: str) -> str:
    """An address as limits count it: lower-cased, without a `+tag` (alice+1@ is alice@),
    the domain in A-labels (olga@пример.рф is olga@xn--e1afmkfd.xn--p1ai)."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{comparable_local(local.split('+', 1)[0])}@{comparable_domain(domain)}"


def is_robot_address(address: str) -> bool:
    """True for addresses that by their name never read replies (noreply@, mailer-daemon@ ...)."""
    local = address.rpartition("@")[0]
    return bool(_ROBOT_LOCAL_PART.match(local))


def automatic_mail_refusal(
    classification: Classification, address: str, own_addresses: frozenset[str]
) -> str | None:
    """Why no automatic mail may ever go to `address` in answer to this mail, or None."""
    if classification.is_automatic:
        return f"sender is not a person ({classification.kind.value}: {classification.reason})"
    if not address or not is_deliverable_address(address):
        return f"no usable address ({address!r})"
    if is_own_address(address, own_addresses):
        return "address is our own"
    if is_robot_address(address):
        return "address belongs to a robot"
    return None


def over_limit(
    limit_class: str, address: str, last_hour: int, last_day: int, limits: Limits
) -> str | None:
    """Why one more mail of `limit_class` may not go to `address` now, or None."""
    per_hour, per_day = {
        "automatic": (limits.automatic_per_hour, limits.automatic_per_day),
        "notice": (limits.notices_per_hour, limits.notices_per_day),
        "relayed": (limits.relayed_per_hour, limits.relayed_per_day),
    }[limit_class]
    what = {
        "automatic": "automatic mails",
        "notice": "notices",
        "relayed": "relayed answers",
    }[limit_class]
    key = address_key(address)
    if last_hour >= per_hour:
        return f"rate limit: {last_hour} {what} to {key} in the last hour"
    if last_day >= per_day:
        return f"rate limit: {last_day} {what} to {key} in the last day"
    return None
