"""Similar solved tickets in a new ticket's notice: the closest resolved ones, with the
first lines of the answer that resolved them, only from queues its recipients may read."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tierdesk.daemon.config_search import SearchConfig
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, open_desk

ANSWER = """\
#status resolved

Please open tray 2 fully and take out the blue transport lock.
Then the double-sided jobs go through again.
Kind regards
--
Alice Smith
"""


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents and a queue group for `hardware` (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def _solved_paper_jam(desk) -> int:
    """Dmitry's paper jam, answered and resolved by Alice."""
    number = desk.receive(fixture_bytes("search/paper_jam.eml")).ticket
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    desk.receive(desk.agent_mail("alice@acme.example", reply_to, ANSWER, mid="jam-a"))
    assert Ticket.get(Ticket.number == number).status == "resolved"
    return number


def test_a_new_ticket_notice_lists_the_similar_solved_ticket_with_its_answer(desk):
    solved = _solved_paper_jam(desk)
    desk.receive(fixture_bytes("search/toner.eml"))  # open: never listed

    new = desk.receive(fixture_bytes("search/paper_jam_again.eml")).ticket

    notice = body(desk.notice_for("alice@acme.example"))
    assert f"New ticket {new}" in notice
    listed = notice.split("Similar solved tickets:\n", 1)[1].split("\n--\n")[0]
    assert listed.splitlines() == [
        f"  #{solved} Paper jam in the tray of the big copier (resolved, today)",
        "      Please open tray 2 fully and take out the blue transport lock.",
        "      Then the double-sided jobs go through again.",
        "      Kind regards",
    ]


def test_a_notice_never_lists_tickets_of_a_queue_its_recipients_may_not_read(desk):
    solved = _solved_paper_jam(desk)
    # the hardware queue's tickets are for its group (printer-people) alone
    Ticket.update(queue="hardware").where(Ticket.number == solved).execute()

    desk.receive(fixture_bytes("search/paper_jam_again.eml"))

    for agent in ("alice@acme.example", "bob@acme.example"):
        notice = body(desk.notice_for(agent))
        assert "Similar solved tickets" not in notice
        assert "transport lock" not in notice


def test_similar_tickets_are_off_with_zero(tmp_path, db_url):
    def off(config):
        return replace(config, search=SearchConfig(similar_tickets=0))

    for desk in open_desk(tmp_path, db_url, configure=off):
        _solved_paper_jam(desk)
        desk.receive(fixture_bytes("search/paper_jam_again.eml"))
        assert "Similar solved" not in body(desk.notice_for("alice@acme.example"))


def test_the_exact_earlier_duplicate_is_listed_first(desk):
    jam = _solved_paper_jam(desk)
    toner = desk.receive(fixture_bytes("search/toner.eml")).ticket  # "a paper jam too"
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    answer = "#status resolved\n\nWe sent you a new toner cartridge.\n"
    desk.receive(desk.agent_mail("alice@acme.example", reply_to, answer, mid="tn-a"))

    desk.receive(fixture_bytes("search/paper_jam_again.eml"))

    notice = body(desk.notice_for("alice@acme.example"))
    listed = notice.split("Similar solved tickets:\n", 1)[1].split("\n--\n")[0]
    numbers = [
        line.split()[0] for line in listed.splitlines() if line.startswith("  #")
    ]
    assert numbers == [f"#{jam}", f"#{toner}"]


def test_words_in_most_messages_are_left_out_of_the_look_up(desk):
    """On PostgreSQL the look-up reads which words are common from ANALYZE's figures;
    on SQLite it counts them (up to the cap)."""
    from tierdesk.storage.search_pg import (
        pg_common_words,
        pg_element_counts,
        pg_lexemes,
    )
    from tierdesk.storage.search_query import rare_terms

    _solved_paper_jam(desk)
    desk.receive(fixture_bytes("search/toner.eml"))
    sql = desk.runtime.sql
    if not sql.sqlite:
        sql.run("ANALYZE message_search")
        counts, _ = pg_element_counts(sql)  # from the statistics
        assert pg_common_words(["copier"], pg_lexemes(sql, ["copier"]), counts, 2) == {
            "copier"
        }
    terms = ["copier", "toner"]  # stems on SQLite, words on PostgreSQL: the same here

    # "copier" is in both messages, "toner" in one: with a cap of 2, one is common
    assert rare_terms(sql, terms, keep=6, cap=2) == ["toner"]
    assert rare_terms(sql, terms, keep=6, cap=3) == ["copier", "toner"]


def test_a_message_without_text_is_not_looked_up_by_the_notices_placeholder(desk):
    garbled = desk.receive(fixture_bytes("search/garbled_display.eml")).ticket
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    answer = "#status resolved\n\nWe replaced the display cable.\n"
    desk.receive(desk.agent_mail("alice@acme.example", reply_to, answer, mid="gd-a"))
    assert Ticket.get(Ticket.number == garbled).status == "resolved"

    # only a picture: the notice says "(no text)", and "text" is in the solved ticket
    desk.receive(fixture_bytes("search/photo_only.eml"))

    notice = body(desk.notice_for("alice@acme.example"))
    assert "(no text)" in notice
    assert "Similar solved tickets" not in notice


def test_a_word_in_one_stored_message_in_twenty_is_common_before_the_cap_is_reached():
    """On a young desk a topic's word is in hundreds of messages: ranking them all on
    every new ticket would cost more than the rest of its handling."""
    from tierdesk.storage.search_query import common_bar

    assert common_bar(1000, stored=100) == 20  # a new desk: every word of 20 or fewer
    assert common_bar(1000, stored=4000) == 200  # one message in twenty
    assert common_bar(1000, stored=1_000_000) == 1000  # the cap
    assert common_bar(2, stored=1_000_000) == 2


def test_a_rarer_shared_word_weighs_more_than_a_commoner_one(desk):
    """Two solved tickets share "fuser" with the new one, one shares "klystron":
    the rarer word says more about which ticket is like it (IDF, on both engines)."""
    solved = [
        desk.receive(fixture_bytes(f"search/{name}.eml")).ticket
        for name in ("fuser_first", "klystron", "fuser_second")
    ]
    Ticket.update(status="resolved").where(Ticket.number.in_(solved)).execute()

    desk.receive(fixture_bytes("search/fuser_and_klystron.eml"))

    notice = body(desk.notice_for("alice@acme.example"))
    listed = notice.split("Similar solved tickets:\n", 1)[1].split("\n--\n")[0]
    numbers = [
        int(line.split()[0][1:]) for line in listed.splitlines() if "  #" in line
    ]
    assert numbers[0] == solved[1]
    assert sorted(numbers) == sorted(solved)
