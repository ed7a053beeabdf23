"""Signed reply addresses: `support+<ticket>.<mode><role>.<name>.<key><day>.<signature>@domain`.

Every mail we send carries a Reply-To naming the ticket, who it was sent to
(the customer, an agent, a vendor) and whether a reply is correspondence or
a private note, plus the id of the key that signed it and the day it was
issued. The signature is an HMAC over all of that with a secret only we
know, so a reply threads even when a client mangles the subject and drops
References, and whoever holds it can be told how old it is. Keys rotate:
an address names its key, so old ones stay readable while their key is
kept. Lower-case letters and digits only: some mail systems lower-case
local parts. Whether an address may still be *used* (its age, its key's
retirement) is decided by the caller, which knows the time and the limits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tierdesk.parsers.parsed import ParsedMail

ROLES = {"a": "agent", "c": "customer", "v": "vendor"}
MODES = {"r": "reply", "n": "note"}
SIGNATURE_CHARS = 12
_EPOCH = date(1970, 1, 1)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TAG = re.compile(
    r"^(\d{1,18})\.([rn])([acv])\.([a-z0-9_-]{1,64})\."
    rf"(?:([a-z0-9]{{2}})([a-z0-9]{{4}})\.)?([a-z2-7]{{{SIGNATURE_CHARS}}})$"
)
CUSTOMER = "x"
KEY_ID = re.compile(r"^[a-z0-9]{2}$")


@dataclass(frozen=True)
class SigningKey:
    """A secret that signs reply addresses, named by a two-character id."""

    id: str
    secret: bytes
    retired_at: datetime | None = None  # when a newer key took over


@dataclass(frozen=True)
class KeyRing:
    """The signing keys we know, the current one first."""

    keys: tuple[SigningKey, ...]
    legacy: bytes | None = None  # verifies addresses made before keys had ids

    @property
    def current(self) -> SigningKey:
        """The key new addresses are signed with."""
        return self.keys[0]

    def get(self, key_id: str) -> SigningKey | None:
        """The key with this id, or None."""
        return next((k for k in self.keys if k.id == key_id), None)

    @staticmethod
    def single(secret: bytes, key_id: str = "00") -> KeyRing:
        """A ring of one key (tests, and a secret given in the configuration)."""
        return KeyRing((SigningKey(key_id, secret),), legacy=secret)


@dataclass(frozen=True)
class ReplyTarget:
    """What a signed address names: the ticket, who it was sent to, reply or note, and when."""

    ticket: int
    role: str
    name: str
    mode: str
    issued: date | None = None  # None: an old address without a date
    key: SigningKey | None = None

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
    key: SigningKey,
    ticket: int,
    role: str,
    name: str = CUSTOMER,
    mode: str = "reply",
    issued: date | None = None,
) -> str:
    """The signed address for `ticket` and one party (role agent/customer/vendor)."""
    local, _, domain = support_address.partition("@")
    base = local.partition("+")[0]
    role_code = next(code for code, long in ROLES.items() if long == role)
    mode_code = next(code for code, long in MODES.items() if long == mode)
    stamp = f"{key.id}{_day_code(issued or _EPOCH)}"
    payload = f"{ticket}.{mode_code}{role_code}.{name.lower()}.{stamp}"
    return f"{base}+{payload}.{signature(key.secret, payload)}@{domain}"


def read(
    address: str, own_addresses: frozenset[str], ring: KeyRing
) -> ReplyTarget | None:
    """The target of a signed address of ours, or None (not ours, not signed, or forged)."""
    local, _, domain = address.strip().lower().partition("@")
    base, plus, tag = local.partition("+")
    if not plus or f"{base}@{domain}" not in own_addresses:
        return None
    match = _TAG.match(tag)
    if match is None:
        return None
    ticket, mode, role, name, key_id, day, given = match.groups()
    fields = f"{ticket}.{mode}{role}.{name}"
    if key_id is None:  # made before keys had ids and addresses a date
        if ring.legacy is None or not _valid(ring.legacy, fields, given):
            return None
        return ReplyTarget(int(ticket), ROLES[role], name, MODES[mode])
    key = ring.get(key_id)
    issued = _day(day)
    if (
        key is None
        or issued is None
        or not _valid(key.secret, f"{fields}.{key_id}{day}", given)
    ):
        return None
    return ReplyTarget(int(ticket), ROLES[role], name, MODES[mode], issued, key)


def looks_signed(address: str) -> bool:
    """True when an address has the shape of a signed one (signature not checked)."""
    local = address.strip().lower().partition("@")[0]
    return bool(_TAG.match(local.partition("+")[2]))


def first_signed(
    addresses: Iterable[str], own_addresses: frozenset[str], ring: KeyRing
) -> ReplyTarget | None:
    """The first valid signed address among `addresses`."""
    for address in addresses:
        if address and "+" in address:
            target = read(address, own_addresses, ring)
            if target is not None:
                return target
    return None


def header_addresses(mail: ParsedMail) -> list[str]:
    """The To and Cc addresses a sender wrote: good for threading, never for authority."""
    return [a.email for a in (*mail.to, *mail.cc)]


def _valid(secret: bytes, payload: str, given: str) -> bool:
    return hmac.compare_digest(signature(secret, payload), given)


def _day_code(day: date) -> str:
    """Days since 1970 in four base-36 digits (enough until the year 6700)."""
    number = max(0, (day - _EPOCH).days)
    digits = ""
    for _ in range(4):
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
    return digits


def _day(code: str) -> date | None:
    try:
        return _EPOCH + timedelta(days=int(code, 36))
    except (ValueError, OverflowError):
        return None
