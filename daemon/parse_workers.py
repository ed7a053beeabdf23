"""One parse worker process: a message in, its `ParsedMail` out, one at a time.

The daemon talks to each worker over two pipes. A message travels as its
raw bytes, a parsed mail as a small pickle without its attachments' bytes,
followed by those bytes as they are: neither side makes a pickled copy of a
20 MB attachment. The worker reads the next message only when it has sent
the last result, so it holds one message at a time, and the daemon knows
which message a worker is on: the oldest it has not answered.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from tierdesk.daemon.memory import return_big_allocations
from tierdesk.parsers.parsed import ParsedMail, ParseLimits

log = logging.getLogger("tierdesk.parsing")

ParseOne = Callable[[bytes, ParseLimits], ParsedMail]
STOP_WAIT = 5.0  # seconds a worker gets to exit when asked, before it is killed
START_WAIT = 60.0  # seconds a new worker gets to start (imports), on top of the limit
# A new worker's first word: the time it takes to start does not count against a message.
READY = "ready"
PIPE_BYTES = 1024 * 1024  # Linux's default pipe-max-size


@dataclass(frozen=True)
class Failed:
    """A worker's answer for a message its parse function raised on."""

    reason: str


def serve(tasks: Connection, results: Connection, parse: ParseOne) -> None:
    """A worker's life: parse each message it is sent, until told to stop."""
    # Ctrl-C reaches the whole process group; the daemon stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return_big_allocations()  # a big message's copies leave with it
    results.send(READY)
    while True:
        try:
            limits = tasks.recv()
        except EOFError:
            return
        if limits is None:
            return
        raw = tasks.recv_bytes()
        try:
            mail = parse(raw, limits)
        except Exception as exc:  # noqa: BLE001 - parse_mail never raises; a test double may
            results.send(Failed(f"parser failed: {type(exc).__name__}: {exc}"))
            continue
        del raw
        send_parsed(results, mail)


def _widen(end: Connection) -> None:
    """Give a pipe room for many messages (Linux: 64 KB by default, here up to 1 MB).

    With 64 KB, ten parsed mails fill the results pipe while the pipeline
    commits a group, and the worker stands still until it reads them.
    """
    # AttributeError: not Linux; OSError: over /proc/sys/fs/pipe-max-size
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def send_parsed(conn: Connection, mail: ParsedMail) -> None:
    """Send a parsed mail: a pickle without the attachments' bytes, then each one's bytes."""
    blobs = [a.data for a in mail.attachments]
    light = replace(mail, attachments=[replace(a, data=b"") for a in mail.attachments])
    conn.send(light)
    for blob in blobs:
        conn.send_bytes(blob)


def receive_parsed(conn: Connection) -> ParsedMail | Failed | str:
    """Receive what `send_parsed` (or a failing parse, or READY) sent; EOFError if the worker died."""
    light = conn.recv()
    if isinstance(light, Failed | str):
        return light
    attachments = [replace(a, data=conn.recv_bytes()) for a in light.attachments]
    return replace(light, attachments=attachments)


@dataclass
class Worker:
    """A parse worker process as the daemon sees it.

    `in_flight` holds the indexes (in the caller's list) of the messages sent
    and not yet answered, oldest first; the oldest is the one being parsed,
    since `started`.
    """

    process: BaseProcess
    tasks: Connection
    results: Connection
    outbox: queue.SimpleQueue[tuple[ParseLimits, bytes] | None]
    in_flight: deque[tuple[int, int]] = field(default_factory=deque)  # index, size
    bytes_in_flight: int = 0
    started: float = 0.0
    parsed: int = 0
    ready: bool = False

    def deadline(self, limit: float) -> float:
        """When the message being parsed runs out of time (a new worker gets START_WAIT more)."""
        return self.started + limit + (0.0 if self.ready else START_WAIT)

    @classmethod
    def start(cls, parse: ParseOne) -> Worker:
        """Spawn a worker (spawn, not fork: the daemon has threads and open connections)."""
        context = multiprocessing.get_context("spawn")
        task_reader, task_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        for end in (task_writer, result_writer):
            _widen(end)
        process = context.Process(
            target=serve,
            args=(task_reader, result_writer, parse),
            name="tierdesk-parse",
            daemon=True,
        )
        process.start()
        # The worker's ends live in the worker now: closing ours makes a dead
        # worker an EOF on `results` and a broken pipe for the writer.
        task_reader.close()
        result_writer.close()
        worker = cls(process, task_writer, result_reader, queue.SimpleQueue())
        threading.Thread(
            target=worker._write, name="tierdesk-parse-writer", daemon=True
        ).start()
        return worker

    def _write(self) -> None:
        """Hand messages to the worker; a thread, so the daemon never blocks on a busy worker.

        It owns `tasks`: only this thread writes to or closes it, so no write
        can ever reach a descriptor number the daemon has reused meanwhile.
        """
        try:
            while (item := self.outbox.get()) is not None:
                limits, raw = item
                self.tasks.send(limits)
                self.tasks.send_bytes(raw)
            self.tasks.send(None)  # asks the worker to exit
        except OSError:  # the worker is gone; whoever killed it requeues its messages
            pass
        finally:
            self.tasks.close()

    def send(self, index: int, raw: bytes, limits: ParseLimits) -> None:
        """Queue message `index` for this worker."""
        if not self.in_flight:
            self.started = time.monotonic()
        self.in_flight.append((index, len(raw)))
        self.bytes_in_flight += len(raw)
        self.outbox.put((limits, raw))

    def wait_ready(self, timeout: float) -> bool:
        """Wait for a new worker's READY; False if it died or said nothing in time."""
        if self.ready:
            return True
        try:
            if self.results.poll(timeout) and receive_parsed(self.results) == READY:
                self.started_up()
        except (EOFError, OSError):
            return False
        return self.ready

    def started_up(self) -> None:
        """The worker said READY: the clock of its first message starts now."""
        self.ready = True
        self.started = time.monotonic()

    def answered(self) -> int:
        """Account for the answer to the oldest message in flight; returns its index."""
        index, size = self.in_flight.popleft()
        self.parsed += 1
        self.bytes_in_flight -= size
        self.started = time.monotonic()  # the next message, if any, starts now
        return index

    def kill(self) -> list[int]:
        """Kill the worker now; returns the indexes it had not answered, oldest first."""
        self.outbox.put(None)
        self.process.kill()
        self.process.join()
        self.results.close()
        left = [index for index, _ in self.in_flight]
        self.in_flight.clear()
        self.bytes_in_flight = 0
        return left

    def stop(self) -> None:
        """Ask an idle worker to exit; kill it if it does not."""
        self.outbox.put(None)
        self.process.join(STOP_WAIT)
        if self.process.is_alive():
            log.warning("a parse worker did not stop in %ss; killing it", STOP_WAIT)
            self.process.kill()
            self.process.join()
        self.results.close()
