"""How common the index's words are, remembered for a while by one daemon process.

A look-up by likeness asks only for a new ticket's rarer words
(search_query.rare_terms). Knowing which are rare costs, on SQLite, a
capped walk over each word's postings and, on PostgreSQL, a read of
ANALYZE's statistics of the index column: together most of a look-up's
time. Both change slowly (a word only grows more common as mail comes in;
the statistics only at the next ANALYZE), so a stale answer for a few
minutes at worst ranks one word differently. Nothing else is kept here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
KEEP_SECONDS = 300.0
KEEP_ENTRIES = 20_000


class IndexMemo:
    """Values computed from the full-text index, each kept for `seconds`, at most `entries`."""

    def __init__(
        self,
        seconds: float = KEEP_SECONDS,
        entries: int = KEEP_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.entries = entries
        self.clock = clock
        self._kept: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for `key` if still fresh, else `compute()` (then kept)."""
        now = self.clock()
        with self._lock:
            found = self._kept.get(key)
            if found is not None and now - found[0] < self.seconds:
                self._kept.move_to_end(key)
                return found[1]  # type: ignore[return-value]
        value = compute()
        self.put(key, value, now)
        return value

    def fresh(self, key: Hashable) -> object:
        """The value kept for `key` if still fresh, else None."""
        now = self.clock()
        with self._lock:
            found = self._kept.get(key)
            return (
                found[1]
                if found is not None and now - found[0] < self.seconds
                else None
            )

    def put(self, key: Hashable, value: object, now: float | None = None) -> None:
        """Keep `value` for `key` from now (the least recently used go past `entries`)."""
        with self._lock:
            self._kept[key] = (self.clock() if now is None else now, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.entries:
                self._kept.popitem(last=False)


def remembered(memo: IndexMemo | None, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, through `memo` when there is one."""
    return compute() if memo is None else memo.get(key, compute)
