"""One SLA sweep in a process of its own, started at an agreed moment (several at once)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from tierdesk.daemon.runtime import open_runtime
from tierdesk.daemon.sla_sweep import SlaSweeper

from tests.conftest import make_config


def sweep_at(
    tmp_path: str, db_url: str, rules: str, when: str, start_at: float
) -> dict[str, list[int]]:
    """Open the desk like a daemon does, wait for `start_at` (time.time()), sweep at `when`."""
    config = replace(make_config(Path(tmp_path), db_url), rules=Path(rules))
    moment = datetime.fromisoformat(when)
    runtime = open_runtime(config, clock=lambda: moment)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        report = SlaSweeper(runtime.sql, runtime.snapshot).sweep(moment)
        return {
            "escalated": report.escalated,
            "warned": report.warned,
            "closed": report.closed,
        }
    finally:
        runtime.close()
