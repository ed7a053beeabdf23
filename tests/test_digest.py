"""The supervisors' daily digest: yesterday's figures by mail at 08:00 Berlin, once a day.

The week of tickets is tests/support/supervisor_desk.py. Each digest is
read back from the outbox with the standard library's strict policy.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import time
from functools import partial

import pytest
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.digest import digest_job, send_digest_if_due
from tierdesk.daemon.digest_view import at_risk, blocks
from tierdesk.rules.yamlsource import SourceError
from tierdesk.storage.models import OutboxItem
from tierdesk.storage.report_rows import EventRow, TicketRow

from tests.support.at_once import at_once
from tests.support.supervisor_desk import (
    BERLIN,
    berlin,
    digest_at,
    open_supervisor_desk,
    with_digest,
)

SATURDAY_8_05 = berlin(17, 8, 5)


@pytest.fixture
def week(tmp_path, db_url):
    """The week of tickets, plus one opened, answered and resolved on Friday morning."""
    for desk in open_supervisor_desk(tmp_path, db_url, with_digest):
        friday = desk.opened("d1", berlin(16, 11))
        desk.answered(friday, berlin(16, 11, 30))
        desk.status(friday, "resolved", berlin(16, 12))
        yield desk


def digest_now(week, when) -> int:
    runtime = week.runtime
    return send_digest_if_due(runtime.sql, runtime.snapshot, when)


def digests() -> list[email.message.EmailMessage]:
    rows = (
        OutboxItem.select().where(OutboxItem.kind == "digest").order_by(OutboxItem.id)
    )
    return [
        email.message_from_bytes(bytes(r.raw), policy=email.policy.strict) for r in rows
    ]


def parts(msg: email.message.EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return (
        plain.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


def test_digest_has_yesterdays_figures_in_text_and_html_with_bar_charts(week):
    assert digest_now(week, SATURDAY_8_05) == 2

    boss, lead = digests()
    assert [m["To"] for m in (boss, lead)] == ["boss@acme.example", "lead@acme.example"]
    assert boss["Subject"] == (
        "Support digest for 2026-01-16: 2 opened, 1 resolved, 5 past SLA"
    )
    assert boss["Auto-Submitted"] == "auto-generated"
    assert boss.get_content_type() == "multipart/alternative"
    text, html = parts(boss)
    # Friday: t5 (unanswered) and d1 (answered in 30m, resolved in 1h)
    assert re.search(r"opened +2  █{20}\n", text)
    assert re.search(r"answered +1  █{10}\n", text)
    assert "median 30m, p90 30m, within SLA 100%" in text
    assert "median 1h, p90 1h, within SLA 100%" in text
    # open now: t0, t5, t7 on tier 1 and t4 on tier 3
    assert "Open now: 4" in text
    assert re.search(r"tier 1 +3  █{20}\n", text)
    assert re.search(r"tier 3 +1  ██████▋\n", text)
    # past their deadlines: t0 and t7 (both clocks), t4 (resolution)
    assert len(re.findall(r"PAST, was due", text)) == 5
    assert "#1  tier 1  first response PAST, was due 2026-01-08 10:00" in text
    assert "Tier 3 (1 open):\n    #7  2d23h" in text
    # the HTML bars are table cells with a width: any mail client shows them
    assert 'width="200" height="12" bgcolor="#2f6fdf"' in html
    assert 'width="100" height="12" bgcolor="#2f6fdf"' in html
    assert "past, was due 2026-01-08 10:00" in html
    assert "<img" not in html


def test_digest_goes_out_once_a_day_however_often_the_job_runs(week):
    assert digest_now(week, berlin(17, 7, 59)) == 0  # before 08:00 Berlin

    assert digest_now(week, SATURDAY_8_05) == 2
    assert digest_now(week, SATURDAY_8_05) == 0
    assert digest_now(week, berlin(17, 23, 0)) == 0
    assert len(digests()) == 2

    assert digest_now(week, berlin(18, 8, 0)) == 2  # Sunday: Saturday's digest
    assert [m["Subject"][:29] for m in digests()][-1] == "Support digest for 2026-01-17"


def test_two_daemons_at_the_same_moment_send_one_digest(week, tmp_path, db_url):
    queued = at_once(2, digest_at, str(tmp_path), db_url, SATURDAY_8_05.isoformat())

    assert sorted(queued) == [0, 2]
    assert len(digests()) == 2


def test_a_ticket_due_before_tomorrows_digest_is_listed_as_near(week):
    # Monday 08:05: t5's first response is due at 10:00
    digest_now(week, berlin(19, 8, 5))

    text, _ = parts(digests()[0])
    assert "#8  tier 1  first response due 2026-01-19 10:00 (in 1h55m)" in text
    assert "(5 past, 1 due within 24h)" in text


def test_russian_supervisors_get_the_russian_digest(tmp_path, db_url):
    for desk in open_supervisor_desk(
        tmp_path, db_url, partial(with_digest, language="ru")
    ):
        digest_now(desk, SATURDAY_8_05)
        [msg] = digests()[:1]
        text, _ = parts(msg)
        assert msg["Subject"].startswith("Сводка поддержки за 2026-01-16")
        assert "Открыто сейчас: 4" in text


def test_bars_are_drawn_in_eighths_of_a_block():
    assert blocks(1, 1, width=4) == "████"
    assert blocks(1, 3, width=4) == "█▍"
    assert blocks(0, 3) == ""


def test_digest_settings_are_read_from_the_config_file_and_checked(tmp_path):
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        "digest:\n  to: [boss@acme.example]\n  at: '07:30'\n  timezone: Europe/Berlin\n"
    )
    digest = load_config(path, environ={}).digest
    assert (digest.to, digest.send_time, digest.language) == (
        ["boss@acme.example"],
        time(7, 30),
        None,
    )

    path.write_text("digest:\n  to: boss\n  at: 8am\n  timezone: Berlin\n")
    with pytest.raises(SourceError) as error:
        load_config(path, environ={})
    message = str(error.value)
    assert str(path) in message
    assert "digest.at '8am': write a local time such as 08:00" in message
    assert "digest.timezone 'Berlin': use an IANA name" in message
    assert "digest.to 'boss' is not an email address" in message


def test_a_first_response_overdue_at_the_ceiling_is_listed_as_breached():
    # at the escalation ceiling the sweep clears the deadline and records the breach
    ticket = TicketRow(
        1, 41, "Server down", "open", 3, "default", None, "normal", "standard",
        berlin(12, 9), None, None, None, None, "x@customer.example",
    )  # fmt: skip
    breach = EventRow(1, berlin(13, 9), "sla_breached", "", "")

    [entry] = at_risk([ticket], {1: [breach]}, berlin(14, 9), 86400.0, BERLIN)

    assert (entry["number"], entry["what"], entry["breached"]) == (
        41,
        "first_response",
        True,
    )
    assert entry["due"] == "2026-01-13 09:00"


def test_the_scheduler_job_queues_the_digest_and_wakes_the_sender(week):
    woken = []
    week.clock.now = SATURDAY_8_05

    digest_job(week.runtime, lambda: woken.append(True))
    digest_job(week.runtime, lambda: woken.append(True))

    assert woken == [True]
    assert len(digests()) == 2
