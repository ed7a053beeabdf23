"""Background threads that run a step function whenever woken (or on a timer).

The pipeline, the sender and each IMAP mailbox get one; the SMTP handler and
the scheduler wake them. A step that raises is logged and retried later,
never fatal. A long-running step (an IMAP session) waits through the worker
too, with `pause` and `take_wake`, so that a stop ends it promptly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("tierdesk.workers")

# caps the exponent only so the float cannot overflow; `ceiling` is the real limit
_MAX_EXPONENT = 64


@dataclass
class Backoff:
    """Retry delays that double with each failure (2, 4, 8 ... s) up to `ceiling`."""

    ceiling: float
    failures: int = 0

    def failed(self) -> float:
        """Count one more failure; returns the seconds to wait before trying again."""
        self.failures += 1
        return min(self.ceiling, 2.0 ** min(self.failures, _MAX_EXPONENT))

    def reset(self) -> None:
        """A success: the next failure waits the shortest delay again."""
        self.failures = 0


class Worker:
    """A thread that calls `step` until it reports no work, then waits to be woken."""

    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        idle_seconds: float = 5.0,
        on_exit: Callable[[], None] | None = None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.idle_seconds = idle_seconds
        self.on_exit = on_exit
        self.backoff = Backoff(ceiling=60.0) if backoff is None else backoff
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tierdesk-{name}", daemon=True
        )

    @property
    def errors(self) -> int:
        """How many times a step failed (what the back-off has counted)."""
        return self.backoff.failures

    def start(self) -> None:
        """Start the thread; it does a first round of work at once."""
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        """Ask for a round of work soon (thread-safe, cheap)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current step, then stop."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        """True once `stop` was called; steps check it between items."""
        return self._stopping.is_set()

    def take_wake(self, timeout: float = 0.0) -> bool:
        """Consume a wake-up, waiting up to `timeout` seconds; True if there was one.

        A stop counts as a wake-up and stays pending, so every later wait ends at once.
        """
        woken = self._wake.wait(timeout)
        self._wake.clear()
        if self._stopping.is_set():
            self._wake.set()
        return woken

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`, cut short by stop but not by a wake-up; False if stopped."""
        return not self._stopping.wait(seconds)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _loop(self) -> None:
        while not self.stopping:
            self.take_wake(self.idle_seconds)
            while not self.stopping:
                try:
                    if not self.step():
                        break
                except Exception:
                    delay = self.backoff.failed()
                    log.exception("%s step failed; retrying later", self.name)
                    self.pause(delay)
                    break
