"""Customers at internationalised addresses: answered, in the form the mail system carries.

Olga writes from olga@пример.рф: her domain goes out as IDNA A-labels
(xn--e1afmkfd.xn--p1ai) in the envelope and the headers, and whichever form
she writes from, she is one customer. Oleg's local part is Cyrillic too
(олег@пример.рф): only SMTPUTF8 carries it, so his mail goes where the relay
offers SMTPUTF8 and otherwise the ticket says why it did not. A domain that
no IDNA 2008 name can be made of (☃.net) gets no acknowledgement, and an
agent's answer to it is kept on the ticket, with the agent told.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from tierdesk.daemon.config import OutgoingConfig
from tierdesk.parsers.idn import UnwritableAddress, wire_address
from tierdesk.rules.guard import address_key, is_deliverable_address
from tierdesk.storage.db import open_database
from tierdesk.storage.models import (
    Contact,
    Event,
    Message,
    OutboxItem,
    Participant,
    Ticket,
)
from tierdesk.storage.schema import upgrade

from tests.conftest import fixture_bytes
from tests.support.desk import Desk, body, open_desk
from tests.support.ports import free_port
from tests.support.relay_sink import RelaySink
from tests.support.schema_history import back_to

OLGA = "olga@пример.рф"
OLGA_ASCII = "olga@xn--e1afmkfd.xn--p1ai"
OLEG = "олег@пример.рф"
OLEG_WIRE = (
    "олег@xn--e1afmkfd.xn--p1ai"  # the local part as written, the domain in A-labels
)
FROSTY = "frosty@☃.net"


@dataclass
class Relay(RelaySink):
    """A real SMTP relay that also records whether each mail came with SMTPUTF8."""

    smtputf8: list[bool] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.reply.startswith("250"):
            self.smtputf8.append(envelope.smtp_utf8)
        return await super().handle_DATA(server, session, envelope)

    def mails_to(self, address: str) -> list[tuple[email.message.EmailMessage, bool]]:
        """What reached `address`, each with whether it came with SMTPUTF8."""
        return [
            (read(mail.raw) if utf8 else mail.message, utf8)
            for mail, utf8 in zip(self.received, self.smtputf8, strict=True)
            if address in mail.rcpt_tos
        ]


def read(raw: bytes) -> email.message.EmailMessage:
    """A mail with UTF-8 headers (RFC 6532): the bytes parser would escape them."""
    return email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)  # type: ignore[return-value]


def start_relay(smtputf8: bool) -> Iterator[Relay]:
    """A relay on a free port that does (or does not) offer SMTPUTF8 in its EHLO."""
    relay = Relay()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=10,
        enable_SMTPUTF8=smtputf8,
    )
    controller.start()
    relay.port = controller.port
    try:
        yield relay
    finally:
        controller.stop()


@pytest.fixture
def utf8_relay() -> Iterator[Relay]:
    """A relay that offers SMTPUTF8."""
    yield from start_relay(smtputf8=True)


@pytest.fixture
def plain_relay() -> Iterator[Relay]:
    """A relay that does not offer SMTPUTF8 (an older MTA)."""
    yield from start_relay(smtputf8=False)


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents alice and bob on tier 1 (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def relay_config(relay: Relay) -> OutgoingConfig:
    return OutgoingConfig(
        transport="smtp", host="127.0.0.1", port=relay.port, timeout=5, max_attempts=3
    )


def receive(desk: Desk, name: str, sender: str):
    """A mail from tests/fixtures/idn, as our MTA hands it over from `sender`."""
    return desk.receive(fixture_bytes(f"idn/{name}"), sender=sender)


def deliver(desk: Desk, relay: Relay) -> None:
    """One round of the sender through `relay`."""
    handed_over = desk.runtime.sender.deliver_due(relay_config(relay))
    relay.wait_for(handed_over)


def answer_as_alice(desk: Desk, text: str, mid: str = "a1"):
    """Agent alice answers ticket 1 through the signed Reply-To of her notice."""
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    return desk.receive(desk.agent_mail("alice@acme.example", reply_to, text, mid=mid))


def outbox_row(kind: str) -> OutboxItem:
    return OutboxItem.get(OutboxItem.kind == kind)


def header_line(raw: bytes, name: str) -> bytes:
    """One header as it is written, folded lines joined."""
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
    [line] = [
        h for h in head.split(b"\r\n") if h.lower().startswith(name.lower() + b":")
    ]
    return line


def failures() -> list[Event]:
    return list(
        Event.select().where(Event.kind == "delivery_failed").order_by(Event.id)
    )


# -- addresses -------------------------------------------------------------------


def test_idn_domains_and_utf8_local_parts_are_deliverable():
    for address in (OLGA, OLGA_ASCII, OLEG, "josé@example.com", "info@münchen.de"):
        assert is_deliverable_address(address), address


def test_addresses_that_cannot_be_written_are_not_deliverable():
    for address in (
        FROSTY,  # IDNA 2008 has no name for a snowman
        "olga@пример..рф",
        "ol ga@пример.рф",
        "olga\x01@пример.рф",
        "olga@-пример.рф",
        "олег\u00a0@пример.рф",
    ):
        assert not is_deliverable_address(address), address
    assert is_deliverable_address("alice@customer.example")  # as before
    assert not is_deliverable_address("alice@customer example")


def test_one_customer_has_one_key_whichever_form_of_her_domain_she_writes_from():
    assert address_key(OLGA) == OLGA_ASCII
    assert address_key("Olga+billing@Пример.РФ") == OLGA_ASCII
    assert address_key("OLGA@XN--E1AFMKFD.XN--P1AI") == OLGA_ASCII
    # the same letters, composed or not
    assert address_key("jose\u0301@example.com") == address_key("josé@example.com")
    # what no IDNA name can be made of is still a key, as written
    assert address_key("Frosty@☃.net") == FROSTY


def test_domains_go_out_in_idna_2008_form_which_keeps_the_german_sharp_s():
    # IDNA 2003 (the standard library's codec) would send this to fass.de, another domain
    assert wire_address("info@faß.de").address == "info@xn--fa-hia.de"
    assert wire_address(OLGA).address == OLGA_ASCII
    assert not wire_address(OLGA).smtputf8
    assert wire_address(OLEG).address == OLEG_WIRE
    assert wire_address(OLEG).smtputf8
    assert wire_address("alice@customer.example").address == "alice@customer.example"
    with pytest.raises(UnwritableAddress, match="☃"):
        wire_address(FROSTY)


# -- an IDN domain -----------------------------------------------------------------


def test_a_customer_at_an_idn_domain_gets_an_acknowledgement_addressed_in_ascii(
    desk, utf8_relay
):
    outcome = receive(desk, "olga_new_request.eml", OLGA)

    assert outcome.kind == "new_ticket"
    ack = outbox_row("ack")
    raw = bytes(ack.raw)
    assert raw.isascii()
    assert json.loads(ack.rcpt_tos) == [OLGA_ASCII]
    assert ack.rcpt_key == OLGA_ASCII
    assert header_line(raw, b"To").startswith(b"To: =?utf-8?b?")  # her name, encoded
    deliver(desk, utf8_relay)
    [(mail, smtputf8)] = utf8_relay.mails_to(OLGA_ASCII)
    [to] = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ольга Петрова", OLGA_ASCII)
    assert not smtputf8  # nothing in it needs SMTPUTF8
    assert "Принтер в бухгалтерии" in mail["Subject"]
    assert ack.get_by_id(ack.id).state == "sent"


def test_olga_writing_from_the_ascii_form_of_her_domain_is_the_same_customer(desk):
    receive(desk, "olga_new_request.eml", OLGA)

    outcome = receive(desk, "olga_reply_ascii_domain.eml", OLGA_ASCII)

    assert (outcome.kind, outcome.ticket) == ("appended", 1)
    assert Ticket.select().count() == 1
    reply = Message.get(Message.message_id == "olga-2@xn--e1afmkfd.xn--p1ai")
    assert reply.kind == "customer"


def test_a_colleague_at_olgas_domain_in_its_ascii_form_joins_her_ticket(desk):
    receive(desk, "olga_new_request.eml", OLGA)

    outcome = receive(desk, "kolya_colleague_reply.eml", "kolya@xn--e1afmkfd.xn--p1ai")

    assert (outcome.kind, outcome.ticket) == ("appended", 1)


def test_an_agents_answer_to_olga_is_kept_and_goes_out_to_the_ascii_form(
    desk, utf8_relay
):
    receive(desk, "olga_new_request.eml", OLGA)

    outcome = answer_as_alice(desk, "Здравствуйте, Ольга! Драйвер переустановлен.")

    assert outcome.kind == "appended"
    assert Message.get(Message.message_id == "a1@acme.example").kind == "agent_reply"
    reply = outbox_row("reply")
    assert json.loads(reply.rcpt_tos) == [OLGA_ASCII]
    deliver(desk, utf8_relay)
    [_, (answer, smtputf8)] = utf8_relay.mails_to(OLGA_ASCII)  # the ack, the answer
    assert "Драйвер переустановлен" in body(answer)
    assert not smtputf8


# -- a UTF-8 local part ------------------------------------------------------------


def test_a_utf8_local_part_goes_out_with_smtputf8_where_the_relay_offers_it(
    desk, utf8_relay
):
    outcome = receive(desk, "oleg_new_request.eml", OLEG)

    assert outcome.kind == "new_ticket"
    ack = outbox_row("ack")
    assert json.loads(ack.rcpt_tos) == [OLEG_WIRE]
    to = header_line(bytes(ack.raw), b"To")
    assert to.startswith(b"To: =?utf-8?b?")  # his name stays RFC 2047 encoded
    assert to.endswith(f"<{OLEG_WIRE}>".encode())  # his address as UTF-8 (RFC 6532)
    deliver(desk, utf8_relay)
    [(mail, smtputf8)] = utf8_relay.mails_to(OLEG_WIRE)
    assert smtputf8
    [to_address] = mail["To"].addresses
    assert (to_address.display_name, to_address.addr_spec) == (
        "Олег Смирнов",
        OLEG_WIRE,
    )
    assert outbox_row("ack").state == "sent"


def test_a_utf8_local_part_is_not_sent_through_a_relay_without_smtputf8_and_the_ticket_says_why(
    desk, plain_relay
):
    receive(desk, "oleg_new_request.eml", OLEG)

    deliver(desk, plain_relay)

    assert plain_relay.mails_to(OLEG_WIRE) == []
    assert len(plain_relay.mails_to("alice@acme.example")) == 1  # the rest went
    ack = outbox_row("ack")
    assert ack.state == "failed"
    assert "does not offer SMTPUTF8" in ack.last_error
    [failure] = failures()
    assert failure.detail.startswith(f"ack to {OLEG} failed: ")
    assert "relay does not offer SMTPUTF8" in failure.detail
    # nobody wrote the acknowledgement: nobody is told
    assert not OutboxItem.select().where(OutboxItem.kind == "delivery_failed").exists()


def test_an_agent_whose_answer_needs_smtputf8_the_relay_lacks_is_told(
    desk, plain_relay
):
    receive(desk, "oleg_new_request.eml", OLEG)
    deliver(desk, plain_relay)

    answer_as_alice(desk, "Олег, доступ к папке восстановлен.")
    deliver(desk, plain_relay)

    assert outbox_row("reply").state == "failed"
    failure = failures()[-1]
    assert failure.detail.startswith(f"reply to {OLEG} failed: ")
    deliver(desk, plain_relay)  # the notice to alice is plain ASCII mail
    [(notice, _)] = [
        (m, u)
        for m, u in plain_relay.mails_to("alice@acme.example")
        if m["Subject"].startswith("[ACME #1] Not delivered")
    ]
    assert OLEG in body(notice)
    assert "relay does not offer SMTPUTF8" in body(notice)


def test_the_maildir_keeps_a_utf8_address_as_it_is(desk):
    receive(desk, "oleg_new_request.eml", OLEG)

    desk.runtime.sender.deliver_due(desk.runtime.config.outgoing)

    maildir = desk.runtime.config.outgoing_maildir / "new"
    acks = [
        f.read_bytes()
        for f in maildir.iterdir()
        if f"<{OLEG_WIRE}>".encode() in f.read_bytes()
    ]
    assert len(acks) == 1
    assert outbox_row("ack").state == "sent"


# -- a domain no IDNA name can be made of ------------------------------------------------


def test_a_snowman_domain_gets_no_acknowledgement_but_its_ticket(desk):
    outcome = receive(desk, "snowman_new_request.eml", FROSTY)

    assert outcome.kind == "new_ticket"
    assert not OutboxItem.select().where(OutboxItem.kind == "ack").exists()
    skipped = Event.get(Event.kind == "ack_skipped")
    assert "no usable address" in skipped.detail


def test_an_agents_answer_to_an_address_that_cannot_be_written_is_kept_and_the_agent_told(
    desk,
):
    receive(desk, "snowman_new_request.eml", FROSTY)

    outcome = answer_as_alice(desk, "Your badge is registered again.")

    assert outcome.kind == "appended"
    assert Message.get(Message.message_id == "a1@acme.example").kind == "agent_reply"
    assert not OutboxItem.select().where(OutboxItem.kind == "reply").exists()
    failed = Event.get(Event.kind == "mail_failed")
    assert FROSTY in failed.detail and "reply" in failed.detail
    assert "IDNA" in failed.detail
    notice = desk.notice_for("alice@acme.example")
    assert notice["Subject"].startswith("[ACME #1] Not delivered")
    assert FROSTY in body(notice)


# -- what was stored before ----------------------------------------------------------


def test_customers_stored_before_are_keyed_by_the_ascii_form_after_the_upgrade(db_url):
    db = open_database(db_url)
    upgrade(db)
    # as tierdesk stored Olga before: keyed as she wrote it, which nothing matches now
    olga = Contact.create(email=OLGA, email_key=OLGA)
    ticket = Ticket.create(number=1, requester=olga)
    for address in (OLGA, OLGA_ASCII, "kolya@пример.рф", "alice@acme.example"):
        Participant.create(ticket=ticket, address=address, role="cc")
    back_to(db, 7)

    assert upgrade(db)[0] == 8

    assert Contact.get_by_id(olga.id).email_key == OLGA_ASCII
    assert sorted(p.address for p in Participant.select()) == [
        "alice@acme.example",
        "kolya@xn--e1afmkfd.xn--p1ai",
        OLGA_ASCII,
    ]
    db.close()
