"""Search by mail: an agent who writes to support+search@ gets the matching tickets as a
reply; a customer (or anyone who is no agent) gets nothing, and no ticket is opened."""

from __future__ import annotations

import pytest
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents and a queue group for `hardware` (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def _to(desk, address: str) -> list:
    return [m for m in desk.outbox() if m["To"].addresses[0].addr_spec == address]


def test_an_agent_who_mails_support_search_gets_the_tickets_found(desk):
    jam = desk.receive(fixture_bytes("search/paper_jam.eml")).ticket
    desk.receive(fixture_bytes("search/toner.eml"))
    tickets = Ticket.select().count()

    outcome = desk.receive(fixture_bytes("search/agent_search.eml"))

    assert outcome.kind == "answered"
    [answer] = desk.outbox("search_results")
    assert answer["To"].addresses[0].addr_spec == "alice@acme.example"
    assert answer["Subject"] == "Search: paper jam tray (1 found)"
    assert answer["In-Reply-To"] == "<search-1@acme.example>"
    text = body(answer)
    assert f"#{jam} Paper jam in the tray of the big copier" in text
    assert "reports a [paper] [jam] in [tray] 2" in text
    assert Ticket.select().count() == tickets  # a search opens no ticket


def test_a_customer_who_mails_support_search_gets_nothing(desk):
    desk.receive(fixture_bytes("search/paper_jam.eml"))
    before = len(_to(desk, "dmitry@customer.example"))
    tickets = Ticket.select().count()

    outcome = desk.receive(fixture_bytes("search/customer_search.eml"))

    assert outcome.kind == "ignored" and "who is no agent" in outcome.reason
    assert len(_to(desk, "dmitry@customer.example")) == before
    assert desk.outbox("search_results") == []
    assert Ticket.select().count() == tickets


def test_an_agent_finds_no_ticket_of_a_queue_they_may_not_read(desk):
    jam = desk.receive(fixture_bytes("search/paper_jam.eml")).ticket
    # the hardware queue's tickets are for its group (printer-people: bob) alone
    Ticket.update(queue="hardware").where(Ticket.number == jam).execute()

    desk.receive(fixture_bytes("search/agent_search.eml"))

    [answer] = desk.outbox("search_results")
    assert answer["Subject"] == "Search: paper jam tray (0 found)"
    assert 'No ticket matches "paper jam tray".' in body(answer)


def test_a_forged_agent_address_gets_no_results_sent_anywhere(desk):
    """Mallory writes Alice's address in From to read the desk through Alice's mailbox
    (or to flood it): the envelope sender is not Alice, so nothing is searched or sent."""
    desk.receive(fixture_bytes("search/paper_jam.eml"))
    before = len(desk.outbox())

    outcome = desk.receive(
        fixture_bytes("search/forged_agent_search.eml"),
        sender="mallory@attacker.example",
    )

    assert outcome.kind == "ignored"
    assert "not verified" in outcome.reason
    assert desk.outbox("search_results") == []
    assert len(desk.outbox()) == before


def test_an_agents_auto_reply_to_support_search_gets_no_answer(desk):
    """Alice's out-of-office answering a mail from support+search@ must not start a loop."""
    desk.receive(fixture_bytes("search/paper_jam.eml"))
    before = len(desk.outbox())

    outcome = desk.receive(fixture_bytes("search/agent_vacation_search.eml"))

    assert outcome.kind == "ignored"
    assert desk.outbox("search_results") == []
    assert len(desk.outbox()) == before


def test_an_agent_who_searches_in_russian_gets_the_results_in_russian(desk):
    olga = desk.receive(fixture_bytes("search/ru_printers.eml")).ticket

    desk.receive(fixture_bytes("search/agent_search_ru.eml"))  # «принтер бухгалтерия»

    [answer] = desk.outbox("search_results")
    assert answer["Subject"] == "Поиск: принтер бухгалтерия (найдено: 1)"
    text = body(answer)
    assert "Заявки по запросу «принтер бухгалтерия», лучшие первыми:" in text
    assert f"#{olga} " in text
