"""Worker threads: rounds of work, wake-ups, interruptible waits, stop and back-off."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from tierdesk.daemon.workers import Backoff, Worker

from tests.support.daemon_process import wait_until

LONG = 60.0  # a wait that only a wake-up or a stop may end within the test
PATIENCE = 10.0  # how long the test waits for the worker thread before failing
SETTLE = 0.2  # long enough for a wrongly ended wait to show in the results


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Make workers (steps may use the worker, so the test starts it); all stop after."""
    made: list[Worker] = []

    def make(step: Callable[[], int], **kwargs) -> Worker:
        worker = Worker("test", step, **{"idle_seconds": LONG, **kwargs})
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop(timeout=PATIENCE)


def test_step_repeats_while_it_reports_work_then_waits_for_a_wake_up(workers):
    results = iter([2, 1, 0, 0])
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        return next(results)

    worker = workers(step)
    worker.start()
    wait_until(lambda: len(calls) == 3, message="three rounds at start")
    time.sleep(SETTLE)
    assert len(calls) == 3  # idle now, until woken

    worker.wake()

    wait_until(lambda: len(calls) == 4, message="the round after the wake-up")


def test_thread_is_named_after_the_worker_and_on_exit_runs_in_it():
    seen: list[str] = []
    exited: list[str] = []
    worker = Worker(
        "imap-support",
        lambda: seen.append(threading.current_thread().name) or 0,
        LONG,
        lambda: exited.append(threading.current_thread().name),
    )
    worker.start()
    wait_until(lambda: seen, message="the first round")

    worker.stop(timeout=PATIENCE)

    assert seen == ["tierdesk-imap-support"]
    assert exited == ["tierdesk-imap-support"]


def test_take_wake_consumes_a_pending_wake_up_once(workers):
    entered, go = threading.Event(), threading.Event()
    taken: list[bool] = []

    def step() -> int:
        if not taken:
            entered.set()
            go.wait(LONG)
            taken.extend([worker.take_wake(), worker.take_wake()])
        return 0

    worker = workers(step)
    worker.start()
    assert entered.wait(PATIENCE)
    worker.wake()
    go.set()

    wait_until(lambda: len(taken) == 2, message="the step to look twice")
    assert taken == [True, False]


def test_take_wake_with_a_timeout_waits_for_a_wake_up_from_another_thread(workers):
    entered = threading.Event()
    taken: list[bool] = []

    def step() -> int:
        if not entered.is_set():
            entered.set()
            taken.append(worker.take_wake(LONG))
            taken.append(worker.take_wake(0.01))
        return 0

    worker = workers(step)
    worker.start()
    assert entered.wait(PATIENCE)
    time.sleep(SETTLE)
    assert taken == []  # still waiting

    worker.wake()

    wait_until(lambda: len(taken) == 2, message="the wait to end")
    assert taken == [True, False]  # woken, then nothing more pending
    assert not worker.stopping


def test_stop_ends_a_wait_for_a_wake_up_and_stays_pending(workers):
    entered = threading.Event()
    taken: list[bool] = []
    exited = threading.Event()

    def step() -> int:
        entered.set()
        taken.extend([worker.take_wake(LONG), worker.take_wake(LONG)])
        return 1  # more work: only the stop ends the round

    worker = workers(step, on_exit=exited.set)
    worker.start()
    assert entered.wait(PATIENCE)

    worker.stop(timeout=PATIENCE)

    assert exited.is_set()
    assert taken == [True, True]


def test_pause_runs_its_course_unless_stopped(workers):
    paused: list[bool] = []
    worker = workers(lambda: paused.append(worker.pause(0.01)) or 0)
    worker.start()

    wait_until(lambda: paused, message="the pause")

    assert paused == [True]


def test_a_wake_up_does_not_cut_a_pause_short_but_a_stop_does(workers):
    entered = threading.Event()
    paused: list[bool] = []
    exited = threading.Event()

    def step() -> int:
        entered.set()
        paused.append(worker.pause(LONG))
        return 0

    worker = workers(step, on_exit=exited.set)
    worker.start()
    assert entered.wait(PATIENCE)
    worker.wake()
    time.sleep(SETTLE)
    assert paused == []  # still pausing

    worker.stop(timeout=PATIENCE)

    assert exited.is_set()
    assert paused == [False]


def test_a_failing_step_is_logged_counted_and_run_again_when_woken(workers, caplog):
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return 0

    with caplog.at_level(logging.ERROR, logger="tierdesk.workers"):
        worker = workers(step, backoff=Backoff(ceiling=0.01))
        worker.start()
        wait_until(lambda: worker.errors == 1, message="the failure")

        worker.wake()
        wait_until(lambda: len(calls) == 2, message="the round after the failure")

    assert worker.errors == 1
    assert "test step failed; retrying later" in caplog.text
    assert "disk on fire" in caplog.text


def test_stop_ends_the_back_off_after_a_failing_step(workers):
    exited = threading.Event()

    def step() -> int:
        raise RuntimeError("still broken")

    # the next failure backs off for the ceiling, far longer than stop waits
    worker = workers(step, on_exit=exited.set, backoff=Backoff(600.0, failures=20))
    worker.start()
    wait_until(lambda: worker.errors == 21, message="the failure")

    worker.stop(timeout=PATIENCE)

    assert exited.is_set()


def test_a_step_can_drive_the_back_off_and_reset_it(workers):
    outcomes = iter([False, False, False, True])
    delays: list[float] = []
    done = threading.Event()

    def step() -> int:
        if next(outcomes):
            worker.backoff.reset()
            done.set()
            return 0
        delay = worker.backoff.failed()
        delays.append(delay)
        worker.pause(0.001)  # the real delay would slow the test down
        return 1

    worker = workers(step)
    worker.start()
    assert done.wait(PATIENCE)

    assert delays == [2.0, 4.0, 8.0]
    assert worker.backoff.failures == 0


def test_backoff_doubles_up_to_its_ceiling_and_starts_over_after_a_reset():
    backoff = Backoff(ceiling=60.0)

    assert [backoff.failed() for _ in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff.failures == 7

    backoff.reset()

    assert backoff.failed() == 2.0


def test_backoff_stays_at_the_ceiling_however_many_failures():
    backoff = Backoff(ceiling=300.0, failures=10_000)

    assert backoff.failed() == 300.0
