"""Plain address fields are read without the header registry, exactly as it reads them.

`Name Words <local@domain>` and bare `local@domain` lists skip policy.default
(a tenth of a millisecond a field); anything else still goes through it.
"""

from __future__ import annotations

import random
from email import message_from_bytes
from email.policy import compat32

import pytest
from tierdesk.parsers.address_fields import (
    _plain_addresses,
    _policy_addresses,
    parse_addresses,
)
from tierdesk.parsers.headers import unfold

from tests.conftest import FIXTURES

ADDRESS_FIELDS = ("from", "to", "cc", "reply-to")


def fixture_address_fields() -> list[tuple[str, str]]:
    """Every address field of every fixture message."""
    found = set()
    for path in sorted(FIXTURES.rglob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=compat32)
        for name in ADDRESS_FIELDS:
            for value in message.get_all(name) or []:
                if isinstance(value, str):
                    found.add((name, unfold(value)))
    return sorted(found)


def random_lists(count: int, seed: int) -> list[str]:
    """Address lists made of plain items and of items that only look plain."""
    rnd = random.Random(seed)

    def pick(chars: str, most: int) -> str:
        return "".join(rnd.choice(chars) for _ in range(rnd.randint(1, most)))

    def item() -> str:
        atom = "abc09!#$%&'*+/=?^_`{|}~-."
        address = pick(atom, 6) + "@" + pick(atom, 6)
        roll = rnd.random()
        if roll < 0.4:
            name = " ".join(pick("abXY09'_-!#.", 5) for _ in range(rnd.randint(1, 3)))
            return f"{name} <{address}>"
        if roll < 0.7:
            return address
        return pick("abcXY09 _-'.!#$%&*+/=?^`{|}~@<>,\"()", 20)

    return [", ".join(item() for _ in range(rnd.randint(1, 3))) for _ in range(count)]


def plain_fixture_fields() -> list[tuple[str, str]]:
    """The fixtures' address fields that the plain reader takes."""
    return [(n, v) for n, v in fixture_address_fields() if _plain_addresses(v)]


def test_the_fixtures_have_plain_fields_to_compare_and_others():
    assert len(plain_fixture_fields()) > 20
    assert len(fixture_address_fields()) > len(plain_fixture_fields())


@pytest.mark.parametrize(("name", "value"), plain_fixture_fields())
def test_a_plain_field_reads_as_the_header_registry_reads_it(name, value):
    assert _plain_addresses(value) == _policy_addresses(name, value)


def test_random_fields_that_pass_as_plain_read_as_the_header_registry_reads_them():
    checked = 0
    for value in random_lists(20000, seed=7):
        plain = _plain_addresses(value)
        if plain is None:
            continue
        checked += 1
        assert plain == _policy_addresses("to", value), value

    assert checked > 2000


@pytest.mark.parametrize(
    "value",
    [
        '"Berg, Anna" <anna@globex.example>',
        "Anna Q. Berg <anna@globex.example>",
        "=?utf-8?q?Anna_Berg?= <anna@globex.example>",
        "anna@globex.example (Anna Berg)",
        "Anna  Berg <anna@globex.example>",
        "Support: anna@globex.example, bob@globex.example;",
    ],
)
def test_fields_with_quotes_dots_encoded_words_comments_or_groups_are_not_plain(value):
    assert _plain_addresses(value) is None


def test_a_display_name_with_a_comma_is_still_one_address():
    field = parse_addresses("From", '"Berg, Anna" <anna@globex.example>')

    assert [(a.name, a.email) for a in field.addresses] == [
        ("Berg, Anna", "anna@globex.example")
    ]
