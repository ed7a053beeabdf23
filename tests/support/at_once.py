"""The same function in several processes of their own, started at the same instant."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# long enough for every process to start and open the desk before the instant
HEAD_START = 3.0


def at_once(count: int, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """Run fn(*args, start_at) in `count` fresh processes; each waits for `start_at`."""
    start_at = time.time() + HEAD_START
    context = multiprocessing.get_context("spawn")  # nothing inherited: like daemons
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        futures = [pool.submit(fn, *args, start_at) for _ in range(count)]
        return [future.result(timeout=120) for future in futures]
