"""Hand-written SQL for the per-message hot path, on the connection peewee manages.

peewee builds every query from an expression tree; on this hardware that
costs 150-800 µs per statement, against about 10 µs to execute it. A message
needs some fifteen statements, so the spool, threading, apply and outbox
code runs fixed SQL text through `Sql` instead, while the models stay the
schema and serve everything off the hot path (reports, admin commands).
Statements use `?` placeholders; PostgreSQL gets `%s`. `insert` fits each
value of a limited column (`CharField(max_length=...)`) to its width, as
`storage.text.fit` does, so SQLite keeps what PostgreSQL can keep.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from peewee import CharField, Database
from peewee import __exception_wrapper__ as as_peewee_errors
from tierdesk.storage.clock import to_naive_utc
from tierdesk.storage.db import is_sqlite
from tierdesk.storage.models import ALL_MODELS
from tierdesk.storage.text import fit, storable


class Sql:
    """Runs fixed SQL text with parameters on `db`'s connection for this thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sqlite = is_sqlite(db)
        self._texts: dict[str, str] = {}
        # a message's statements mostly pass the same `now`: convert it once
        self._last_stamp: tuple[datetime | None, object] = (None, None)

    def _text(self, sql: str) -> str:
        text = self._texts.get(sql)
        if text is None:
            text = sql if self.sqlite else sql.replace("?", "%s")
            self._texts[sql] = text
        return text

    def _params(self, params: tuple[Any, ...]) -> tuple[Any, ...]:
        # Every timestamp column holds naive UTC; SQLite gets peewee's own text
        # form of it, so models read these columns back as datetimes. Text goes
        # as both databases store it (`storage.text`). One plain pass: this runs
        # for every statement, and most parameters need nothing.
        changed: list[Any] | None = None
        for index, value in enumerate(params):
            if isinstance(value, datetime):
                value = self._timestamp(value)
            elif isinstance(value, str) and ("\x00" in value or not value.isascii()):
                value = storable(value)
            else:
                continue
            if changed is None:
                changed = list(params)
            changed[index] = value
        return params if changed is None else tuple(changed)

    def _timestamp(self, value: datetime) -> object:
        last, stamp = self._last_stamp  # one read: other threads may replace it
        if value is last:
            return stamp
        naive = to_naive_utc(value)
        stamp = str(naive) if self.sqlite else naive
        self._last_stamp = (value, stamp)
        return stamp

    def run(self, sql: str, *params: Any) -> Any:
        """Execute one statement; returns the cursor.

        Straight to the driver's cursor: `Database.execute_sql` costs about as
        much as SQLite takes to run a simple statement. Errors are peewee's all the same.
        """
        with as_peewee_errors:
            cursor = self.db.cursor()
            cursor.execute(self._text(sql), self._params(params))
        return cursor

    def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        return self.run(sql, *params).fetchone()

    def scalar(self, sql: str, *params: Any) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, *params)
        return row[0] if row else None

    def all(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        return self.run(sql, *params).fetchall()

    def insert(self, table: str, **values: Any) -> int:
        """Insert one row and return its id."""
        values = _fitted(table, values)
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        return self.scalar(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",
            *values.values(),
        )

    def insert_ignore_returning_id(self, table: str, **values: Any) -> int | None:
        """Insert one row unless it conflicts with a unique key; its id, or None on a conflict."""
        values = _fitted(table, values)
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        return self.scalar(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            " ON CONFLICT DO NOTHING RETURNING id",
            *values.values(),
        )

    def insert_ignore(self, table: str, **values: Any) -> int:
        """Insert one row unless it conflicts with a unique key; returns the row count."""
        values = _fitted(table, values)
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        cursor = self.run(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING",
            *values.values(),
        )
        return cursor.rowcount


@cache
def column_widths(table: str) -> dict[str, int]:
    """The width of each limited (varchar) column of a table, from the models."""
    for model in ALL_MODELS:
        if model._meta.table_name == table:
            return {
                f.column_name: f.max_length
                for f in model._meta.sorted_fields
                if isinstance(f, CharField) and f.max_length
            }
    return {}


def _fitted(table: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values, each string of a limited column fitted to its width."""
    widths = column_widths(table)
    for column, width in widths.items():
        value = values.get(column)
        if isinstance(value, str) and len(value) > width:
            values[column] = fit(value, width)
    return values
