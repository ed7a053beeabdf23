"""Address fields (From, To, Cc, Reply-To) for `parse_mail`: raw compat32 values in, addresses out.

A plain field is read directly, any other with policy.default; what that
cannot read goes to `getaddresses`, and then anything address-shaped is
salvaged. Every fallback leaves a note.
"""

from __future__ import annotations

import functools
import re
from email import policy
from email.utils import getaddresses
from typing import NamedTuple

from tierdesk.parsers.headers import (
    MAX_POLICY_LENGTH,
    decode_header_value,
    decode_words_leniently,
    single_line,
    text_from_8bit,
    unfold,
)
from tierdesk.parsers.parsed import Address

_POLICY = policy.default
# The classes policy.default builds for these headers, built once.
_HEADER_CLASSES = {
    name: _POLICY.header_factory[name] for name in ("from", "to", "cc", "reply-to")
}
_LINEBREAK_RE = re.compile(r"[\r\n]")
_MAX_CACHED_LENGTH = 1000
_ENCODED_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_ENCODED_RUN_RE = re.compile(rf"{_ENCODED_WORD}(?:\s+{_ENCODED_WORD})*")
_ANGLE_ADDR_RE = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
# The lookbehind makes a match start only at a word start: linear time.
_BARE_ADDR_RE = re.compile(r"(?<![^\s<>\"(),;:@])[^\s<>\"(),;:@]+@[^\s<>\"(),;:@]+")
_BAD_ADDR_RE = re.compile(r"[<>\x00-\x1f\x7f]")
# The commonest address field, read without the header registry when nothing
# in it could be parsed two ways: `Name Words <local@domain>` or a bare
# `local@domain`, ASCII atoms only (no quotes, dots, comments or encoded words).
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_PLAIN_NAME = r"[A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*"
_PLAIN_ADDRESS_RE = re.compile(
    rf"(?:(?P<name>{_PLAIN_NAME}) <(?P<angle>{_DOT_ATOM}@{_DOT_ATOM})>"
    rf"|(?P<bare>{_DOT_ATOM}@{_DOT_ATOM}))"
)


class AddressField(NamedTuple):
    """An address header, parsed: the mailboxes, the decoded text, and defect notes."""

    addresses: list[Address]
    text: str
    defects: list[str]


def parse_addresses(
    name: str, value: str, fallback_charset: str | None = None
) -> AddressField:
    """Parse an address header with policy.default, falling back to getaddresses.

    policy.default raises on many malformed headers; those fall back and get a note.
    """
    notes: list[str] = []
    text, note = text_from_8bit(value, fallback_charset)
    if note:
        notes.append(f"{name}: {note}")
    text = unfold(text)
    if len(text) > MAX_POLICY_LENGTH:
        # policy.default needs ~0.3 ms per address; a huge list would stall intake.
        notes.append(f"{name}: {len(text)} characters; parsed with getaddresses")
        pairs, display = _fallback_pairs(text), _display_fallback(text, name)
    elif (plain := _plain_addresses(text)) is not None:
        pairs, display = plain  # the header registry costs 0.1 ms a field
    else:
        try:
            parse = _policy_addresses
            if len(text) <= _MAX_CACHED_LENGTH:
                parse = _policy_addresses_cached
            pairs, display = parse(name.lower(), text)
        except Exception as exc:  # noqa: BLE001 - policy.default has many crash paths
            notes.append(
                f"{name}: policy.default raised {type(exc).__name__}: {exc}; "
                "parsed with email.utils.getaddresses"
            )
            pairs, display = _fallback_pairs(text), _display_fallback(text, name)
    addresses = [
        Address(single_line(n), single_line(e))
        for n, e in pairs
        if _plausible(single_line(e))
    ]
    if len(addresses) < len([e for _, e in pairs if e.strip()]) or (
        not addresses and "@" in text
    ):
        salvaged = _salvage(text)
        if salvaged:
            notes.append(f"{name}: malformed address list; salvaged {len(salvaged)}")
            known = {a.key for a in addresses}
            addresses += [a for a in salvaged if a.key not in known]
    return AddressField(addresses, single_line(display), notes)


def _policy_addresses(name: str, text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    # This is policy.default.header_fetch_parse(name, text) without its cost of
    # building a new header class on every call (HeaderRegistry.__getitem__).
    header_class = _HEADER_CLASSES.get(name) or _POLICY.header_factory[name]
    header = header_class(name, _LINEBREAK_RE.sub("", text))
    pairs = tuple((a.display_name, a.addr_spec) for a in header.addresses)
    return pairs, str(header)


# The same To/From values recur all day (support@, regular customers) and
# the header registry is the costliest step of a parse. Only short values are
# cached, so a flood of huge headers cannot grow the cache beyond a few MB.
_policy_addresses_cached = functools.lru_cache(maxsize=2048)(_policy_addresses)


def _fallback_pairs(text: str) -> list[tuple[str, str]]:
    # getaddresses does not know RFC 2047: a ':' inside an encoded word turns
    # the name into a group and leaks a bogus address. Turn each run of
    # encoded words into a quoted string of its decoded text first.
    def quote(match: re.Match[str]) -> str:
        decoded = single_line(decode_words_leniently(match.group()))
        return '"' + decoded.replace("\\", "\\\\").replace('"', '\\"') + '"'

    try:
        return [
            (n, e) for n, e in getaddresses([_ENCODED_RUN_RE.sub(quote, text)]) if e
        ]
    except Exception:  # noqa: BLE001 - fall through to salvage
        return []


def _display_fallback(text: str, name: str) -> str:
    return decode_header_value(text, name)[0]


def _plausible(addr: str) -> bool:
    if not addr or _BAD_ADDR_RE.search(addr):
        return False
    return addr.startswith('"') or not any(c.isspace() for c in addr)


def _salvage(text: str) -> list[Address]:
    text = _ENCODED_RUN_RE.sub(" ", text)  # an encoded word is never an address
    found = _ANGLE_ADDR_RE.findall(text) or _BARE_ADDR_RE.findall(text)
    return [Address("", single_line(addr)) for addr in dict.fromkeys(found)]


def _plain_addresses(text: str) -> tuple[tuple[tuple[str, str], ...], str] | None:
    """What policy.default makes of a plain address list, or None when it is not plain.

    tests/test_address_fields_plain.py checks that both read every plain list alike.
    """
    pairs = []
    for item in text.split(","):
        match = _PLAIN_ADDRESS_RE.fullmatch(item.strip())
        if match is None or "=?" in item:
            return None
        if match["bare"]:
            pairs.append(("", match["bare"]))
        else:
            pairs.append((match["name"], match["angle"]))
    display = ", ".join(f"{n} <{a}>" if n else a for n, a in pairs)
    return tuple(pairs), display
