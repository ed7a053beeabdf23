"""The listener under test: `tierdesk run` processes, a TLS certificate, raw SMTP conversations."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tierdesk.storage.db import open_database
from tierdesk.storage.models import SpoolItem

from tests.support.daemon_process import DaemonProcess


def daemons(tmp_path: Path, db_url: str) -> Iterator[Callable[..., DaemonProcess]]:
    """What the `daemon` fixture yields: start(**kwargs) starts one; all stop after the test."""
    made: list[DaemonProcess] = []

    def start(**kwargs) -> DaemonProcess:
        made.append(DaemonProcess(tmp_path, db_url, **kwargs).start())
        return made[-1]

    yield start
    for d in made:
        d.stop()


def spooled(d: DaemonProcess) -> list[SpoolItem]:
    """Every spool row of a daemon's database, oldest first."""
    db = open_database(d.storage_url)
    try:
        return list(SpoolItem.select().order_by(SpoolItem.id))
    finally:
        db.close()


def converse(port: int, lines: list[bytes], replies: int) -> list[bytes]:
    """Send raw protocol lines in one write (pipelining) and read `replies` reply lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # greeting
        sock.sendall(b"".join(lines))
        out = []
        while len(out) < replies:
            line = reader.readline()
            if not line:
                break
            if line[3:4] == b"-":  # a continued multi-line reply
                continue
            out.append(line.rstrip())
        return out


def make_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost (the test skips without openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("openssl cannot make a test certificate here")
    return cert, key
