"""Running the parse stage: in worker processes, or in-process, each message with a time limit.

Parsing is the pipeline's largest cost and pure CPU, so the daemon hands it
to worker processes (`parse_workers`): parsing then uses another core while
the main process applies the messages parsed before, and a parser crash
kills a worker, not the daemon.

The time limit (`parse_timeout`) is per message and counts from the moment
a worker starts on it. A message that runs out of time costs that one
timeout: its worker is killed, the message fails, and the messages queued
behind it go to a fresh worker, each parsed once. Results come back in the
order of the messages, so a message behind a slow one waits at most the
timeout (and a worker's start); `on_wait` lets the caller commit what it
already has in the meantime.

With `parse_workers: 0` messages are parsed in the calling thread and a
watchdog thread raises `ParseTimeout` in it at the limit. That interrupts
any Python code, which is all a parse is made of, but not a single C call
(one regex, one decode), which runs to its end first; every such call
works on input the parse caps bound. Only a worker process can be killed
outright, which is why the default is one worker.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait

from tierdesk.daemon.parse_workers import (
    START_WAIT,
    Failed,
    ParseOne,
    Worker,
    receive_parsed,
)
from tierdesk.parsers.parse import DEFAULT_LIMITS, parse_mail
from tierdesk.parsers.parsed import ParsedMail, ParseLimits

log = logging.getLogger("tierdesk.parsing")

QUEUE_DEPTH = 64  # messages queued to one worker, so it never waits for the next
QUEUE_BYTES = 4 * 1024 * 1024  # ... unless they are big (one is always allowed)
MESSAGES_PER_WORKER = 3200  # workers are recycled so no leak can grow for months
PATIENCE = 0.5  # seconds to wait for the next result before calling on_wait


class ParseFailure(Exception):
    """A message could not be parsed in time (or its worker died)."""


class ParseTimeout(BaseException):
    """Raised in a thread parsing in-process when its message runs out of time.

    A BaseException, so that no `except Exception` on the way swallows it.
    """


class ParseRunner:
    """Parses raw messages with `workers` processes (0: in this process)."""

    def __init__(
        self, workers: int, timeout: float, parse: ParseOne = parse_mail
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.parse_one = parse  # module-level: worker processes import it by name
        self._pool: list[Worker] = []
        self._watchdog: Watchdog | None = None

    def start(self) -> None:
        """Start the worker processes now and wait until they are ready to parse."""
        self.spawn()
        for worker in self._pool:
            if not worker.wait_ready(START_WAIT):
                log.error("a parse worker did not start within %ss", START_WAIT)

    def spawn(self) -> None:
        """Start workers up to `workers`, without waiting for them."""
        while len(self._pool) < self.workers:
            self._pool.append(Worker.start(self.parse_one))

    def parse(
        self,
        raws: Sequence[bytes],
        limits: ParseLimits = DEFAULT_LIMITS,
        on_wait: Callable[[], None] | None = None,
    ) -> Iterator[ParsedMail | ParseFailure]:
        """Parse each message, yielding results in order as they become ready.

        `on_wait` is called (once per message) when the next result keeps the
        caller waiting for more than PATIENCE seconds.
        """
        if self.workers <= 0:
            return self._parse_here(raws, limits)
        return self._parse_in_workers(raws, limits, on_wait)

    def close(self) -> None:
        """Stop the worker processes (or the watchdog thread)."""
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        pool, self._pool = self._pool, []
        for worker in pool:
            if worker.in_flight:
                worker.kill()
            else:
                worker.stop()

    # -- in this process ---------------------------------------------------------

    def _parse_here(
        self, raws: Sequence[bytes], limits: ParseLimits
    ) -> Iterator[ParsedMail | ParseFailure]:
        if self._watchdog is None:
            self._watchdog = Watchdog()
        for raw in raws:
            try:
                with self._watchdog.limit(self.timeout):
                    mail = self.parse_one(raw, limits)
            except ParseTimeout:
                log.error(
                    "parsing took longer than %ss; message given up", self.timeout
                )
                yield self._too_long()
            except Exception as exc:  # noqa: BLE001 - parse_mail never raises; a test double may
                yield ParseFailure(f"parser failed: {type(exc).__name__}: {exc}")
            else:
                yield mail

    # -- in worker processes -----------------------------------------------------

    def _parse_in_workers(
        self,
        raws: Sequence[bytes],
        limits: ParseLimits,
        on_wait: Callable[[], None] | None,
    ) -> Iterator[ParsedMail | ParseFailure]:
        todo = deque(range(len(raws)))
        ready: dict[int, ParsedMail | ParseFailure] = {}
        try:
            for wanted in range(len(raws)):
                call_at = time.monotonic() + PATIENCE if on_wait else None
                while wanted not in ready:
                    self._dispatch(todo, raws, limits)
                    self._collect(ready, todo, call_at)
                    if call_at is not None and time.monotonic() >= call_at:
                        call_at = None
                        if on_wait and wanted not in ready:
                            on_wait()
                # keep the workers fed while the caller handles this one
                self._dispatch(todo, raws, limits)
                yield ready.pop(wanted)
        finally:
            # The caller stopped early: answers still on their way would be
            # taken for the next call's, so those workers go.
            for worker in [w for w in self._pool if w.in_flight]:
                self._pool.remove(worker)
                worker.kill()

    def _dispatch(
        self, todo: deque[int], raws: Sequence[bytes], limits: ParseLimits
    ) -> None:
        """Queue waiting messages to the workers, the least busy first."""
        self._recycle()
        while todo:
            self.spawn()
            worker = min(self._pool, key=lambda w: len(w.in_flight))
            if worker.in_flight and (
                len(worker.in_flight) >= QUEUE_DEPTH
                or worker.bytes_in_flight + len(raws[todo[0]]) > QUEUE_BYTES
            ):
                return
            index = todo.popleft()
            worker.send(index, raws[index], limits)

    def _collect(
        self,
        ready: dict[int, ParsedMail | ParseFailure],
        todo: deque[int],
        until: float | None,
    ) -> None:
        """Take the answers that are in, waiting for one until a deadline or `until`."""
        busy = [w for w in self._pool if w.in_flight]
        wake = min(w.deadline(self.timeout) for w in busy)
        if until is not None:
            wake = min(wake, until)
        for conn in wait([w.results for w in busy], max(0.0, wake - time.monotonic())):
            worker = next(w for w in busy if w.results is conn)
            self._take_answers(worker, ready, todo)
        now = time.monotonic()
        for worker in busy:
            if (
                worker in self._pool
                and worker.in_flight
                and now >= worker.deadline(self.timeout)
            ):
                self._give_up(worker, ready, todo)

    def _take_answers(
        self,
        worker: Worker,
        ready: dict[int, ParsedMail | ParseFailure],
        todo: deque[int],
    ) -> None:
        """Take every answer the worker has sent, without waiting for more."""
        self._take_answer(worker, ready, todo)
        # one poll for many answers: a worker is usually ahead of the pipeline
        while worker in self._pool and worker.in_flight and worker.results.poll(0):
            self._take_answer(worker, ready, todo)

    def _take_answer(
        self,
        worker: Worker,
        ready: dict[int, ParsedMail | ParseFailure],
        todo: deque[int],
    ) -> None:
        try:
            answer = receive_parsed(worker.results)
        except (EOFError, OSError):
            index, _ = worker.in_flight[0]
            log.error("a parse worker died on a message; starting another")
            ready[index] = ParseFailure("the parse worker died on this message")
            self._replace(worker, todo, skip=1)
            return
        if isinstance(answer, str):  # READY
            worker.started_up()
            return
        index = worker.answered()
        ready[index] = (
            ParseFailure(answer.reason) if isinstance(answer, Failed) else answer
        )

    def _give_up(
        self,
        worker: Worker,
        ready: dict[int, ParsedMail | ParseFailure],
        todo: deque[int],
    ) -> None:
        """The worker's current message ran out of time: it fails, the others go on."""
        index, _ = worker.in_flight[0]
        log.error(
            "parsing took longer than %ss; message given up, its parse worker replaced",
            self.timeout,
        )
        ready[index] = self._too_long()
        self._replace(worker, todo, skip=1)

    def _replace(self, worker: Worker, todo: deque[int], skip: int) -> None:
        """Kill a worker; the messages it had not started go back to the front of `todo`."""
        self._pool.remove(worker)
        left = worker.kill()[skip:]
        todo.extendleft(reversed(left))

    def _recycle(self) -> None:
        for worker in [w for w in self._pool if not w.in_flight]:
            if worker.parsed >= MESSAGES_PER_WORKER or not worker.process.is_alive():
                self._pool.remove(worker)
                worker.stop()

    def _too_long(self) -> ParseFailure:
        return ParseFailure(f"parsing took longer than {self.timeout:.0f}s")


class Watchdog:
    """Raises ParseTimeout in a thread whose parse runs past its limit (in-process parsing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._target: int | None = None  # the thread being timed
        self._deadline = 0.0
        self._idle = True  # the watchdog sleeps until woken
        self._stopped = False
        threading.Thread(
            target=self._watch, name="tierdesk-parse-watchdog", daemon=True
        ).start()

    @contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        """Time the calling thread's block; ParseTimeout is raised in it past `seconds`.

        ParseTimeout may come out of the block's very end, so catch it around the `with`.
        """
        me = threading.get_ident()
        with self._lock:
            self._target = me
            self._deadline = time.monotonic() + seconds
            wake = self._idle
        if wake:
            self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                fired = self._target is None
                self._target = None
                # raised but maybe not delivered yet: it must not escape later
                if fired:
                    _set_async_exc(me, ctypes.py_object())

    def stop(self) -> None:
        """End the watchdog thread."""
        with self._lock:
            self._stopped = True
        self._wake.set()

    def _watch(self) -> None:
        while not self._stopped:
            with self._lock:
                now = time.monotonic()
                if self._target is not None and now >= self._deadline:
                    _set_async_exc(self._target, ctypes.py_object(ParseTimeout))
                    self._target = None
                self._idle = self._target is None
                sleep = None if self._idle else self._deadline - now
            # A deadline only moves later; waking early just means sleeping again.
            self._wake.wait(sleep)
            self._wake.clear()


def _set_async_exc(thread: int, exc: ctypes.py_object) -> None:
    """Raise `exc` in `thread` at its next Python step (a NULL object clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), exc)
