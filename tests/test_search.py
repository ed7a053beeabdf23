"""Full-text search over tickets and messages, on SQLite (FTS5 over Snowball stems) and
PostgreSQL (tsvector, english/russian): ranked, stemmed, kept in the message's transaction."""

from __future__ import annotations

import argparse
import json

import pytest
from tierdesk.daemon.search_admin import db_reindex, tickets_search
from tierdesk.parsers.parse import parse_mail as parse
from tierdesk.storage.models import Ticket
from tierdesk.storage.search_query import search
from tierdesk.storage.tickets import store_incoming

from tests.conftest import fixture_bytes
from tests.support.desk import open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents and queue groups (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def _receive(desk, *names: str) -> list[int]:
    return [desk.receive(fixture_bytes(name)).ticket for name in names]


def _search(desk, query: str, status: str | None = None, capsys=None):
    args = argparse.Namespace(query=query.split(), status=status, limit=10, json=True)
    code = tickets_search(args, desk.runtime)
    return code, json.loads(capsys.readouterr().out)


def test_an_exact_earlier_duplicate_ranks_first(desk, capsys):
    first, other = _receive(desk, "search/paper_jam.eml", "search/toner.eml")
    (again,) = _receive(desk, "search/paper_jam_again.eml")
    mail = parse(fixture_bytes("search/paper_jam_again.eml"))

    hits = search(
        desk.runtime.sql,
        f"{mail.subject}\n{mail.text}",
        any_term=True,
        exclude_ticket=Ticket.get(Ticket.number == again).id,
    )

    assert [h.number for h in hits] == [first, other]
    code, rows = _search(desk, "paper jam tray", capsys=capsys)
    assert code == 0
    assert sorted(r["number"] for r in rows) == [first, again]  # "tray": every word
    assert "[paper] [jam] in [tray] 2" in rows[0]["snippet"]


def test_a_search_for_printing_finds_the_printer(desk, capsys):
    (printer,) = _receive(desk, "flow/new_request.eml")
    _receive(desk, "search/paper_jam.eml")

    code, rows = _search(desk, "printing offline", capsys=capsys)

    assert code == 0
    assert [r["number"] for r in rows] == [printer]
    assert "the [printer] on floor 3 has been [offline]" in rows[0]["snippet"]


def test_a_search_for_printers_in_russian_finds_the_printer(desk, capsys):
    (olga,) = _receive(desk, "search/ru_printers.eml")
    _receive(desk, "flow/new_request.eml")

    code, rows = _search(desk, "принтеры печатают", capsys=capsys)

    assert code == 0
    assert [r["number"] for r in rows] == [olga]
    assert "[Принтер] в бухгалтерии не [печатает]" in rows[0]["snippet"]


def test_nothing_found_exits_one_and_status_narrows_the_search(desk, capsys):
    _receive(desk, "search/paper_jam.eml")

    assert _search(desk, "fuser", capsys=capsys) == (1, [])
    assert _search(desk, "paper jam", "resolved", capsys=capsys) == (1, [])
    assert _search(desk, "paper jam", "new", capsys=capsys)[0] == 0


def test_a_message_is_indexed_by_the_transaction_that_stores_it_and_not_by_a_rollback(
    desk,
):
    (number,) = _receive(desk, "search/toner.eml")
    ticket = Ticket.get(Ticket.number == number)
    mail = parse(fixture_bytes("search/paper_jam.eml"))
    sql, now = desk.runtime.sql, desk.runtime.clock()

    with desk.runtime.db.atomic() as transaction:
        store_incoming(sql, ticket.id, mail, "customer", None, [], now)
        transaction.rollback()
    assert search(sql, "double-sided") == []

    # as the pipeline does: each message in a savepoint of a group transaction
    with desk.runtime.db.atomic():
        with desk.runtime.db.atomic() as undone:
            store_incoming(sql, ticket.id, mail, "customer", None, [], now)
            undone.rollback()
        with desk.runtime.db.atomic():
            store_incoming(sql, ticket.id, mail, "customer", None, [], now)
    assert [h.number for h in search(sql, "double-sided")] == [number]
    assert sql.scalar("SELECT COUNT(*) FROM message_search") == sql.scalar(
        "SELECT COUNT(*) FROM message WHERE direction = 'in'"
    )


def test_db_reindex_rebuilds_the_index(desk, capsys):
    tickets = _receive(desk, "search/paper_jam.eml", "search/ru_printers.eml")
    desk.runtime.db.execute_sql(
        "INSERT INTO message_search (message_search) VALUES ('delete-all')"
        if desk.runtime.sql.sqlite
        else "DELETE FROM message_search"
    )
    assert search(desk.runtime.sql, "jam") == []

    assert db_reindex(argparse.Namespace(), desk.runtime) == 0

    assert "reindexed 2 messages" in capsys.readouterr().out
    assert [h.number for h in search(desk.runtime.sql, "jam")] == [tickets[0]]
    assert [h.number for h in search(desk.runtime.sql, "принтер")] == [tickets[1]]


def test_an_upgraded_database_finds_the_messages_stored_before_it(desk):
    from tierdesk.storage.schema import upgrade

    from tests.support.schema_history import back_to

    (number,) = _receive(desk, "search/ru_printers.eml")
    back_to(desk.runtime.db, 9)

    assert upgrade(desk.runtime.db) == [10, 11]

    assert [h.number for h in search(desk.runtime.sql, "принтеры")] == [number]
