"""VERP: every mail we send has its own envelope sender, `support+bounce-<id>-<key><sig>@domain`.

A bounce comes back to the envelope sender, so the address it arrives at
names the outbox row it is about. The signature (HMAC with our signing key)
means a forged bounce cannot make us believe an address is dead.
"""

from __future__ import annotations

import hmac
import re

from tierdesk.parsers.reply_address import KeyRing, SigningKey, signature

_BOUNCE_TAG = re.compile(r"^bounce-(\d{1,18})-([a-z0-9]{2})([a-z2-7]{12})$")


def verp_address(support_address: str, key: SigningKey, outbox_id: int) -> str:
    """The envelope sender for outbox row `outbox_id`."""
    local, _, domain = support_address.partition("@")
    base = local.partition("+")[0]
    sig = signature(key.secret, f"bounce-{outbox_id}")
    return f"{base}+bounce-{outbox_id}-{key.id}{sig}@{domain}"


def looks_like_verp(address: str, own_addresses: frozenset[str]) -> bool:
    """True for an address of our bounce form, `support+bounce-...@domain`, signed or not."""
    local, _, domain = address.strip().strip("<>").lower().partition("@")
    base, plus, tag = local.partition("+")
    return (
        bool(plus) and tag.startswith("bounce-") and f"{base}@{domain}" in own_addresses
    )


def read_verp(address: str, own_addresses: frozenset[str], ring: KeyRing) -> int | None:
    """The outbox row a bounce address of ours names, or None (not ours, not VERP, forged)."""
    local, _, domain = address.strip().strip("<>").lower().partition("@")
    base, plus, tag = local.partition("+")
    if not plus or f"{base}@{domain}" not in own_addresses:
        return None
    match = _BOUNCE_TAG.match(tag)
    if match is None:
        return None
    outbox_id, key_id, given = match.groups()
    key = ring.get(key_id)
    if key is None or not hmac.compare_digest(
        signature(key.secret, f"bounce-{outbox_id}"), given
    ):
        return None
    return int(outbox_id)
