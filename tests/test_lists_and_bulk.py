"""List mail, bulk-marked mail and our own lists: what opens a ticket, and why it says so.

List traffic (List-Id, List-Post, X-Mailing-List, `Precedence: list`) never
opens a ticket. `List-Unsubscribe` and `Precedence: bulk` alone are on some
senders' every mail (gateways, mail services), so they open a ticket like a
person's mail and only get no acknowledgement. Whatever happens, the mail is
kept and `tierdesk spool list` says why.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tierdesk.daemon.reports import spool_rows
from tierdesk.storage import spool
from tierdesk.storage.models import Event, Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import open_desk

RULES_DROPPING_NEWSLETTERS = """
rules:
  - name: newsletters
    when: {classification: bulk, sender_domain: monarch.example}
    then: {drop: true}
"""


@pytest.fixture
def desk(tmp_path, db_url):
    yield from open_desk(tmp_path, db_url)


def why_last() -> str:
    """What `tierdesk spool list` says about the newest spool item."""
    return spool_rows(limit=1)[0][0]["why"]


def test_list_mail_never_opens_a_ticket_and_spool_list_says_why(desk):
    outcome = desk.receive(
        fixture_bytes("mailing_list_post.eml"), rcpt="support@example.com"
    )

    assert outcome.kind == "ignored" and outcome.ticket is None
    assert Ticket.select().count() == 0
    assert "list: List-Id present" in why_last()
    kept = spool.load(desk.runtime.sql, spool_rows(limit=1)[0][0]["id"])
    assert kept is not None and kept.raw == fixture_bytes("mailing_list_post.eml")


def test_a_request_through_a_gateway_that_marks_everything_bulk_opens_a_ticket(desk):
    outcome = desk.receive(fixture_bytes("lists/gateway_marks_everything_bulk.eml"))

    assert outcome.kind == "new_ticket"
    ticket = Ticket.get(Ticket.number == outcome.ticket)
    assert ticket.subject == "Invoices export stops at page 40"
    assert desk.outbox("ack") == []
    assert why_last() == (
        "no acknowledgement: sender is not a person (bulk: List-Unsubscribe present)"
    )
    skipped = Event.get((Event.ticket == ticket) & (Event.kind == "ack_skipped"))
    assert "bulk" in skipped.detail


def test_a_bulk_marked_reply_reopens_its_ticket_and_tells_the_agents(desk):
    first = desk.receive(fixture_bytes("lists/gateway_marks_everything_bulk.eml"))
    ticket = Ticket.get(Ticket.number == first.ticket)
    Ticket.update(status="resolved").where(Ticket.id == ticket.id).execute()
    notices_before = len(desk.outbox("notify_reply"))
    reply = (
        fixture_bytes("lists/gateway_marks_everything_bulk.eml")
        .replace(b"<c81f2a4e-invoices@", b"<d02b-followup@")
        .replace(
            b"Subject: Invoices export",
            b"In-Reply-To: <c81f2a4e-invoices@northwind.example>\r\n"
            b"Subject: Re: Invoices export",
        )
        .replace(b"exporting our invoices", b"it still fails, exporting invoices")
    )

    outcome = desk.receive(reply)

    assert (outcome.kind, outcome.ticket) == ("appended", ticket.number)
    assert Ticket.get_by_id(ticket.id).status == "open"
    assert len(desk.outbox("notify_reply")) > notices_before


def test_a_newsletter_opens_a_quiet_ticket(desk):
    outcome = desk.receive(fixture_bytes("lists/newsletter_list_unsubscribe.eml"))

    assert outcome.kind == "new_ticket"
    assert desk.outbox("ack") == []


def test_a_rule_on_the_classification_drops_newsletters(tmp_path, db_url):
    desk = next(open_desk(tmp_path, db_url, RULES_DROPPING_NEWSLETTERS))
    try:
        outcome = desk.receive(fixture_bytes("lists/newsletter_list_unsubscribe.eml"))
        assert outcome.kind == "ignored"
        assert why_last() == "dropped by a rule"
    finally:
        desk.runtime.close()


def own_group(config):
    """A config change for open_desk: support@example.com is also a Google Group."""
    support = replace(config.support, own_list_ids=["support.example.com"])
    return replace(config, support=support)


def test_mail_through_our_own_google_group_counts_as_its_authors(tmp_path, db_url):
    desk = next(open_desk(tmp_path, db_url, configure=own_group))
    try:
        outcome = desk.receive(
            fixture_bytes("lists/via_own_google_group.eml"),
            sender="ingrid@fjord.example",
        )
        assert outcome.kind == "new_ticket"
        (ack,) = desk.outbox("ack")
        assert ack["To"].addresses[0].addr_spec == "ingrid@fjord.example"
    finally:
        desk.runtime.close()


def test_mail_through_a_group_not_configured_as_ours_is_list_mail(desk):
    outcome = desk.receive(
        fixture_bytes("lists/via_own_google_group.eml"), sender="ingrid@fjord.example"
    )

    assert outcome.kind == "ignored"
    assert why_last() == (
        "our own mail came back (Return-Path is our own address "
        "support+bncbdz4@example.com; if '<support.example.com>' is our own list, "
        "name it in support.own_list_ids)"
    )
