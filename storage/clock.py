"""The clock, and time as the database stores it: naive UTC.

A `Clock` is made once (`system_clock`, or a test's controllable one) and
passed to whatever needs the time: the pipeline, the sender, the SLA sweep,
intake. Storage functions never read it themselves; they take `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def to_naive_utc(value: datetime | None) -> datetime | None:
    """Convert an aware datetime to naive UTC; naive ones are taken as UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def as_aware_utc(value: object) -> datetime | None:
    """A timestamp column read back (SQLite gives text) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)


def column_default() -> datetime:
    """The default of timestamp columns for rows made through the models (tests, admin)."""
    return datetime.now(UTC).replace(tzinfo=None)
