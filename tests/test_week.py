"""Opening hours as admins write them, read into a week (rules/week.py)."""

from __future__ import annotations

from datetime import time

import pytest
from tierdesk.rules.calendar import BusinessHours
from tierdesk.rules.week import parse_week


def test_office_hours_spec_opens_weekdays_only():
    week = parse_week({"mon-fri": "09:00-17:00"})

    assert week == {day: ((time(9), time(17)),) for day in range(5)}


def test_spec_with_lunch_break_and_a_closed_saturday():
    week = parse_week(
        {"mon-thu": "08:00-12:00, 13:00-17:00", "fri": "08:00-14:00", "sat": []}
    )

    assert week[0] == ((time(8), time(12)), (time(13), time(17)))
    assert week[4] == ((time(8), time(14)),)
    assert 5 not in week


def test_midnight_at_the_end_of_the_day_is_written_24_00():
    assert parse_week({"mon-sun": "00:00-24:00"}) == BusinessHours.always().week


def test_later_key_for_a_day_replaces_the_earlier_one():
    week = parse_week({"mon-fri": "09:00-17:00", "FRI": "09:00-13:00", "Wed": "closed"})

    assert week[4] == ((time(9), time(13)),)
    assert 2 not in week


def test_spec_accepts_lists_full_day_names_and_comma_separated_days():
    week = parse_week({"Saturday, sun": ["10:00-12:00", "14:00-16:00"]})

    assert week == {
        5: ((time(10), time(12)), (time(14), time(16))),
        6: ((time(10), time(12)), (time(14), time(16))),
    }


def test_calendars_that_differ_only_in_spelling_are_equal():
    spelled_out = BusinessHours(
        "UTC", parse_week({"mon-fri": "09:00-17:00", "sat": []})
    )
    short = BusinessHours("UTC", parse_week({"mon-fri": "09:00-17:00"}))

    assert spelled_out == short
    assert len({spelled_out, short}) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"mon-fry": "09:00-17:00"},
            "'mon-fry': unknown day 'fry' (did you mean 'fri'?)",
        ),
        (
            {"fri-mon": "09:00-17:00"},
            "wraps past Sunday; weeks run mon-sun, so write 'fri-sun, mon'",
        ),
        ({"mon": "09:00-25:00"}, "'09:00-25:00': hours must be 00:00-24:00"),
        ({"mon": "09:00-17:60"}, "'09:00-17:60': hours must be 00:00-24:00"),
        ({"mon": "17:00-09:00"}, "'17:00-09:00': the end must be after the start"),
        ({"mon": "08:00-12:00, 11:00-17:00"}, "08:00-12:00 overlaps 11:00-17:00"),
        ({"mon": "9-5"}, "'9-5' is not opening hours; write HH:MM-HH:MM"),
        ({"mon": 9}, "expected hours such as '09:00-17:00'"),
        ({"mon-": "09:00-17:00"}, "a day name is missing"),
    ],
)
def test_mistakes_in_a_week_spec_say_what_to_fix(spec, message):
    with pytest.raises(ValueError) as error:
        parse_week(spec)

    assert message in str(error.value)
