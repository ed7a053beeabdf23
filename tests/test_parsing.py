"""Parse workers: another core, a time limit per message, and crash isolation."""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tierdesk.daemon.parse_workers import receive_parsed, send_parsed
from tierdesk.daemon.parsing import ParseFailure, ParseRunner
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.parse import DEFAULT_LIMITS, parse_mail
from tierdesk.parsers.parsed import MailAttachment, ParseLimits
from tierdesk.storage import spool
from tierdesk.storage.models import SpoolItem, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.envelope import plain_envelope
from tests.support.slow_parse import (
    count_then_hang,
    die_on_marker,
    hang_on_marker,
    spin_on_marker,
)

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


def counted(tag: str, attempts: Path, extra: bytes = b"") -> bytes:
    """A request whose every parse attempt is noted in `attempts`."""
    head = b"X-Attempts-File: " + str(attempts).encode() + b"\n"
    return head + variant(tag) + extra


def attempts_in(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_message_that_runs_out_of_time_costs_one_timeout_and_one_attempt(
    runner, tmp_path
):
    attempts = tmp_path / "attempts"
    raws = [counted(t, attempts) for t in "ab"]
    raws.insert(1, counted("hung", attempts, b"HANG-HERE\n"))

    results = list(runner(timeout=1, parse=count_then_hang).parse(raws))

    assert isinstance(results[1], ParseFailure)
    assert "longer than 1s" in str(results[1])
    # never parsed again with a fresh limit: one attempt, one timeout
    assert attempts_in(attempts).count("request-hung@customer.example") == 1


def test_messages_queued_behind_a_hung_one_are_each_parsed_once(runner, tmp_path):
    attempts = tmp_path / "attempts"
    raws = [counted(str(i), attempts) for i in range(20)]
    raws.insert(3, counted("hung", attempts, b"HANG-HERE\n"))

    results = list(runner(timeout=1, parse=count_then_hang).parse(raws))

    assert [isinstance(r, ParseFailure) for r in results] == [i == 3 for i in range(21)]
    parsed = [r.message_id for r in results if not isinstance(r, ParseFailure)]
    assert parsed == [f"request-{i}@customer.example" for i in range(20)]
    seen = attempts_in(attempts)
    assert sorted(seen) == sorted(
        ["request-hung@customer.example"]
        + [f"request-{i}@customer.example" for i in range(20)]
    )


def test_with_two_workers_a_hung_message_fails_alone_and_in_order(runner, tmp_path):
    attempts = tmp_path / "attempts"
    raws = [counted(str(i), attempts) for i in range(40)]
    raws[10] = counted("hung", attempts, b"HANG-HERE\n")

    results = list(runner(workers=2, timeout=1, parse=count_then_hang).parse(raws))

    failed = [i for i, r in enumerate(results) if isinstance(r, ParseFailure)]
    assert failed == [10]
    assert results[11].message_id == "request-11@customer.example"
    assert len(attempts_in(attempts)) == 40


def test_the_caller_hears_when_a_message_keeps_the_next_results_waiting(runner):
    raws = [variant("a"), variant("b") + b"HANG-HERE\n", variant("c")]
    handed_over: list[object] = []
    waits: list[int] = []

    for result in runner(timeout=2, parse=hang_on_marker).parse(
        raws, on_wait=lambda: waits.append(len(handed_over))
    ):
        handed_over.append(result)  # noqa: PERF402 - on_wait reads it as it grows

    # while b hung, a had been handed over and the caller could commit it
    assert 1 in waits
    assert isinstance(handed_over[1], ParseFailure)


def test_a_caller_that_stops_early_leaves_no_answers_for_the_next_call(runner):
    parser = runner(timeout=30)
    first = parser.parse([variant(str(i)) for i in range(10)])
    assert next(first).message_id == "request-0@customer.example"
    first.close()

    results = list(parser.parse([variant("later")]))

    assert [r.message_id for r in results] == ["request-later@customer.example"]


def test_in_process_parsing_stops_a_runaway_parse_at_the_limit(runner):
    raws = [variant("a"), variant("b") + b"SPIN-HERE\n", variant("c")]

    results = list(runner(workers=0, timeout=0.5, parse=spin_on_marker).parse(raws))

    assert results[0].message_id == "request-a@customer.example"
    assert isinstance(results[1], ParseFailure)
    assert "longer than" in str(results[1])
    assert results[2].message_id == "request-c@customer.example"


def test_in_process_limit_never_fires_after_the_parse_is_over(runner):
    parser = runner(workers=0, timeout=0.5)
    raws = [variant(str(i)) for i in range(100)]

    results = list(parser.parse(raws))
    time.sleep(1)  # past every deadline those parses had
    for _ in range(10_000):  # Python steps, where a stray timeout would land
        pass

    assert not any(isinstance(r, ParseFailure) for r in results)


def test_limits_reach_the_worker_processes(runner):
    raw = b"".join(b"X-Filler-%d: %d\n" % (i, i) for i in range(30)) + GOOD

    [mail] = runner().parse([raw], ParseLimits(header_fields=10))

    assert any("the first 10 read" in d for d in mail.defects)
    assert mail.subject == ""  # Subject comes after the tenth field


def test_attachment_bytes_travel_beside_the_pickle_not_inside_it():
    data = bytes(range(256)) * 20_000  # 5 MB
    mail = parse_mail(GOOD)
    mail.attachments.append(MailAttachment("big.bin", "application/octet-stream", data))
    reader, writer = multiprocessing.Pipe(duplex=False)
    sender = threading.Thread(target=send_parsed, args=(writer, mail))
    sender.start()

    frames = [reader.recv_bytes()]
    frames.append(reader.recv_bytes())
    sender.join()

    assert len(frames[0]) < 20_000  # the pickle: everything but the bytes
    assert frames[1] == data  # the bytes as they are, once


def test_a_parsed_mail_arrives_whole_after_crossing_the_pipe():
    mail = parse_mail(fixture_bytes("pdf_attachment.eml"))
    reader, writer = multiprocessing.Pipe(duplex=False)
    sender = threading.Thread(target=send_parsed, args=(writer, mail))
    sender.start()

    received = receive_parsed(reader)
    sender.join()

    assert received == mail


def test_pipeline_commits_the_mail_before_a_slow_one_while_it_waits(
    tmp_path, sqlite_url
):
    runtime = open_runtime(make_config(tmp_path, sqlite_url))
    seen_while_waiting: list[int] = []

    class SlowSecond(ParseRunner):
        def parse(self, raws, limits=DEFAULT_LIMITS, on_wait=None):
            yield parse_mail(raws[0], limits)
            on_wait()  # the second message keeps the pipeline waiting
            seen_while_waiting.append(Ticket.select().count())
            yield from (parse_mail(raw, limits) for raw in raws[1:])

    runtime.pipeline.parser = SlowSecond(0, 30)
    raws = [variant("a"), variant("b")]
    ids = spool.spool(
        runtime.sql,
        [spool.Arrival(raw, "test", *plain_envelope(raw)) for raw in raws],
        runtime.clock(),
    )

    outcomes = runtime.pipeline.process_many(ids)

    assert seen_while_waiting == [1]  # a's ticket (and its acknowledgement) committed
    assert [o.kind for o in outcomes] == ["new_ticket", "new_ticket"]
    runtime.close()
