"""systemd's notify protocol in a few lines (sdnotify swallows errors and non-Latin-1 text)."""

from __future__ import annotations

import os
import socket


def sd_notify(message: str) -> bool:
    """Send READY=1, STATUS=..., WATCHDOG=1 or STOPPING=1 to systemd; False when not under it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
        ) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        return False
    return True
