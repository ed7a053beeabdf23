"""`tierdesk contacts`: who writes to us, and whose mailbox bounces our mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tierdesk.daemon.cli import main
from tierdesk.storage.models import OutboxItem

from tests.conftest import FIXTURES
from tests.support.desk import HandClock, new_ticket, open_desk

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> HandClock:
    return HandClock(START)


@pytest.fixture
def desk(tmp_path, db_url, clock):
    yield from open_desk(tmp_path, db_url, clock=clock)


def contacts(capsys, config_file, *args: str) -> list[dict]:
    assert main(["contacts", "--config", str(config_file), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def bounce_the_ack(desk, clock, family: str = "postfix") -> None:
    """Our acknowledgement to Alice comes back from her MTA, a day later."""
    ack = OutboxItem.get(OutboxItem.kind == "ack")
    raw = (FIXTURES / "bounces" / f"{family}.eml").read_bytes()
    clock.advance(days=1)
    desk.receive(
        raw.replace(b"VERP_ADDRESS", ack.mail_from.encode()),
        rcpt=ack.mail_from,
        sender="",
    )


def test_contacts_lists_who_wrote_and_how_many_tickets(desk, capsys, config_file):
    new_ticket(desk)

    rows = contacts(capsys, config_file)

    alice = next(r for r in rows if r["address"] == "alice@customer.example")
    assert (alice["tickets"], alice["state"], alice["name"]) == (
        1,
        "ok",
        "Alice Example",
    )


def test_contacts_bouncing_shows_the_score_and_the_diagnostic(
    desk, clock, capsys, config_file
):
    new_ticket(desk)
    bounce_the_ack(desk, clock)

    (row,) = contacts(capsys, config_file, "--bouncing")

    assert row["address"] == "alice@customer.example"
    assert (row["state"], row["bounce_score"]) == ("bouncing", 1.0)
    assert row["diagnostic"]
    assert row["last_bounce_on"] == "2026-11-03"


def test_forgiving_an_address_clears_its_bounces(desk, clock, capsys, config_file):
    new_ticket(desk)
    bounce_the_ack(desk, clock)

    assert (
        main(
            [
                "contacts",
                "--config",
                str(config_file),
                "--forgive",
                "alice@customer.example",
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert contacts(capsys, config_file, "--bouncing") == []


def test_contacts_prints_a_table_for_people(desk, clock, capsys, config_file):
    new_ticket(desk)
    bounce_the_ack(desk, clock)

    assert main(["contacts", "--config", str(config_file), "--bouncing"]) == 0
    out = capsys.readouterr().out

    assert out.splitlines()[0].split()[:4] == ["address", "tickets", "state", "score"]
    assert "alice@customer.example" in out and "bouncing" in out
