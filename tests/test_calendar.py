"""Business hours: when the desk is open and when a ticket's SLA runs out."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from tierdesk.rules.calendar import (
    BusinessHours,
    add_business_time,
    business_seconds_between,
    is_open,
)
from tierdesk.rules.week import parse_week

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0
OFFICE = BusinessHours("Europe/Berlin", parse_week({"mon-fri": "09:00-17:00"}))
EVERY_DAY = BusinessHours("Europe/Berlin", parse_week({"mon-sun": "09:00-17:00"}))
LUNCH_BREAK = BusinessHours(
    "Europe/Berlin",
    parse_week({"mon-thu": "08:00-12:00, 13:00-17:00", "fri": "08:00-14:00"}),
)


def berlin(*fields: int) -> datetime:
    """An aware Berlin wall-clock time."""
    return datetime(*fields, tzinfo=BERLIN)


def due(hours: BusinessHours, start: datetime, seconds: float) -> datetime:
    """The deadline as Berlin wall-clock time, which is what the tests reason in."""
    return add_business_time(hours, start, seconds).astimezone(BERLIN)


# Weekends, nights and lunch


def test_friday_afternoon_ticket_with_four_business_hours_is_due_monday_morning():
    assert due(OFFICE, berlin(2024, 3, 1, 15), 4 * HOUR) == berlin(2024, 3, 4, 11)


def test_ticket_arriving_at_night_starts_the_clock_at_next_opening():
    assert due(OFFICE, berlin(2024, 3, 5, 22, 30), 0.5 * HOUR) == berlin(
        2024, 3, 6, 9, 30
    )


def test_ticket_arriving_on_saturday_starts_the_clock_on_monday():
    assert due(OFFICE, berlin(2024, 3, 2, 11), HOUR) == berlin(2024, 3, 4, 10)


def test_work_that_fills_the_day_is_due_at_closing_time_not_next_morning():
    assert due(OFFICE, berlin(2024, 3, 4, 9), 8 * HOUR) == berlin(2024, 3, 4, 17)


def test_lunch_break_does_not_count_towards_the_sla():
    assert due(LUNCH_BREAK, berlin(2024, 3, 4, 11), 2 * HOUR) == berlin(2024, 3, 4, 14)


def test_ticket_arriving_over_lunch_starts_the_clock_after_lunch():
    assert due(LUNCH_BREAK, berlin(2024, 3, 4, 12, 15), HOUR) == berlin(2024, 3, 4, 14)


def test_short_friday_pushes_the_rest_of_the_work_to_monday():
    assert due(LUNCH_BREAK, berlin(2024, 3, 8, 13), 3 * HOUR) == berlin(2024, 3, 11, 10)


def test_the_desk_is_open_from_opening_time_until_just_before_closing_time():
    assert is_open(OFFICE, berlin(2024, 3, 4, 9))
    assert is_open(OFFICE, berlin(2024, 3, 4, 16, 59, 59, 999999))
    assert not is_open(OFFICE, berlin(2024, 3, 4, 17))
    assert not is_open(OFFICE, berlin(2024, 3, 4, 8, 59, 59))
    assert not is_open(OFFICE, berlin(2024, 3, 2, 12))
    assert not is_open(LUNCH_BREAK, berlin(2024, 3, 4, 12, 30))


def test_opening_hours_are_berlin_time_whatever_zone_the_question_comes_in():
    new_york = ZoneInfo("America/New_York")

    assert is_open(OFFICE, datetime(2024, 3, 4, 3, 30, tzinfo=new_york))
    assert not is_open(OFFICE, datetime(2024, 3, 4, 11, 30, tzinfo=new_york))


# Holidays, year boundaries, leap days


def test_christmas_holidays_are_skipped():
    hours = BusinessHours(
        "Europe/Berlin",
        OFFICE.week,
        frozenset({date(2024, 12, 24), date(2024, 12, 25), date(2024, 12, 26)}),
    )

    assert not is_open(hours, berlin(2024, 12, 24, 10))
    assert due(hours, berlin(2024, 12, 23, 16), 2 * HOUR) == berlin(2024, 12, 27, 10)


def test_ticket_before_new_year_is_due_in_the_new_year_after_the_holidays():
    hours = BusinessHours(
        "Europe/Berlin", OFFICE.week, frozenset({date(2024, 12, 31), date(2025, 1, 1)})
    )

    assert due(hours, berlin(2024, 12, 30, 16), 2 * HOUR) == berlin(2025, 1, 2, 10)


def test_leap_day_is_an_ordinary_business_day():
    assert due(OFFICE, berlin(2024, 2, 28, 16), 2 * HOUR) == berlin(2024, 2, 29, 10)
    start, end = berlin(2024, 2, 28), berlin(2024, 3, 1)
    assert business_seconds_between(OFFICE, start, end) == 16 * HOUR


# Daylight saving time


def test_spring_forward_sunday_still_has_eight_business_hours():
    start, end = berlin(2024, 3, 31), berlin(2024, 4, 1)

    assert business_seconds_between(EVERY_DAY, start, end) == 8 * HOUR
    assert due(EVERY_DAY, berlin(2024, 3, 30, 16), 2 * HOUR) == berlin(2024, 3, 31, 10)


def test_fall_back_sunday_still_has_eight_business_hours():
    start, end = berlin(2024, 10, 27), berlin(2024, 10, 28)

    assert business_seconds_between(EVERY_DAY, start, end) == 8 * HOUR
    assert due(EVERY_DAY, berlin(2024, 10, 26, 16), 2 * HOUR) == berlin(
        2024, 10, 27, 10
    )


def test_friday_ticket_is_due_monday_morning_local_time_across_the_clock_change():
    deadline = add_business_time(OFFICE, berlin(2024, 3, 29, 15), 4 * HOUR)

    assert deadline == datetime(2024, 4, 1, 9, tzinfo=UTC)  # 11:00 CEST
    assert deadline.astimezone(BERLIN) == berlin(2024, 4, 1, 11)


def test_round_the_clock_desk_counts_real_hours_on_clock_change_days():
    desk = BusinessHours.always("Europe/Berlin")

    spring = business_seconds_between(desk, berlin(2024, 3, 31), berlin(2024, 4, 1))
    autumn = business_seconds_between(desk, berlin(2024, 10, 27), berlin(2024, 10, 28))
    assert (spring, autumn) == (23 * HOUR, 25 * HOUR)
    assert due(desk, berlin(2024, 3, 30, 12), 24 * HOUR) == berlin(2024, 3, 31, 13)


def test_opening_time_skipped_by_spring_forward_opens_when_the_clocks_jump():
    hours = BusinessHours("Europe/Berlin", parse_week({"sun": "02:30-04:00"}))

    assert is_open(hours, berlin(2024, 3, 31, 3))
    start, end = berlin(2024, 3, 31), berlin(2024, 4, 1)
    assert business_seconds_between(hours, start, end) == HOUR


def test_closing_time_in_the_repeated_hour_closes_at_its_second_showing():
    hours = BusinessHours("Europe/Berlin", parse_week({"sun": "01:00-02:30"}))

    start, end = berlin(2024, 10, 27), berlin(2024, 10, 28)
    assert business_seconds_between(hours, start, end) == 2.5 * HOUR


def test_weekend_desk_in_a_zone_that_skips_midnight_loses_exactly_one_hour():
    santiago = ZoneInfo("America/Santiago")
    hours = BusinessHours("America/Santiago", parse_week({"sat-sun": "00:00-24:00"}))

    start = datetime(2024, 9, 7, tzinfo=santiago)
    end = datetime(2024, 9, 9, tzinfo=santiago)
    assert business_seconds_between(hours, start, end) == 47 * HOUR
    assert is_open(hours, datetime(2024, 9, 8, 1, tzinfo=santiago))


def test_a_day_removed_from_the_calendar_has_no_business_hours():
    # Samoa skipped Friday 2011-12-30 when it moved across the date line.
    apia = ZoneInfo("Pacific/Apia")
    hours = BusinessHours("Pacific/Apia", OFFICE.week)

    deadline = add_business_time(
        hours, datetime(2011, 12, 29, 16, tzinfo=apia), HOUR * 2
    )
    assert deadline.astimezone(apia) == datetime(2012, 1, 2, 10, tzinfo=apia)


# Round the clock, zero and long durations


def test_round_the_clock_desk_is_always_open_and_counts_every_second():
    desk = BusinessHours.always()
    start = datetime(2024, 3, 4, 10, tzinfo=UTC)

    assert is_open(desk, datetime(2024, 3, 2, 3, 33, tzinfo=UTC))
    assert add_business_time(desk, start, 3 * 24 * HOUR) == start + timedelta(days=3)


def test_zero_duration_during_opening_hours_is_due_immediately_in_utc():
    start = berlin(2024, 3, 4, 10, 15)

    deadline = add_business_time(OFFICE, start, 0)
    assert deadline == start
    assert deadline.tzinfo is UTC


def test_zero_duration_after_closing_time_is_due_at_the_next_opening():
    assert due(OFFICE, berlin(2024, 3, 4, 17), 0) == berlin(2024, 3, 5, 9)


def test_thirty_business_days_from_monday_morning_end_six_weeks_later():
    start = berlin(2024, 1, 8, 9)

    assert due(OFFICE, start, 30 * 8 * HOUR) == berlin(2024, 2, 16, 17)


def test_a_holiday_inside_a_thirty_day_sla_pushes_it_one_business_day():
    hours = BusinessHours("Europe/Berlin", OFFICE.week, frozenset({date(2024, 2, 1)}))

    assert due(hours, berlin(2024, 1, 8, 9), 30 * 8 * HOUR) == berlin(2024, 2, 19, 17)


def test_a_year_of_business_days_spans_both_clock_changes():
    start = berlin(2024, 1, 1, 9)

    # 2024 starts on a Monday and ends on a Tuesday: 52 weeks and 2 days.
    assert due(OFFICE, start, 262 * 8 * HOUR) == berlin(2024, 12, 31, 17)


# Pausing and resuming the clock


def test_paused_sla_counts_only_the_open_time_over_the_weekend():
    assert business_seconds_between(
        OFFICE, berlin(2024, 3, 1, 16), berlin(2024, 3, 4, 10)
    ) == (2 * HOUR)


def test_no_business_time_passes_when_the_end_is_not_after_the_start():
    moment = berlin(2024, 3, 4, 10)

    assert business_seconds_between(OFFICE, moment, moment) == 0
    assert business_seconds_between(OFFICE, moment, moment - timedelta(hours=1)) == 0


def test_business_time_between_instants_given_in_different_zones():
    start = datetime(2024, 3, 4, 3, tzinfo=ZoneInfo("America/New_York"))  # 09:00
    end = datetime(2024, 3, 4, 12, tzinfo=UTC)  # 13:00 Berlin

    assert business_seconds_between(OFFICE, start, end) == 4 * HOUR


CALENDARS = {
    "office with lunch and holidays": BusinessHours(
        "Europe/Berlin",
        LUNCH_BREAK.week,
        frozenset({date(2024, 12, 25), date(2025, 1, 1), date(2024, 2, 29)}),
    ),
    "round the clock in Berlin": BusinessHours.always("Europe/Berlin"),
    "weekends in Santiago": BusinessHours(
        "America/Santiago", parse_week({"sat-sun": "00:00-24:00"})
    ),
    "half an hour on Wednesdays": BusinessHours(
        "America/New_York", parse_week({"wed": "10:00-10:30"})
    ),
    "night owls across fall-back": BusinessHours(
        "Europe/Berlin",
        parse_week({"mon-sun": "00:00-02:30, 02:30-03:15, 20:00-24:00"}),
    ),
}


@pytest.mark.parametrize("hours", CALENDARS.values(), ids=CALENDARS.keys())
def test_time_added_is_the_time_counted_back_for_random_tickets(hours):
    rng = random.Random(20240229)
    first = datetime(2023, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = first + timedelta(microseconds=rng.randrange(3 * 366 * 86400 * 10**6))
        seconds = rng.choice(
            [0.0, float(rng.randrange(1, 40 * 3600)), rng.uniform(0, 60 * 8 * HOUR)]
        )

        deadline = add_business_time(hours, start, seconds)

        assert deadline >= start
        assert business_seconds_between(hours, start, deadline) == pytest.approx(
            seconds, abs=1e-6
        )
        if seconds:
            assert is_open(hours, deadline - timedelta(microseconds=1))


# Calendars that cannot work, and wrong arguments


def test_calendar_without_open_time_refuses_to_compute_a_deadline():
    closed = BusinessHours("Europe/Berlin", parse_week({"mon-sun": []}))

    with pytest.raises(ValueError, match="no open time"):
        add_business_time(closed, berlin(2024, 3, 4, 10), HOUR)
    assert not is_open(closed, berlin(2024, 3, 4, 10))
    assert business_seconds_between(closed, berlin(2024, 3, 4), berlin(2024, 4, 4)) == 0


def test_misspelt_time_zone_gets_a_suggestion():
    with pytest.raises(ValueError, match="did you mean 'Europe/Berlin'"):
        BusinessHours("Europe/Berln", OFFICE.week)


def test_week_built_in_code_is_checked_like_a_spec():
    with pytest.raises(ValueError, match="the end must be after the start"):
        BusinessHours("UTC", {0: ((time(17), time(9)),)})
    with pytest.raises(ValueError, match="must not overlap"):
        BusinessHours("UTC", {0: ((time(9), time(12)), (time(11), time(13)))})
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6 \\(Sunday\\)"):
        BusinessHours("UTC", {7: ((time(9), time(17)),)})


def test_holiday_written_with_a_time_of_day_is_refused_instead_of_never_matching():
    with pytest.raises(ValueError, match="must be a whole day such as 2026-12-25"):
        BusinessHours("UTC", OFFICE.week, frozenset({datetime(2026, 12, 25, 0, 0)}))


def test_naive_times_and_negative_durations_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2024, 3, 4, 10))
    with pytest.raises(ValueError, match="zero or more seconds"):
        add_business_time(OFFICE, berlin(2024, 3, 4, 10), -1)
