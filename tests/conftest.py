"""Shared fixtures: real SQLite always, real PostgreSQL when TIERDESK_TEST_PG is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tierdesk.daemon.config import (
    Config,
    OutgoingConfig,
    PipelineConfig,
    StorageConfig,
    SupportConfig,
)
from tierdesk.daemon.runtime import Runtime, open_runtime

from tests.support.envelope import plain_envelope
from tests.support.pg_schema import postgres_schema
from tests.support.relay_sink import RelaySink, start_sink
from tests.support.smtp_listener import daemons, make_certificate

# `server` and `pollers` for the IMAP tests
pytest_plugins = ["tests.support.imap_pollers"]

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("TIERDESK_TEST_PG", "")


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of tests/fixtures/NAME."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind (PostgreSQL only when configured)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'tierdesk.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TIERDESK_TEST_PG=postgresql://...")
    with postgres_schema(PG_URL) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database (for tests that are about SQLite itself)."""
    return f"sqlite:///{tmp_path / 'db' / 'tierdesk.db'}"


def make_config(
    tmp_path: Path, storage_url: str | None = None, **support: object
) -> Config:
    """A test configuration: data in tmp_path, support@example.com, tag ACME."""
    support_config = SupportConfig(
        addresses=["support@example.com"],
        display_name="ACME Support",
        subject_tag="ACME",
        **support,
    )
    return replace(
        Config(),
        data_dir=tmp_path / "data",
        storage=StorageConfig(url=storage_url),
        support=support_config,
        outgoing=OutgoingConfig(maildir=tmp_path / "outgoing"),
        pipeline=PipelineConfig(parse_workers=0),
    )


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    """The test configuration on each database kind."""
    return make_config(tmp_path, db_url)


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    """A config file for the `tierdesk` command: support@example.com, tag ACME."""
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        f"storage:\n  url: {db_url}\n"
        "support:\n  addresses: [support@example.com]\n  subject_tag: ACME\n"
    )
    return path


@pytest.fixture
def runtime(config: Config) -> Iterator[Runtime]:
    """An opened runtime (schema created) for in-process pipeline tests."""
    rt = open_runtime(config)
    yield rt
    rt.close()


@pytest.fixture
def relay_sink() -> Iterator[RelaySink]:
    """A real SMTP relay on a free port that records what it receives."""
    sink, controller = start_sink()
    sink.port = controller.port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


FROM_HEADER = (
    object()
)  # the envelope a plain mail gets: From: as sender, To: as recipient


@pytest.fixture
def ingest(runtime: Runtime) -> Callable[..., object]:
    """Spool raw bytes (or a fixture name) and run the pipeline on them; returns the Outcome."""
    from tierdesk.storage import spool

    def run(
        raw: bytes | str,
        mail_from: str | None | object = FROM_HEADER,
        rcpt: str | None = None,
    ):
        data = fixture_bytes(raw) if isinstance(raw, str) else raw
        sender, recipients = plain_envelope(data)
        if mail_from is not FROM_HEADER:
            sender = mail_from  # type: ignore[assignment]
        (spool_id,) = spool.spool(
            runtime.sql,
            [spool.Arrival(data, "test", sender, (rcpt,) if rcpt else recipients)],
            runtime.clock(),
        )
        return runtime.pipeline.process(spool_id)

    return run


@pytest.fixture
def daemon(tmp_path: Path, db_url: str) -> Iterator[Callable[..., object]]:
    """Start `tierdesk run` processes with start(**kwargs); all are stopped after the test."""
    yield from daemons(tmp_path, db_url)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed localhost certificate and its key, for STARTTLS."""
    return make_certificate(tmp_path)
