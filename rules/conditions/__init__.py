"""Rule conditions (`when:`): one small class per kind of test, and how `when` is read.

base.py says what a condition is (read, check, explain) and holds the
per-message Facts; parse.py reads a `when` mapping. A new kind of test is one
Condition subclass in the family module it belongs to, added to
parse.CONDITION_TYPES (and to CONDITION_KEYS, which a test compares).
"""

from tierdesk.rules.conditions.base import Condition, Facts, Names
from tierdesk.rules.conditions.parse import (
    CONDITION_KEYS,
    CONDITION_TYPES,
    parse_condition,
)
from tierdesk.rules.conditions.reading import read_bool, read_strings

__all__ = [
    "CONDITION_KEYS",
    "CONDITION_TYPES",
    "Condition",
    "Facts",
    "Names",
    "parse_condition",
    "read_bool",
    "read_strings",
]
