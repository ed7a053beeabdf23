"""Group commit for the SMTP listener: concurrent arrivals share one durable commit.

Every message must be committed before its 250, and each commit waits for
the disk (fsync). One writer thread takes whatever has arrived while the
previous commit was in progress and commits it together, so N concurrent
sessions cost one fsync instead of N, and nobody waits longer than one
commit for the next to start.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future

from tierdesk.storage import spool
from tierdesk.storage.clock import Clock
from tierdesk.storage.db import StorageError
from tierdesk.storage.spool import Arrival
from tierdesk.storage.sql import Sql

MAX_GROUP = 64


class SpoolWriter:
    """A thread that spools arrivals in groups; `submit` returns when its arrival is durable."""

    def __init__(self, sql: Sql, clock: Clock) -> None:
        self.sql = sql
        self.clock = clock
        self._queue: queue.SimpleQueue[tuple[Arrival, Future[int]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(
            target=self._run, name="tierdesk-spool-writer", daemon=True
        )

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    async def submit(self, arrival: Arrival) -> int:
        """Spool one arrival; returns its spool id once committed, raises StorageError."""
        future: Future[int] = Future()
        self._queue.put((arrival, future))
        return await asyncio.wrap_future(future)

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                group = [first]
                while len(group) < MAX_GROUP:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)  # stop after this group
                        break
                    group.append(item)
                self._commit(group)
        finally:
            self.sql.db.close()

    def _commit(self, group: list[tuple[Arrival, Future[int]]]) -> None:
        try:
            ids = spool.spool(self.sql, [arrival for arrival, _ in group], self.clock())
        except StorageError as exc:
            for _, future in group:
                future.set_exception(exc)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting session must get an answer
            for _, future in group:
                future.set_exception(StorageError(f"cannot spool: {exc}"))
            return
        for (_, future), spool_id in zip(group, ids, strict=True):
            future.set_result(spool_id)
