"""Hostile mail through the whole pipeline, on SQLite and PostgreSQL alike (bench/fuzz.py, small size).

One deterministic round: real messages under stacked mutations (truncated,
wrong boundaries, NUL bytes, bad base64 and quoted-printable, mislabelled
charsets, bare CR and LF, over-long addresses and Message-IDs ...) and every
fixed extreme case (10,000-deep MIME nesting, a 1 MB header line, a 1 MB
one-word Subject, 10,000 encoded words and recipients, 1,000 attachments, a 0-byte message ...), each
spooled and run by the daemon's own pipeline with its parse workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from bench.extreme_mail import EXTREMES
from bench.fuzz_cases import Case, fuzz_cases
from bench.fuzz_desk import fuzz_databases
from bench.fuzz_results import FuzzRun, divergences
from bench.mutations import MUTATIONS
from tests.conftest import PG_URL
from tests.support.pg_schema import postgres_schema

SEED = 10
MUTATED = 200  # about 7 s a database on this machine, extremes included
PARSE_TIMEOUT = (
    30.0  # seconds a message: far above the slowest case, so a hang is a hang
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    """The round's cases, the same on every run and for each database."""
    return fuzz_cases(MUTATED, SEED)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cases) -> Iterator[dict[str, FuzzRun]]:
    """The round fed to SQLite and (when configured) PostgreSQL, each fresh."""
    work = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        urls = {"sqlite": f"sqlite:///{work / 'sqlite' / 'db' / 'tierdesk.db'}"}
        if PG_URL:
            urls["postgres"] = stack.enter_context(postgres_schema(PG_URL, "fuzz"))
        yield fuzz_databases(urls, iter([cases]), work, PARSE_TIMEOUT)


def run_on(runs: dict[str, FuzzRun], database: str) -> FuzzRun:
    """The run on one database (PostgreSQL only when TIERDESK_TEST_PG is set)."""
    if database not in runs:
        pytest.skip("PostgreSQL tests need TIERDESK_TEST_PG=postgresql://...")
    return runs[database]


def test_the_round_holds_every_mutation_and_every_extreme_case(cases):
    names = " ".join(case.name for case in cases)

    assert [m.__name__ for m in MUTATIONS if m.__name__ not in names] == []
    assert [n for n, _ in EXTREMES if f"extreme:{n}" not in names] == []


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_hostile_message_lets_an_exception_out_of_the_pipeline(runs, database):
    run = run_on(runs, database)

    assert [f"{c.case}: {c.traceback}" for c in run.crashes] == []


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_hostile_message_is_quarantined_for_an_internal_error(runs, database):
    run = run_on(runs, database)

    assert [f"{e.name}: {e.reason}" for e in run.pipeline_errors] == []


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_hostile_message_hangs_the_parser(runs, database):
    run = run_on(runs, database)

    assert [ending.name for ending in run.hangs] == []


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_every_hostile_message_ends_as_a_ticket_a_known_outcome_or_quarantined_with_a_reason(
    runs, cases, database
):
    run = run_on(runs, database)

    assert len(run.endings) == len(cases)
    assert run.problems() == []
    assert run.counts()["ticket"] > len(cases) // 2  # most of them are still requests


def test_sqlite_and_postgresql_end_every_hostile_message_alike_and_store_the_same(runs):
    run_on(runs, "postgres")

    assert divergences(runs["sqlite"], runs["postgres"]) == []
