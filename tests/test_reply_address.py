"""Signed reply addresses: they name ticket and party, and cannot be forged."""

from __future__ import annotations

from tierdesk.parsers.reply_address import looks_signed, read, sign

SECRET = b"test-secret-0123456789"
OURS = frozenset({"support@acme.example"})


def test_signed_address_names_ticket_party_and_mode():
    address = sign("support@acme.example", SECRET, 123, "agent", "alice", "note")

    target = read(address, OURS, SECRET)

    assert address.startswith("support+123.na.alice.") and address.endswith(
        "@acme.example"
    )
    assert (target.ticket, target.role, target.name, target.is_note) == (
        123,
        "agent",
        "alice",
        True,
    )


def test_customer_address_survives_a_mail_system_that_upper_cases_it():
    address = sign("support@acme.example", SECRET, 7, "customer")

    target = read(address.upper(), OURS, SECRET)

    assert (target.ticket, target.role, target.mode) == (7, "customer", "reply")


def test_changing_the_ticket_or_the_agent_breaks_the_signature():
    address = sign("support@acme.example", SECRET, 123, "agent", "alice")

    assert read(address.replace("+123.", "+124."), OURS, SECRET) is None
    assert read(address.replace(".alice.", ".mallory."), OURS, SECRET) is None
    assert read(address, OURS, b"another-secret") is None
    assert looks_signed(address.replace("+123.", "+124."))


def test_addresses_of_other_domains_and_plain_plus_tags_are_not_ours():
    address = sign("support@acme.example", SECRET, 123, "customer")

    assert read(address.replace("@acme.example", "@evil.example"), OURS, SECRET) is None
    assert read("support+billing@acme.example", OURS, SECRET) is None
    assert not looks_signed("support+billing@acme.example")
