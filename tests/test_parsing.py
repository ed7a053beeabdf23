"""Parse workers: another core, a time limit per message, and crash isolation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import fixture_bytes, make_config
from tests.support.envelope import plain_envelope
from tests.support.slow_parse import die_on_marker, hang_on_marker
from tierdesk.daemon.parsing import ParseFailure, ParseRunner
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.parse import parse_mail
from tierdesk.storage import spool
from tierdesk.storage.models import SpoolItem

GOOD = fixture_bytes("flow/new_request.eml")


def variant(tag: str) -> bytes:
    return GOOD.replace(b"request-1@", f"request-{tag}@".encode())


@pytest.fixture
def runner():
    made = []

    def make(**kwargs) -> ParseRunner:
        made.append(ParseRunner(**{"workers": 1, "timeout": 30, **kwargs}))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_worker_results_equal_in_process_parsing(runner):
    raws = [variant(str(i)) for i in range(40)] + [fixture_bytes("koi8r_body.eml")]

    parsed = list(runner().parse(raws))

    assert [p.message_id for p in parsed] == [parse_mail(r).message_id for r in raws]
    assert parsed[-1].text == parse_mail(raws[-1]).text


def test_message_that_hangs_the_parser_fails_alone_after_the_time_limit(runner):
    raws = [variant("a"), variant("b") + b"HANG-HERE\n", variant("c")]

    results = list(runner(timeout=1, parse=hang_on_marker).parse(raws))

    assert results[0].message_id == "request-a@customer.example"
    assert isinstance(results[1], ParseFailure)
    assert "longer than 1s" in str(results[1])
    assert results[2].message_id == "request-c@customer.example"


def test_message_that_kills_its_worker_fails_alone(runner):
    raws = [variant("a"), variant("b") + b"DIE-HERE\n", variant("c")]

    results = list(runner(timeout=1, parse=die_on_marker).parse(raws))

    assert isinstance(results[1], ParseFailure)
    assert [r.message_id for r in (results[0], results[2])] == [
        "request-a@customer.example",
        "request-c@customer.example",
    ]


def test_pipeline_quarantines_the_hanging_message_and_goes_on(tmp_path, sqlite_url):
    config = make_config(tmp_path, sqlite_url)
    runtime = open_runtime(
        replace(
            config, pipeline=replace(config.pipeline, parse_workers=1, parse_timeout=2)
        )
    )
    runtime.pipeline.parser = ParseRunner(1, 2, parse=hang_on_marker)
    raws = [variant("a"), variant("b") + b"HANG-HERE\n", variant("c")]
    ids = spool.spool(
        runtime.sql,
        [spool.Arrival(raw, "test", *plain_envelope(raw)) for raw in raws],
        runtime.clock(),
    )

    outcomes = runtime.pipeline.process_many(ids)

    assert [o.kind for o in outcomes] == ["new_ticket", "quarantined", "new_ticket"]
    assert "longer than 2s" in SpoolItem.get_by_id(ids[1]).error
    runtime.close()
