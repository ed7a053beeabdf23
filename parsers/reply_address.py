"""Signed reply addresses: `support+<ticket>.<mode><role>.<name>.<signature>@domain`.

Every mail we send carries a Reply-To naming the ticket and who it was sent
to (the customer, an agent, a vendor) and whether a reply is correspondence
or a private note. The signature is an HMAC over those fields with a secret
only we know, so a reply threads even when a client mangles the subject and
drops References, and only a reply to an agent's own signed address (from
that agent's address) can act as that agent. Lower-case letters and digits
only: some mail systems lower-case local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from tierdesk.parsers.parsed import ParsedMail

ROLES = {"a": "agent", "c": "customer", "v": "vendor"}
MODES = {"r": "reply", "n": "note"}
SIGNATURE_CHARS = 12
_TAG = re.compile(
    rf"^(\d{{1,18}})\.([rn])([acv])\.([a-z0-9_-]{{1,64}})\.([a-z2-7]{{{SIGNATURE_CHARS}}})$"
)
CUSTOMER = "x"


@dataclass(frozen=True)
class ReplyTarget:
    """What a signed address names: the ticket, who it was sent to, and reply or note."""

    ticket: int
    role: str
    name: str
    mode: str

    @property
    def is_note(self) -> bool:
        """True for the private-note address (never reaches the customer)."""
        return self.mode == "note"


def signature(secret: bytes, payload: str) -> str:
    """The first characters of the HMAC-SHA256 of `payload`, in lower-case base32."""
    digest = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SIGNATURE_CHARS]


def sign(
    support_address: str,
    secret: bytes,
    ticket: int,
    role: str,
    name: str = CUSTOMER,
    mode: str = "reply",
) -> str:
    """The signed address for `ticket` and one party (role agent/customer/vendor)."""
    local, _, domain = support_address.partition("@")
    base = local.partition("+")[0]
    role_code = next(code for code, long in ROLES.items() if long == role)
    mode_code = next(code for code, long in MODES.items() if long == mode)
    payload = f"{ticket}.{mode_code}{role_code}.{name.lower()}"
    return f"{base}+{payload}.{signature(secret, payload)}@{domain}"


def read(
    address: str, own_addresses: frozenset[str], secret: bytes
) -> ReplyTarget | None:
    """The target of a signed address of ours, or None (not ours, not signed, or forged)."""
    local, _, domain = address.strip().lower().partition("@")
    base, plus, tag = local.partition("+")
    if not plus or f"{base}@{domain}" not in own_addresses:
        return None
    match = _TAG.match(tag)
    if match is None:
        return None
    ticket, mode, role, name, given = match.groups()
    expected = signature(secret, f"{ticket}.{mode}{role}.{name}")
    if not hmac.compare_digest(expected, given):
        return None
    return ReplyTarget(int(ticket), ROLES[role], name, MODES[mode])


def looks_signed(address: str) -> bool:
    """True when an address has the shape of a signed one (signature not checked)."""
    local = address.strip().lower().partition("@")[0]
    return bool(_TAG.match(local.partition("+")[2]))


def signed_target(
    recipients: list[str],
    mail: ParsedMail,
    own_addresses: frozenset[str],
    secret: bytes,
) -> ReplyTarget | None:
    """The first valid signed address among the envelope recipients and To/Cc headers."""
    headers = [a.email for a in (*mail.to, *mail.cc)]
    for address in [
        *recipients,
        *headers,
        mail.header("delivered-to"),
        mail.header("x-original-to"),
    ]:
        if address and "+" in address:
            target = read(address, own_addresses, secret)
            if target is not None:
                return target
    return None
