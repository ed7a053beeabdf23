"""One outbox sender in a process of its own, started at an agreed moment (several at once)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from tierdesk.daemon.config_transport import OutgoingConfig
from tierdesk.daemon.runtime import open_runtime

from tests.conftest import make_config


def deliver_everything_due(
    tmp_path: str, db_url: str, relay_port: int, start_at: float
) -> int:
    """Open the desk like a daemon does, wait for `start_at`, deliver until nothing is due."""
    config = make_config(Path(tmp_path), db_url)
    outgoing = OutgoingConfig(transport="smtp", host="127.0.0.1", port=relay_port)
    runtime = open_runtime(replace(config, outgoing=outgoing))
    try:
        time.sleep(max(0.0, start_at - time.time()))
        delivered = 0
        while handed := runtime.sender.deliver_due(outgoing, limit=10):
            delivered += handed
        return delivered
    finally:
        runtime.close()
