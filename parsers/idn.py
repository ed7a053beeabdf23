"""Internationalised addresses as the mail system carries them, compares them and shows them.

A domain goes out as IDNA A-labels (`пример.рф` → `xn--e1afmkfd.xn--p1ai`),
converted by the `idna` package (IDNA 2008 with the UTS 46 mapping,
non-transitional), not by the standard library's codec: that one is IDNA
2003, which turns `faß.de` into `fass.de` and drops the joiners some scripts
need, so mail would go to another domain. A local part is never converted:
one that is not ASCII can only travel with SMTPUTF8 (RFC 6531). Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import idna

MAX_WIRE_OCTETS = 254  # RFC 5321's 256-octet path, less the angle brackets
# what no local part may hold unquoted (we never write quoted local parts)
_LOCAL_SPECIALS = re.compile(r'[\s<>()\[\]\\,;:"@]')
# an ASCII domain as tierdesk has always accepted it
_ASCII_DOMAIN = re.compile(r"[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*")


class UnwritableAddress(ValueError):
    """An address no mail can be sent to as it is written; the message says why."""


@dataclass(frozen=True)
class WireAddress:
    """An address as it goes into RCPT TO and the headers."""

    address: str  # the local part as written, the domain in A-labels
    smtputf8: bool  # the local part is not ASCII: only SMTPUTF8 can carry it


def ascii_domain(domain: str) -> str:
    """The domain in A-labels; an ASCII domain as it is. Raises UnwritableAddress."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnwritableAddress(
            f"the domain {domain} is not a valid internationalised domain name"
            f" (IDNA 2008: {exc}); ask the customer for another address"
        ) from exc


def wire_address(address: str) -> WireAddress:
    """`address` as we send to it; raises UnwritableAddress saying what is wrong with it."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise UnwritableAddress(f"{address!r} is not an address (local@domain)")
    if not local.isprintable() or _LOCAL_SPECIALS.search(local):
        raise UnwritableAddress(
            f"the local part of {address!r} has characters no address can carry"
        )
    encoded = ascii_domain(domain)
    if not _ASCII_DOMAIN.fullmatch(encoded):
        raise UnwritableAddress(f"the domain of {address!r} is not a domain name")
    wire = f"{local}@{encoded}"
    if len(wire.encode("utf-8")) > MAX_WIRE_OCTETS:
        raise UnwritableAddress(
            f"{address!r} is longer than the {MAX_WIRE_OCTETS} octets SMTP allows"
        )
    return WireAddress(wire, not local.isascii())


def comparable_local(local: str) -> str:
    """A lower-cased local part in one Unicode form (NFC), so é and e + ◌́ compare equal."""
    local = local.lower()
    return local if local.isascii() else unicodedata.normalize("NFC", local)


def comparable_domain(domain: str) -> str:
    """A domain in the one form addresses are compared in: lower-case A-labels.

    A-labels, because that is what relays and bounce reports carry, and the
    conversion folds case, width and composition; a domain that has no
    A-label form stays as written (lower-case, NFC).
    """
    domain = domain.lower()
    if domain.isascii():
        return domain
    try:
        return ascii_domain(domain)
    except UnwritableAddress:
        return unicodedata.normalize("NFC", domain)


def readable_address(address: str) -> str:
    """An address for people to read: A-labels shown as the Unicode they stand for."""
    local, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return address
