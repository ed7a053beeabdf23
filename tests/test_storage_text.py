"""What PostgreSQL refuses and SQLite keeps (NUL bytes, over-long addresses and Message-IDs)
is stored the same way on both, and the mail stays a ticket."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest
from tierdesk.parsers.parsed import Address, MailAttachment, ParsedMail
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.plan import NewTicket
from tierdesk.storage.models import (
    Attachment,
    Contact,
    Message,
    Participant,
    RecentText,
    Ticket,
)
from tierdesk.storage.text import (
    ADDRESS_CHARS,
    MESSAGE_ID_OCTETS,
    fit,
    message_id_column,
    storable,
)
from tierdesk.storage.threads import find_duplicate, find_thread, ticket_of_message
from tierdesk.storage.tickets import create_ticket, store_incoming

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FFFD = "\ufffd"


def request(sender: str = "alice@customer.example", body: bytes = b"Hello.\n") -> bytes:
    """A plain new request from `sender`, its Message-ID its own."""
    own = hashlib.sha256(sender.encode() + body).hexdigest()[:12].encode()
    return (
        b"From: Alice <" + sender.encode() + b">\nTo: support@example.com\n"
        b"Subject: Printer on floor 3\nMessage-ID: <" + own + b"@customer.example>\n"
        b"Content-Type: text/plain; charset=utf-8\n\n" + body
    )


def parsed(**fields: object) -> ParsedMail:
    """A parsed mail with the given fields (as some parser might have produced them)."""
    base: dict[str, object] = {
        "message_id": "m1@customer.example",
        "message_id_synthesized": False,
        "in_reply_to": [],
        "references": [],
        "subject": "Printer",
        "from_": Address("Alice", "alice@customer.example"),
        "reply_to": [],
        "to": [],
        "cc": [],
        "date": None,
        "headers": {},
        "content_type": "text/plain",
        "text": "Hello.",
        "html": None,
        "attachments": [],
    }
    base.update(fields)
    return ParsedMail(**base)  # type: ignore[arg-type]


def store(runtime, mail: ParsedMail) -> int | None:
    """Open a ticket for the mail's sender and keep the mail on it, as carry_out does."""
    with runtime.db.atomic():
        new = NewTicket(mail.subject, mail.from_, Decision())
        ticket = create_ticket(runtime.sql, new, NOW)
        return store_incoming(runtime.sql, ticket.id, mail, "customer", None, [], NOW)


# --- through the pipeline -----------------------------------------------------


def test_a_nul_byte_in_the_body_keeps_the_request_a_ticket_with_a_replacement_character(
    ingest,
):
    outcome = ingest(request(body=b"line one\x00line two\n"))

    assert outcome.kind == "new_ticket"
    assert Message.get().text.startswith(f"line one{FFFD}line two")


def test_a_nul_byte_in_a_content_id_keeps_the_attachment(ingest):
    raw = (
        b"From: Alice <alice@customer.example>\nTo: support@example.com\n"
        b"Subject: Screenshot\nMessage-ID: <cid@customer.example>\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nSee the screenshot.\n"
        b"--b\nContent-Type: image/png\nContent-ID: <shot\x00one@customer.example>\n"
        b"Content-Disposition: attachment; filename=shot.png\n\nPNG\n--b--\n"
    )

    outcome = ingest(raw)

    assert outcome.kind == "new_ticket"
    assert Attachment.get().content_id == f"shot{FFFD}one@customer.example"


def test_a_400_character_address_opens_a_ticket_and_stays_one_customer(ingest):
    sender = "a" * 386 + "@long.example"  # 400 characters: no MTA delivers to it
    first = ingest(request(sender))
    second = ingest(request(sender, b"And again.\n"))

    assert first.kind == "new_ticket"
    assert second.kind in ("new_ticket", "appended")
    [contact] = Contact.select()
    assert len(contact.email) == ADDRESS_CHARS
    assert contact.email.startswith("a" * 300)
    assert contact.email == fit(sender, ADDRESS_CHARS)
    assert Ticket.get(Ticket.number == first.ticket).requester_id == contact.id
    assert {m.sender for m in Message.select()} == {contact.email}
    assert {p.address for p in Participant.select()} == {contact.email}
    assert {r.address for r in RecentText.select()} == {contact.email}


def test_two_long_addresses_that_start_alike_stay_two_customers(ingest):
    ingest(request("b" * 390 + "@one.example"))
    ingest(request("b" * 390 + "@two.example"))

    assert Contact.select().count() == 2


# --- at the storage edge ------------------------------------------------------


def test_nul_bytes_in_subject_name_text_and_filename_are_stored_as_replacement_characters(
    runtime,
):
    attachment = MailAttachment(
        "re\x00port.pdf", "application/pdf", b"%PDF\x00", "c\x00id"
    )
    mail = parsed(
        subject="Printer\x00 down",
        from_=Address("Al\x00ice", "alice@customer.example"),
        text="one\x00two",
        html="<p>one\x00two</p>",
        attachments=[attachment],
        in_reply_to=["x\x00y@customer.example"],
        defects=["odd\x00defect"],
    )

    assert store(runtime, mail) is not None

    message = Message.get()
    assert message.subject == f"Printer{FFFD} down"
    assert message.sender_name == f"Al{FFFD}ice"
    assert (message.text, message.html) == (f"one{FFFD}two", f"<p>one{FFFD}two</p>")
    assert message.in_reply_to == f"x{FFFD}y@customer.example"
    assert message.defects == f"odd{FFFD}defect"
    assert Contact.get().name == f"Al{FFFD}ice"
    assert Ticket.get().subject == f"Printer{FFFD} down"
    stored = Attachment.get()
    assert (stored.filename, stored.content_id) == (f"re{FFFD}port.pdf", f"c{FFFD}id")
    assert (
        bytes(stored.sha256.data) == b"%PDF\x00"
    )  # bytes are bytes: kept as they came


def test_a_lone_surrogate_in_text_is_stored_as_a_replacement_character(runtime):
    store(runtime, parsed(subject="bad \udc80 byte", text="x\ud800y"))

    message = Message.get()
    assert (message.subject, message.text) == (f"bad {FFFD} byte", f"x{FFFD}y")


def test_a_1000_character_message_id_is_stored_and_found_again(runtime):
    long_id = "m" * 987 + "@long.example"  # 1,000 characters
    mail = parsed(message_id=long_id)

    message_row = store(runtime, mail)

    stored = Message.get_by_id(message_row).message_id
    assert len(stored.encode()) <= MESSAGE_ID_OCTETS
    assert stored == message_id_column(long_id)
    assert find_duplicate(runtime.sql, long_id)
    assert ticket_of_message(runtime.sql, long_id) is not None
    assert find_thread(
        runtime.sql, "reply@customer.example", None, [long_id], []
    ).ticket


def test_a_message_id_of_998_characters_in_three_byte_letters_fits_the_unique_index(
    runtime,
):
    rng = random.Random(
        4
    )  # random letters: PostgreSQL cannot compress them into its index
    long_id = (
        "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(985)) + "@x.example"
    )

    store(runtime, parsed(message_id=long_id))

    assert len(Message.get().message_id.encode()) <= MESSAGE_ID_OCTETS
    assert find_duplicate(runtime.sql, long_id)


def test_a_second_mail_with_the_same_long_message_id_is_a_duplicate(runtime):
    long_id = "d" * 1500 + "@long.example"
    store(runtime, parsed(message_id=long_id))

    assert store(runtime, parsed(message_id=long_id)) is None


# --- the rules of fitting -------------------------------------------------------


@pytest.mark.parametrize("value", ["", "alice@customer.example", "ж" * 320])
def test_values_that_fit_are_stored_unchanged(value):
    assert fit(value, ADDRESS_CHARS) == value


def test_fitting_keeps_the_start_and_tells_long_values_apart():
    one, two = fit("x" * 500 + "1", 320), fit("x" * 500 + "2", 320)

    assert len(one) == len(two) == 320
    assert one.startswith("x" * 300)
    assert one != two
    assert fit(one, 320) == one  # a look-up fits its key as the write did


def test_fitting_to_octets_never_cuts_a_letter_in_half():
    fitted = message_id_column("ж" * 800)

    assert len(fitted.encode()) <= MESSAGE_ID_OCTETS
    assert FFFD not in fitted


def test_storable_text_replaces_only_what_no_database_can_store():
    assert storable("a\x00b\ud800c ok é") == f"a{FFFD}b{FFFD}c ok é"
    assert storable("plain") == "plain"
