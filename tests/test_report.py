"""`tierdesk report`: a supervisor reads how the tiers and SLAs did over the week.

The week is played in tests/support/supervisor_desk.py; every figure below
is worked out by hand from it (business hours: Mon-Fri 09-17 Berlin).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from tierdesk.daemon.cli import _parser
from tierdesk.daemon.report_figures import percentile_nearest_rank
from tierdesk.daemon.supervisor_report import build_report, window_start

from tests.support.supervisor_desk import NOW, berlin, open_supervisor_desk

HOUR = 3600.0


@pytest.fixture
def week(tmp_path, db_url):
    """The desk after the week of tickets, its clock at Friday 16:00."""
    yield from open_supervisor_desk(tmp_path, db_url)


def weekly(week, by=None):
    runtime = week.runtime
    since = window_start("7d", NOW)
    return build_report(runtime.sql, runtime.snapshot.rules.sla, since, NOW, NOW, by)


def run_cli(week, capsys, *argv: str) -> str:
    args = _parser().parse_args(["report", *argv])
    assert args.handler(args, week.runtime) == 0
    return capsys.readouterr().out


def test_the_week_in_figures_median_p90_and_sla_met(week):
    total = weekly(week).total

    # t0 was opened before the window; t1-t7 in it
    assert (total.opened, total.answered, total.resolved) == (7, 5, 4)
    first = total.first_response
    # answered after 0.5, 1, 2, 6 and 12 business hours
    assert (first.median, first.p90) == (2 * HOUR, 12 * HOUR)
    # met by t1, t2, t3, t6; missed by t4 (12h) and t7 (never answered);
    # t5 has 2 of its 8 hours left and is not counted yet
    assert (first.met, first.missed, first.met_pct) == (4, 2, 66.7)
    resolution = total.resolution
    # resolved after 1.5, 4, 14 and 17 business hours
    assert (resolution.median, resolution.p90) == (9 * HOUR, 17 * HOUR)
    assert (resolution.met, resolution.missed, resolution.met_pct) == (3, 3, 50.0)


def test_tier_one_resolving_alone_shows_in_the_escalation_figures(week):
    total = weekly(week).total

    assert total.tier1_alone == 3  # t1, t2, t6
    assert total.escalations == {"1>2": 2, "2>3": 1, "3>4": 0}


def test_a_reopened_ticket_counts_in_the_reopen_rate(week):
    total = weekly(week).total

    assert (total.reopened, total.ever_resolved, total.reopen_pct) == (1, 4, 25.0)


def test_open_tickets_fall_into_age_buckets(week):
    # t5 this morning, t4 Wednesday, t7 last Saturday, t0 nine days ago
    assert weekly(week).total.backlog == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}


def test_grouped_by_tier_each_tier_has_its_own_line(week):
    groups = {g.group: g for g in weekly(week, by="tier").groups}

    assert sorted(groups) == ["tier 1", "tier 2", "tier 3"]
    assert (groups["tier 1"].opened, groups["tier 1"].tier1_alone) == (5, 3)
    assert groups["tier 2"].escalations == {"1>2": 1, "2>3": 0, "3>4": 0}
    assert groups["tier 3"].first_response.missed == 1
    assert groups["tier 1"].backlog == {"<1d": 1, "1-3d": 0, "3-7d": 1, ">7d": 1}


def test_friday_evening_ticket_answered_monday_morning_is_within_sla(week):
    friday = week.opened("late", berlin(16, 18))
    week.answered(friday, berlin(19, 9, 30))
    week.clock.now = berlin(19, 9, 30)
    runtime = week.runtime

    rep = build_report(
        runtime.sql,
        runtime.snapshot.rules.sla,
        berlin(16, 17),
        berlin(19, 10),
        berlin(19, 10),
    )

    # 63.5 hours on the wall clock, 30 minutes of office time
    assert rep.total.first_response.median == 0.5 * HOUR
    assert (rep.total.first_response.met, rep.total.first_response.missed) == (1, 0)


def test_report_command_prints_json_csv_and_a_table(week, capsys):
    data = json.loads(run_cli(week, capsys, "--json", "--by", "tier"))
    assert data["total"]["opened"] == 7
    assert data["total"]["first_response"]["median_seconds"] == 2 * HOUR
    assert data["total"]["escalations"] == {"1>2": 2, "2>3": 1, "3>4": 0}
    assert [g["group"] for g in data["groups"]] == ["tier 1", "tier 2", "tier 3"]

    rows = list(csv.DictReader(io.StringIO(run_cli(week, capsys, "--csv"))))
    assert [r["group"] for r in rows] == ["all"]
    assert rows[0]["resolution_p90_seconds"] == str(17 * HOUR)
    assert rows[0]["first_response_sla_met_pct"] == "66.7"
    assert rows[0]["backlog_over_7d"] == "1"

    table = run_cli(week, capsys, "--by", "queue").splitlines()
    assert table[1].split()[:4] == ["group", "opened", "answered", "resolved"]
    assert table[-1].split()[:4] == ["all", "7", "5", "4"]
    assert len({len(line) for line in table[1:]}) == 1  # aligned


def test_window_can_be_a_span_or_a_day():
    assert window_start("12h", NOW) == NOW - timedelta(hours=12)
    assert window_start("2026-01-01", NOW).isoformat() == "2026-01-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="write a span such as 7d"):
        window_start("last week", NOW)


def test_p90_is_the_nearest_rank():
    assert percentile_nearest_rank([5.0, 1.0, 3.0], 0.9) == 5.0
    assert percentile_nearest_rank(list(map(float, range(1, 11))), 0.9) == 9.0
    assert percentile_nearest_rank([], 0.9) is None
