"""The customer's files reach the agents: in the notice up to a size, else on request (#files, support+files@)."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace

import pytest
from tierdesk.daemon.config_notices import NoticesConfig
from tierdesk.rules.yamlschema import ByteSize
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, open_desk

SMALL_ENOUGH = NoticesConfig(
    attach_up_to=ByteSize(16 * 1024), files_per_mail=ByteSize(64 * 1024)
)


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk whose notices carry up to 16 KB of files, and #files mails up to 64 KB."""
    yield from open_desk(
        tmp_path, db_url, configure=lambda c: replace(c, notices=SMALL_ENOUGH)
    )


def files_of(msg: email.message.EmailMessage) -> dict[str, bytes]:
    """The attachments of a mail: file name to bytes."""
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in msg.iter_attachments()
    }


def sent_files(fixture: str) -> dict[str, bytes]:
    """The files the customer's mail carried, as their client encoded them."""
    raw = fixture_bytes(fixture)
    return files_of(email.message_from_bytes(raw, policy=email.policy.default))


def reply_address(notice: email.message.EmailMessage) -> str:
    """The agent's signed address a notice's Reply-To gives them."""
    return notice["Reply-To"].addresses[0].addr_spec


def test_a_notice_carries_the_customers_screenshot_byte_for_byte(desk):
    desk.receive(fixture_bytes("attachments/screenshot.eml"))

    notice = desk.notice_for("alice@acme.example")

    assert files_of(notice) == sent_files("attachments/screenshot.eml")
    assert "Attached: screenshot.png" in body(notice)


def test_files_over_the_limit_are_listed_with_their_sizes_and_how_to_get_them(desk):
    desk.receive(fixture_bytes("attachments/screenshot_and_log.eml"))

    notice = desk.notice_for("alice@acme.example")

    assert files_of(notice) == {}
    text = body(notice)
    assert "screenshot.png (4 KB)" in text and "spooler.log (35 KB)" in text
    assert "#files" in text and "support+files@example.com" in text


def test_an_agents_files_reply_mails_them_the_files_and_nothing_to_the_customer(desk):
    desk.receive(fixture_bytes("attachments/screenshot_and_log.eml"))
    notice = desk.notice_for("alice@acme.example")
    before = len(desk.outbox())

    outcome = desk.receive(
        desk.agent_mail("alice@acme.example", reply_address(notice), "#files\n")
    )

    assert outcome.kind == "appended"
    [files] = desk.outbox()[before:]
    assert files["To"].addresses[0].addr_spec == "alice@acme.example"
    assert files_of(files) == sent_files("attachments/screenshot_and_log.eml")


def test_an_agent_mailing_support_files_with_the_token_gets_the_files(desk):
    desk.receive(fixture_bytes("attachments/screenshot_and_log.eml"))
    before = len(desk.outbox())

    request = desk.agent_mail(
        "alice@acme.example",
        "support+files@example.com",
        "files please\n",
        subject="[ACME #1] files",
        mid="files-1",
    )
    outcome = desk.receive(request)

    assert outcome.kind == "answered"
    [files] = desk.outbox()[before:]
    assert files["To"].addresses[0].addr_spec == "alice@acme.example"
    assert set(files_of(files)) == {"screenshot.png", "spooler.log"}


def test_a_stranger_or_a_forged_agent_at_support_files_gets_nothing(desk):
    desk.receive(fixture_bytes("attachments/screenshot_and_log.eml"))
    before = len(desk.outbox())

    stranger = desk.agent_mail(
        "mallory@evil.example",
        "support+files@example.com",
        "files please\n",
        subject="[ACME #1] files",
        mid="files-2",
    )
    forged = desk.agent_mail(
        "alice@acme.example",
        "support+files@example.com",
        "files please\n",
        subject="[ACME #1] files",
        mid="files-3",
    )
    outcomes = [
        desk.receive(stranger),
        desk.receive(forged, sender="mallory@evil.example"),
    ]

    assert [o.kind for o in outcomes] == ["ignored", "ignored"]
    assert desk.outbox()[before:] == []
    assert Ticket.select().count() == 1


def test_a_vendor_hand_over_carries_the_customers_screenshot(desk):
    outcome = desk.receive(fixture_bytes("attachments/screenshot.eml"))
    Ticket.update(queue="hardware").where(Ticket.number == outcome.ticket).execute()
    notice = desk.notice_for("alice@acme.example")

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", reply_address(notice), "#tier 4\nSee the screenshot."
        )
    )

    [forward] = desk.outbox("vendor")
    assert files_of(forward) == sent_files("attachments/screenshot.eml")
