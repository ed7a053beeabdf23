"""Saved answers: `#answer NAME` sends one in the customer's language, `#answers` lists them,
and `tierdesk answers check` finds a broken one before an agent does."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
from tierdesk.daemon.answers import answers_check
from tierdesk.storage.models import Message, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.desk import body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents (tests/support/desk.py) and the built-in saved answers."""
    yield from open_desk(tmp_path, db_url)


def alice_reply_to(desk) -> str:
    """The signed address alice's latest notice asks her to reply to."""
    return desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec


def test_answer_goes_in_the_customers_language_below_the_agents_own_text(desk):
    desk.receive(fixture_bytes("flow/russian_koi8r.eml"))
    assert Ticket.get().language == "ru"

    desk.receive(fixture_bytes("agents/saved_answer_ru.eml"), rcpt=alice_reply_to(desk))

    [answer] = desk.outbox("reply")
    text = body(answer)
    own = text.index("Иван, спасибо за подробности.")
    saved = text.index("пожалуйста, перезагрузите роутер".capitalize())
    assert own < saved
    assert (
        "#answer" not in text
        and "{#" not in text
        and "Перезагрузка роутера" not in text
    )
    assert "[ACME #1]" in text  # the answer's {{ token }}
    assert (
        "ACME Support\n\nOn Mon" not in text
    )  # the agent's signature and quote stay out
    stored = Message.get(Message.kind == "agent_reply").text
    assert "перезагрузите роутер" in stored  # the history shows what the customer got


def test_answer_falls_back_to_the_default_language(desk, tmp_path):
    new_ticket(desk)

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", alice_reply_to(desk), "#answer password_reset\n"
        )
    )

    [answer] = desk.outbox("reply")
    assert "Forgot password" in body(answer)
    assert "alice@customer.example" in body(answer)  # {{ customer.email }}


def test_unknown_answer_is_refused_with_the_close_names_and_nothing_reaches_the_customer(
    desk,
):
    new_ticket(desk)

    desk.receive(
        fixture_bytes("agents/saved_answer_misspelt.eml"), rcpt=alice_reply_to(desk)
    )

    assert desk.outbox("reply") == []
    [refusal] = desk.outbox("command_errors")
    assert refusal["To"].addresses[0].addr_spec == "alice@acme.example"
    assert "no saved answer 'restart_ruoter'" in body(refusal)
    assert "did you mean restart_router?" in body(refusal)
    assert Ticket.get().first_response_at is None


def test_answers_alone_lists_the_saved_answers_with_their_first_line(desk):
    new_ticket(desk)

    outcome = desk.receive(
        fixture_bytes("agents/answers_list.eml"), rcpt=alice_reply_to(desk)
    )

    assert outcome.kind == "answered"
    [listing] = desk.outbox("answers_list")
    assert listing["To"].addresses[0].addr_spec == "alice@acme.example"
    text = body(listing)
    assert "restart_router (en, ru): Restart the router: unplug for 30 seconds" in text
    assert "password_reset (en, ru):" in text
    assert desk.outbox("reply") == []


def test_answers_check_reports_each_broken_answer_with_file_and_line(
    tmp_path, db_url, capsys
):
    answers = tmp_path / "overrides" / "answers"
    answers.mkdir(parents=True)
    (answers / "typo.en.txt").write_text("Hello,\n\nyour ticket {{ ticket.numbr }}\n")
    (answers / "unclosed.ru.txt").write_text("Здравствуйте!\n{% if ticket.number %}\n")
    (answers / "fine.en.txt").write_text("Hello {{ customer.name }}\n")
    config = replace(
        make_config(tmp_path, db_url), templates_dir=tmp_path / "overrides"
    )

    assert answers_check(argparse.Namespace(), config) == 1

    out = capsys.readouterr().out
    assert f"{answers / 'typo.en.txt'}:3:" in out and "numbr" in out
    assert f"{answers / 'unclosed.ru.txt'}:2:" in out
    assert "fine.en.txt" not in out


def test_answers_check_passes_on_the_shipped_answers(tmp_path, db_url, capsys):
    assert answers_check(argparse.Namespace(), make_config(tmp_path, db_url)) == 0
    assert "0 broken" in capsys.readouterr().out


def test_answer_named_in_the_subject_like_any_command(desk):
    new_ticket(desk)

    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            alice_reply_to(desk),
            "",
            subject="Re: printer [answer=Restart_Router;status=pending]",
        )
    )

    [answer] = desk.outbox("reply")
    assert "please restart your router" in body(answer)
    assert "We need your answer to continue with ticket 1" in body(answer)
    assert desk.outbox("pending") == []
