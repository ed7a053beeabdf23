"""Free TCP ports for the test servers, each pytest-xdist worker from a range of its own.

Binding port 0 hands out a port from the kernel's ephemeral range, and the
kernel hands the same port to the next outgoing connection (a PostgreSQL
client's, say) or to another worker's bind(0) before our daemon binds it:
a rare "address already in use". These come from below that range
(/proc/sys/net/ipv4/ip_local_port_range: 32768-60999 by default), a block per worker.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

FIRST = 20_000
BLOCK = 500  # ports per worker: 24 workers fit below 32,000
WORKERS = 24


def _worker() -> int:
    """This pytest-xdist worker's number (gw3 -> 3); 0 outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) % WORKERS if name[2:].isdigit() else 0


# a random start: two test runs at once on one machine rarely walk the same ports
_offsets = itertools.count(random.randrange(BLOCK))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on now, from this worker's block."""
    base = FIRST + _worker() * BLOCK
    for _ in range(BLOCK):
        port = base + next(_offsets) % BLOCK
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + BLOCK - 1}")
