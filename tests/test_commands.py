"""parse_commands: the `#word` lines at the top of an agent's reply, and subject args."""

from __future__ import annotations

import pytest
from tierdesk.parsers.commands import (
    COMMAND_NAMES,
    Command,
    CommandBlock,
    is_command_line,
    parse_commands,
)


def only(block: CommandBlock) -> Command:
    """The single command of a block that must have no errors."""
    assert block.errors == ()
    assert len(block.commands) == 1
    return block.commands[0]


@pytest.mark.parametrize(
    ("line", "name", "args"),
    [
        ("#status open", "status", ("open",)),
        ("#status pending", "status", ("pending",)),
        ("#status resolved", "status", ("resolved",)),
        ("#status closed", "status", ("closed",)),
        ("#tier 1", "tier", ("1",)),
        ("#tier 4", "tier", ("4",)),
        ("#assign anna.berg", "assign", ("anna.berg",)),
        ("#assign Anna Berg", "assign", ("Anna Berg",)),
        ("#assign me", "assign", ("me",)),
        ("#assign none", "assign", ("none",)),
        ("#priority low", "priority", ("low",)),
        ("#priority normal", "priority", ("normal",)),
        ("#priority high", "priority", ("high",)),
        ("#priority urgent", "priority", ("urgent",)),
        ("#queue Billing", "queue", ("Billing",)),
        ("#tags +vip -spam printer", "tags", ("+vip", "-spam", "+printer")),
        ("#tags vip, -spam", "tags", ("+vip", "-spam")),
        ("#tags +vip vip", "tags", ("+vip",)),
        ("#merge 123", "merge", ("123",)),
        ("#merge #123", "merge", ("123",)),
        ("#merge [ACME #123]", "merge", ("123",)),
        ("#merge ACME #0123", "merge", ("123",)),
        ("#merge [ Tier Desk #7 ]", "merge", ("7",)),
        ("#comment", "comment", ()),
        ("#vendor Globex Corp", "vendor", ("Globex Corp",)),
        ("#status: resolved", "status", ("resolved",)),
        ("  #tier=2", "tier", ("2",)),
    ],
)
def test_each_command_and_its_args(line: str, name: str, args: tuple[str, ...]) -> None:
    command = only(parse_commands(f"{line}\nThanks for waiting."))
    assert command == Command(name=name, args=args, line=1, text=line)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("#status done", "#status takes open, pending, resolved or closed, not 'done'"),
        ("#status", "#status takes open, pending, resolved or closed, none given"),
        (
            "#status resolved now",
            "#status takes open, pending, resolved or closed, not 'resolved now'",
        ),
        ("#tier 5", "#tier takes 1, 2, 3 or 4, not '5'"),
        ("#tier", "#tier takes 1, 2, 3 or 4, none given"),
        ("#priority asap", "#priority takes low, normal, high or urgent, not 'asap'"),
        ("#priority", "#priority takes low, normal, high or urgent, none given"),
        ("#assign", "#assign needs an agent name, 'me' or 'none'"),
        ("#queue  ", "#queue needs a queue name"),
        ("#vendor", "#vendor needs a vendor name"),
        ("#tags", "#tags needs at least one tag: +add -remove"),
        ("#tags + -", "#tags: '+' is not a tag"),
        ("#tags +vip -vip", "#tags both adds and removes 'vip'"),
        ("#merge", "#merge takes a ticket number, none given"),
        ("#merge soon", "#merge takes a ticket number, not 'soon'"),
        ("#merge 12 13", "#merge takes a ticket number, not '12 13'"),
        ("#merge #0", "#merge takes a ticket number, not '#0'"),
        ("#merge ACME-123", "#merge takes a ticket number, not 'ACME-123'"),
        ("#merge ticket 12", "#merge takes a ticket number, not 'ticket 12'"),
        ("#comment private", "#comment takes no value, not 'private'"),
    ],
)
def test_bad_or_missing_values_are_errors(line: str, error: str) -> None:
    block = parse_commands(f"\n{line}\nHello")
    assert block.errors == (f"line 2: {error}",)
    assert block.commands == ()
    assert block.body == "Hello"


def test_unknown_command_suggests_the_closest() -> None:
    block = parse_commands("#tier 2\n#stauts resolved\nHello")
    assert block.errors == (
        "line 2: unknown command '#stauts' (did you mean '#status'?)",
    )
    assert [c.name for c in block.commands] == ["tier"]
    assert block.body == "Hello"


def test_unknown_command_without_a_close_match() -> None:
    block = parse_commands("#frobnicate now\n\nHello")
    assert block.errors == ("line 1: unknown command '#frobnicate'",)
    assert block.body == "Hello"


def test_the_same_command_twice_is_an_error() -> None:
    block = parse_commands("#status open\n#tier 2\n#STATUS closed\n\nHi")
    assert block.errors == ("line 3: #status given twice",)
    assert [(c.name, c.args) for c in block.commands] == [
        ("status", ("open",)),
        ("tier", ("2",)),
    ]


def test_blank_lines_between_commands_are_allowed() -> None:
    block = parse_commands("\n#status pending\n\n  \n#priority high\n\n\nHi Alice,\n")
    assert block.errors == ()
    assert [(c.name, c.line) for c in block.commands] == [
        ("status", 2),
        ("priority", 5),
    ]
    assert block.body == "Hi Alice,\n"


def test_hashtag_inside_prose_is_text() -> None:
    text = "Hi Alice,\n#status resolved\nwe love #printers.\n#tier 2"
    block = parse_commands(text)
    assert block == CommandBlock(commands=(), errors=(), body=text)


@pytest.mark.parametrize(
    "first", ["#1 priority is your printer.", "# Summary", "#hashtag!", "##tier 2"]
)
def test_lines_that_only_look_like_commands_end_the_block(first: str) -> None:
    block = parse_commands(f"#tier 2\n{first}\n#status open")
    assert [c.name for c in block.commands] == ["tier"]
    assert block.errors == ()
    assert block.body == f"{first}\n#status open"


def test_commands_only_leave_an_empty_body() -> None:
    block = parse_commands("#status closed\n#comment\n\n")
    assert block.errors == ()
    assert [c.name for c in block.commands] == ["status", "comment"]
    assert block.body == ""


def test_no_commands_keep_the_text_without_leading_blank_lines() -> None:
    assert parse_commands("\n\n  Hello\n") == CommandBlock((), (), "  Hello\n")
    assert parse_commands("") == CommandBlock((), (), "")


def test_command_words_and_choice_values_ignore_case() -> None:
    block = parse_commands("#Status RESOLVED\n#PRIORITY Urgent\n#Assign ME\n#Queue L2")
    assert block.errors == ()
    assert [(c.name, c.args) for c in block.commands] == [
        ("status", ("resolved",)),
        ("priority", ("urgent",)),
        ("assign", ("me",)),
        ("queue", ("L2",)),  # names are kept as given
    ]


def test_windows_line_endings() -> None:
    block = parse_commands("#status resolved\r\n\r\n#tier 3\r\nHi Alice,\r\nfixed.\r\n")
    assert block.errors == ()
    assert block.commands == (
        Command("status", ("resolved",), 1, "#status resolved"),
        Command("tier", ("3",), 3, "#tier 3"),
    )
    assert block.body == "Hi Alice,\r\nfixed.\r\n"


def test_signature_only_body_has_no_commands() -> None:
    text = "-- \nBob Builder\nACME Support\n"
    assert parse_commands(text) == CommandBlock((), (), text)
    block = parse_commands("#status closed\n\n-- \nBob Builder\n")
    assert [c.name for c in block.commands] == ["status"]
    assert block.body == "-- \nBob Builder\n"


def test_subject_args_become_commands_on_line_zero() -> None:
    block = parse_commands("Hi Alice", {"status": "Resolved", "tier": "2"})
    assert block.errors == ()
    assert block.commands == (
        Command("status", ("resolved",), 0, "status=Resolved"),
        Command("tier", ("2",), 0, "tier=2"),
    )
    assert block.body == "Hi Alice"


def test_subject_args_are_checked_the_same_way() -> None:
    block = parse_commands("Hi", {"status": "done", "stauts": "open", "tags": "a -b"})
    assert block.errors == (
        "subject: #status takes open, pending, resolved or closed, not 'done'",
        "subject: unknown command '#stauts' (did you mean '#status'?)",
    )
    assert block.commands == (Command("tags", ("+a", "-b"), 0, "tags=a -b"),)


def test_command_in_both_subject_and_body_is_an_error() -> None:
    block = parse_commands("#tier 3\n#status open\nHi", {"tier": "2"})
    assert block.errors == ("line 1: #tier also given in the subject",)
    assert [(c.name, c.line) for c in block.commands] == [("tier", 0), ("status", 2)]


def test_every_command_name_is_known() -> None:
    assert set(COMMAND_NAMES) == {
        "files", "cc",
        "status", "tier", "assign", "priority", "queue", "tags", "merge",
        "comment", "vendor",
        "answer", "answers",
    }  # fmt: skip


def test_long_values_are_shortened_in_errors() -> None:
    block = parse_commands("#status " + "x" * 500)
    assert block.errors == (
        "line 1: #status takes open, pending, resolved or closed, not '"
        + "x" * 59
        + "…'",
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#status resolved", True),
        ("  #stauts", True),
        ("#hashtag!", False),
        ("#1", False),
        ("# Heading", False),
        ("Hello #status", False),
    ],
)
def test_is_command_line(line: str, expected: bool) -> None:
    assert is_command_line(line) is expected
