"""Running the parse stage: in worker processes, or in-process.

Parsing is the pipeline's largest cost and pure CPU, so the daemon hands it
to worker processes: parsing then uses another core while the main process
applies the messages parsed before, a message whose parsing hangs is given
up after a time limit instead of stalling the pipeline, and a parser crash
kills a worker, not the daemon. Messages travel in small chunks, so the
cost of passing them between processes stays small. With `workers: 0` it
runs in-process.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.pool import AsyncResult, Pool

from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import ParsedMail

log = logging.getLogger("tierdesk.parsing")

CHUNK = 16
TASKS_PER_WORKER = 200  # chunks; workers are recycled so no leak can grow for months


class ParseFailure(Exception):
    """A message could not be parsed in time (or its worker died)."""


def parse_chunk(raws: list[bytes]) -> list[ParsedMail]:
    """Parse several messages (runs in a worker process)."""
    return [parse_mail(raw) for raw in raws]


class ParseRunner:
    """Parses raw messages with `workers` processes (0: in this process)."""

    def __init__(
        self,
        workers: int,
        timeout: float,
        parse: Callable[[list[bytes]], list[ParsedMail]] = parse_chunk,
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.parse_chunk = (
            parse  # a module-level function: worker processes import it by name
        )
        self._pool: Pool | None = None

    def _ensure_pool(self) -> Pool:
        if self._pool is None:
            # spawn, not fork: the daemon has threads and open database connections
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, maxtasksperchild=TASKS_PER_WORKER)
        return self._pool

    def start(self) -> None:
        """Start the worker processes now rather than on the first message."""
        if self.workers > 0:
            self._ensure_pool().apply(self.parse_chunk, ([],))

    def parse(self, raws: Sequence[bytes]) -> Iterator[ParsedMail | ParseFailure]:
        """Parse each message, yielding results in order as they become ready."""
        if self.workers <= 0:
            for raw in raws:
                yield self.parse_chunk([raw])[0]
            return
        chunks = [list(raws[i : i + CHUNK]) for i in range(0, len(raws), CHUNK)]
        while chunks:
            pool = self._ensure_pool()
            jobs: list[AsyncResult[list[ParsedMail]]] = [
                pool.apply_async(self.parse_chunk, (c,)) for c in chunks
            ]
            for index, job in enumerate(jobs):
                try:
                    results: list[ParsedMail | ParseFailure] = list(
                        job.get(self.timeout)
                    )
                except multiprocessing.TimeoutError:
                    log.error(
                        "parsing took longer than %ss a message; restarting the parse workers",
                        self.timeout,
                    )
                    self._restart()
                    results = list(self._one_by_one(chunks[index]))
                except Exception as exc:  # noqa: BLE001 - a parser bug in a worker: find the message
                    log.error(
                        "a parse worker failed (%s: %s); parsing one by one",
                        type(exc).__name__,
                        exc,
                    )
                    results = list(self._one_by_one(chunks[index]))
                yield from results
                if (
                    self._pool is not pool
                ):  # restarted: the later jobs died with the old pool
                    chunks = chunks[index + 1 :]
                    break
            else:
                chunks = []

    def _one_by_one(self, raws: list[bytes]) -> Iterator[ParsedMail | ParseFailure]:
        """Parse each message as its own job, to pin a failure on the one that causes it."""
        for raw in raws:
            pool = self._ensure_pool()
            try:
                yield pool.apply_async(self.parse_chunk, ([raw],)).get(self.timeout)[0]
            except multiprocessing.TimeoutError:
                self._restart()
                yield ParseFailure(f"parsing took longer than {self.timeout:.0f}s")
            except Exception as exc:  # noqa: BLE001 - reported per message
                yield ParseFailure(f"parser failed: {type(exc).__name__}: {exc}")

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
