"""Commands where an agent would write them: a known command in the text is never relayed.

The mail is refused with the line quoted and the layout that works; prose
hashtags, URLs, C# and quoted customer text stay text (parsers/misplaced_commands.py).
"""

from __future__ import annotations

import pytest
from tierdesk.parsers.misplaced_commands import find_misplaced, misplaced_error
from tierdesk.storage.models import Ticket

from tests.conftest import fixture_bytes
from tests.support.desk import body, new_ticket, open_desk

KNOWN = {"assign": {"alice", "bob", "me", "none"}, "queue": {"hardware"}}


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents (tests/support/desk.py) and Alice Example's ticket 1."""
    for desk in open_desk(tmp_path, db_url):
        new_ticket(desk)
        yield desk


def alice_reply_to(desk) -> str:
    """The signed address alice's notice of ticket 1 asks her to reply to."""
    return desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec


def test_status_written_in_prose_is_refused_with_where_to_put_it(desk):
    outcome = desk.receive(
        fixture_bytes("agents/misplaced_status.eml"), rcpt=alice_reply_to(desk)
    )

    assert outcome.kind == "ignored"
    assert desk.outbox("reply") == [] and desk.outbox("pending") == []
    assert Ticket.get().status == "new"
    [refusal] = desk.outbox("command_errors")
    text = body(refusal)
    assert '"Please restart the router. #status pending"' in text
    assert "at the very top of the reply" in text
    assert "      #status pending\n\n      Please restart the router." in text


def test_ordinary_prose_with_hashtags_urls_and_quotes_is_relayed_unchanged(desk):
    desk.receive(fixture_bytes("agents/prose_hashtags.eml"), rcpt=alice_reply_to(desk))

    assert desk.outbox("command_errors") == []
    [answer] = desk.outbox("reply")
    text = body(answer)
    assert "ticket #1 and #42; our C# driver tool" in text
    assert "https://docs.example.com/printers#status and" in text
    assert "https://docs.example.com/faq?q=1#tier 2 for" in text
    assert (
        "The status page (#status) shows it, and we track it as #printerwoes." in text
    )
    assert "> Your note said: #status pending" in text
    assert Ticket.get().status == "open"


@pytest.mark.parametrize(
    "prose",
    [
        "See ticket #1 and #42.",
        "Our C# tool fixes it.",
        "Docs: https://docs.example.com/page#status pending",
        "Docs: www.example.com/#tier 2",
        "We track it as #hashtag and #printerwoes.",
        "The #status page shows it.",
        "Set the #status to whatever you like.",
        "Mention ##status pending in markdown.",
        "Ask on #tier-2 chat.",
        "I will #assign this to someone later.",
        "Use #comment lines for private notes, like I do.",
        "> Customer: please #status pending this",
        "mail me at a#status@example.com",
        "Я поставлю #статус позже.",
    ],
)
def test_prose_that_only_looks_like_a_command_stays_text(prose):
    assert find_misplaced(prose, KNOWN) == ()


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("Please restart the router. #status pending", "#status pending"),
        ("Done.\n#status resolved\nThanks!", "#status resolved"),
        ("Escalating (#tier 2).", "#tier 2"),
        ("Bob takes it: #assign bob", "#assign bob"),
        ("Moving it: #queue: hardware.", "#queue: hardware"),
        ("Keep this between us.\n#comment", "#comment"),
        ("Same as the other one, #merge 12", "#merge 12"),
        ("URGENT #Priority urgent", "#Priority urgent"),
    ],
)
def test_a_command_with_a_value_it_takes_is_found_anywhere_in_the_text(text, command):
    [found] = find_misplaced(text, KNOWN)
    assert found.command == command


def test_answer_inside_a_sentence_is_shown_on_a_line_of_its_own_below_the_text():
    [found] = find_misplaced(
        "Try this first: #answer restart_router please.", {"answer": {"restart_router"}}
    )

    error = misplaced_error(found)
    assert "Put #answer on a line of its own, below your text" in error
    assert "      Try this first: please.\n\n      #answer restart_router" in error
