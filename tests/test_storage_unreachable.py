"""A PostgreSQL host that takes the connection and then says nothing (a hung server, a
half-open firewall): storage is reported unavailable after the connect timeout
instead of holding intake, `/healthz` and `tierdesk status` for minutes."""

from __future__ import annotations

import socket
import threading

import pytest
from peewee import OperationalError
from tierdesk.storage.db import CONNECT_TIMEOUT_SECONDS, open_database


@pytest.fixture
def silent_server():
    """A TCP port whose connections are accepted by the kernel and never answered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_a_server_that_never_answers_fails_the_connection_instead_of_hanging(
    silent_server,
):
    db = open_database(
        f"postgresql://tierdesk@127.0.0.1:{silent_server}/desk?connect_timeout=1"
    )
    outcome: list[BaseException] = []

    def connect() -> None:
        try:
            db.connect()
        except BaseException as exc:  # noqa: BLE001 - what it raised is the finding
            outcome.append(exc)

    attempt = threading.Thread(target=connect, daemon=True)
    attempt.start()
    attempt.join(60)  # a liveness bound, far above the 1 s asked for

    assert not attempt.is_alive(), "connecting to a silent server hung"
    assert outcome and isinstance(outcome[0], OperationalError)


def test_every_postgresql_connection_has_a_connect_timeout_unless_the_url_sets_one():
    assert (
        open_database("postgresql://u@db.example/desk").connect_params[
            "connect_timeout"
        ]
        == CONNECT_TIMEOUT_SECONDS
    )
    assert (
        open_database(
            "postgresql://u@db.example/desk?connect_timeout=3"
        ).connect_params["connect_timeout"]
        == "3"
    )
