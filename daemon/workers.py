"""Background threads that run a step function whenever woken (or on a timer).

The pipeline and the sender each get one; the SMTP handler and the scheduler
wake them. A step that raises is logged and retried later, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("tierdesk.workers")


class Worker:
    """A thread that calls `step` until it reports no work, then waits to be woken."""

    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        idle_seconds: float = 5.0,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.idle_seconds = idle_seconds
        self.on_exit = on_exit
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tierdesk-{name}", daemon=True
        )
        self.errors = 0

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

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.idle_seconds)
            self._wake.clear()
            while not self._stopping.is_set():
                try:
                    if not self.step():
                        break
                except Exception:
                    self.errors += 1
                    log.exception("%s step failed; retrying later", self.name)
                    self._stopping.wait(min(60.0, 2.0 ** min(self.errors, 6)))
                    break
