"""Signed reply addresses: they name ticket, party, key and day, and cannot be forged."""

from __future__ import annotations

from datetime import date

from tierdesk.parsers.reply_address import (
    KeyRing,
    SigningKey,
    looks_signed,
    read,
    sign,
    signature,
)

SECRET = b"test-secret-0123456789"
KEY = SigningKey("00", SECRET)
RING = KeyRing((KEY,), legacy=SECRET)
OURS = frozenset({"support@acme.example"})
DAY = date(2026, 11, 2)


def test_signed_address_names_ticket_party_mode_key_and_day():
    address = sign("support@acme.example", KEY, 123, "agent", "alice", "note", DAY)

    target = read(address, OURS, RING)

    assert address.startswith("support+123.na.alice.00") and address.endswith(
        "@acme.example"
    )
    assert (target.ticket, target.role, target.name, target.is_note) == (
        123,
        "agent",
        "alice",
        True,
    )
    assert (target.issued, target.key) == (DAY, KEY)


def test_customer_address_survives_a_mail_system_that_upper_cases_it():
    address = sign("support@acme.example", KEY, 7, "customer", issued=DAY)

    target = read(address.upper(), OURS, RING)

    assert (target.ticket, target.role, target.mode) == (7, "customer", "reply")


def test_changing_the_ticket_the_agent_or_the_day_breaks_the_signature():
    address = sign("support@acme.example", KEY, 123, "agent", "alice", issued=DAY)
    later = sign(
        "support@acme.example", KEY, 123, "agent", "alice", issued=date(2027, 1, 1)
    )

    assert read(address.replace("+123.", "+124."), OURS, RING) is None
    assert read(address.replace(".alice.", ".mallory."), OURS, RING) is None
    forged_day = address.replace(address.split(".")[3], later.split(".")[3])
    assert read(forged_day, OURS, RING) is None
    assert read(address, OURS, KeyRing.single(b"another-secret")) is None
    assert looks_signed(address.replace("+123.", "+124."))


def test_an_address_names_its_key_so_a_rotated_ring_still_reads_it():
    new = SigningKey("01", b"the-next-secret")
    address = sign("support@acme.example", KEY, 5, "agent", "bob", issued=DAY)

    assert read(address, OURS, KeyRing((new, KEY))).key == KEY
    assert read(address, OURS, KeyRing((new,))) is None  # a forgotten key reads nothing


def test_an_address_from_before_keys_had_ids_reads_without_a_day():
    payload = "9.rc.x"
    old_style = f"support+{payload}.{signature(SECRET, payload)}@acme.example"

    target = read(old_style, OURS, RING)

    assert (target.ticket, target.issued, target.key) == (9, None, None)
    assert read(old_style, OURS, KeyRing((KEY,))) is None  # no legacy secret given


def test_addresses_of_other_domains_and_plain_plus_tags_are_not_ours():
    address = sign("support@acme.example", KEY, 123, "customer", issued=DAY)

    assert read(address.replace("@acme.example", "@evil.example"), OURS, RING) is None
    assert read("support+billing@acme.example", OURS, RING) is None
    assert not looks_signed("support+billing@acme.example")
