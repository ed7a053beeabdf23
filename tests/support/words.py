"""Words that tell test messages apart: robots are recognised by repeating the same text,
digits aside, so messages meant to be different must differ in letters."""

from __future__ import annotations

LETTERS = str.maketrans("0123456789", "abcdefghij")


def word(tag: object) -> str:
    """A word of letters for `tag` (42 -> "ec")."""
    return f"x{str(tag).translate(LETTERS)}"
