"""The PostgreSQL look-up by likeness as SQL text: one branch per distinct word."""

from __future__ import annotations

from tierdesk.storage.search_pg import pg_likeness


def test_two_forms_of_one_word_count_once_and_a_stop_word_not_at_all():
    lexemes = {
        "printers": (["printer"], ["printer"]),
        "printer": (["printer"], ["printer"]),
        "the": ([], []),
        "принтер": (["принтер"], ["принтер"]),
    }

    query, params = pg_likeness(
        ["printers", "the", "printer", "принтер"], lexemes, 1000, 5000.0, 200
    )

    assert query.count("document @@ ?::tsquery") == 2
    assert [p for p in params if isinstance(p, str)] == ["'printer'", "'принтер'"]


def test_a_lexeme_is_quoted_as_tsquery_text():
    query, params = pg_likeness(["o'neil"], {"o'neil": (["o'neil"], [])}, 10, 1.0, 5)

    assert "o'neil" not in query  # never in the SQL text itself
    assert "'o''neil'" in params


def test_nothing_to_ask_for_is_no_query():
    assert pg_likeness(["the"], {"the": ([], [])}, 10, 1.0, 5) == ("", [])
