"""How common the index's words are is remembered for a while by each daemon process, so
a new ticket's look-up of similar solved tickets does not count the same words again."""

from __future__ import annotations

import pytest
from tierdesk.storage.search_memo import IndexMemo
from tierdesk.storage.search_query import rare_terms

from tests.conftest import fixture_bytes
from tests.support.desk import open_desk


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk holding two messages: "copier" in both, "toner" in one."""
    for desk in open_desk(tmp_path, db_url):
        desk.receive(fixture_bytes("search/paper_jam.eml"))
        desk.receive(fixture_bytes("search/toner.eml"))
        if not desk.runtime.sql.sqlite:
            desk.runtime.sql.run("ANALYZE message_search")
        yield desk


def test_a_value_is_kept_until_its_time_is_up():
    ticks = Ticks()
    memo = IndexMemo(seconds=60, clock=ticks)
    computed = []

    def count() -> int:
        computed.append(1)
        return len(computed)

    assert memo.get("toner", count) == 1
    ticks.now += 59
    assert memo.get("toner", count) == 1
    ticks.now += 1
    assert memo.get("toner", count) == 2


def test_the_least_recently_used_values_go_first_past_the_limit():
    memo = IndexMemo(entries=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a", lambda: 0) == 1  # "a" used again: "b" is now the oldest
    memo.put("c", 3)

    assert memo.fresh("b") is None
    assert (memo.fresh("a"), memo.fresh("c")) == (1, 3)


def test_a_look_up_remembers_which_words_are_common_and_counts_again_later(desk):
    sql = desk.runtime.sql
    ticks = Ticks()
    memo = IndexMemo(seconds=300, clock=ticks)
    terms = ["copier", "toner"]
    assert rare_terms(sql, terms, keep=6, cap=2, memo=memo) == ["toner"]

    # three more messages with "toner": it becomes common, but the memo still says rare
    for n in range(3):
        raw = fixture_bytes("search/toner.eml").replace(
            b"toner-1@", f"toner-more-{n}@".encode()
        )
        desk.receive(raw)
    if not sql.sqlite:
        sql.run("ANALYZE message_search")
    assert rare_terms(sql, terms, keep=6, cap=2) == []  # counted afresh: both common
    assert rare_terms(sql, terms, keep=6, cap=2, memo=memo) == ["toner"]

    ticks.now += 300
    assert rare_terms(sql, terms, keep=6, cap=2, memo=memo) == []
