"""The business calendar and the deadline policy arithmetic (pure, no database).

Dates are checked against the State Council's 2026 notice: Mid-autumn 25–27 Sep off;
National Day 1–7 Oct off with make-up working days Sun 20 Sep and Sat 10 Oct.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import hotline.calendar as calendar_module
from hotline.calendar import BusinessCalendar, parse_hours
from hotline.deadlines.policy import Clock, NoRule, Pause, Rule, TimeUnit, due, fraction_point, pick

SH = ZoneInfo("Asia/Shanghai")
cal = BusinessCalendar()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


# ------------------------------------------------------------ working days


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2026, 9, 20), True),  # Sunday, make-up day for National Day
        (date(2026, 9, 25), False),  # Friday, Mid-autumn
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),  # Wednesday, still National Day
        (date(2026, 10, 10), True),  # Saturday, make-up day
        (date(2026, 10, 11), False),  # Sunday
        (date(2026, 11, 23), True),  # an ordinary Monday
    ],
)
def test_official_working_days(day: date, workday: bool) -> None:
    assert cal.is_workday(day) is workday


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2026, 9, 29, 10), 1, at(2026, 9, 29, 17, 30)),  # 含本数: the start day counts
        (at(2026, 9, 29, 10), 2, at(2026, 9, 30, 17, 30)),
        (at(2026, 9, 29, 10), 3, at(2026, 10, 8, 17, 30)),  # seven days of National Day skipped
        (at(2026, 9, 29, 10), 5, at(2026, 10, 10, 17, 30)),  # the make-up Saturday is a working day
        (at(2026, 9, 29, 10), 6, at(2026, 10, 12, 17, 30)),  # Sunday 11 Oct is not
        (at(2026, 9, 30, 18), 1, at(2026, 10, 8, 17, 30)),  # after hours: the start day does not count
        (at(2026, 9, 30, 17, 29), 1, at(2026, 9, 30, 17, 30)),  # a minute before close still counts
        (at(2026, 9, 19, 10), 1, at(2026, 9, 20, 17, 30)),  # Saturday → the make-up Sunday
        (at(2026, 9, 24, 9), 2, at(2026, 9, 28, 17, 30)),  # across Mid-autumn and its weekend
        (at(2026, 11, 20, 16), 2, at(2026, 11, 23, 17, 30)),  # Friday → Monday
        (at(2026, 11, 21, 9), 1, at(2026, 11, 23, 17, 30)),  # Saturday → Monday
        # a complaint's 15: 29, 30 Sep; 8, 9, 10 (Sat), 12–16, 19–23 Oct
        (at(2026, 9, 29, 10), 15, at(2026, 10, 23, 17, 30)),
    ],
)
def test_add_working_days(start: datetime, days: int, expected: datetime) -> None:
    assert cal.add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2026, 11, 24, 11), 2, at(2026, 11, 24, 14, 30)),  # lunch 12:00–13:30 does not count
        (at(2026, 11, 24, 11), 1, at(2026, 11, 24, 12)),  # used up exactly at noon: noon, not 13:30
        (at(2026, 11, 24, 12, 30), 1, at(2026, 11, 24, 14, 30)),  # dispatched at lunch: starts at 13:30
        (at(2026, 11, 20, 16), 2, at(2026, 11, 23, 9)),  # Friday 1.5 h + Monday 0.5 h
        (at(2026, 11, 24, 20), 2, at(2026, 11, 25, 10, 30)),  # dispatched in the evening
        (at(2026, 9, 30, 16), 2, at(2026, 10, 8, 9)),  # over the whole National Day holiday
    ],
)
def test_add_working_hours(start: datetime, hours: int, expected: datetime) -> None:
    assert cal.add_working_time(start, timedelta(hours=hours)) == expected


def test_working_time_between() -> None:
    assert cal.working_time_between(at(2026, 11, 24, 11), at(2026, 11, 24, 14)) == timedelta(hours=1, minutes=30)
    assert cal.working_time_between(at(2026, 11, 20, 16), at(2026, 11, 23, 9)) == timedelta(hours=2)
    assert cal.working_time_between(at(2026, 10, 1, 9), at(2026, 10, 7, 18)) == timedelta(0)  # all holiday
    assert cal.working_time_between(at(2026, 11, 24, 14), at(2026, 11, 24, 11)) == timedelta(0)  # backwards
    # a whole working day is 7.5 hours
    assert cal.working_time_between(at(2026, 11, 24, 0), at(2026, 11, 25, 0)) == timedelta(hours=7, minutes=30)


def test_results_are_in_shanghai_time_whatever_the_input_zone() -> None:
    utc_start = datetime(2026, 11, 24, 3, 0, tzinfo=ZoneInfo("UTC"))  # 11:00 in Shanghai
    result = cal.add_working_time(utc_start, timedelta(hours=2))
    assert result == at(2026, 11, 24, 14, 30) and result.tzinfo == SH


def test_uncovered_year_falls_back_to_weekends_with_one_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The warning is once per year and process: forget the years earlier tests (any order) warned of.
    monkeypatch.setattr(calendar_module, "_WARNED_YEARS", set())
    fresh = BusinessCalendar()
    with caplog.at_level(logging.WARNING, logger="hotline.calendar"):
        assert fresh.is_workday(date(2031, 1, 6)) is True  # Monday
        assert fresh.is_workday(date(2031, 1, 4)) is False  # Saturday
        assert fresh.add_working_days(at(2031, 1, 3, 10), 2) == at(2031, 1, 6, 17, 30)
    warnings = [r for r in caplog.records if "weekends only" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].year == 2031  # type: ignore[attr-defined]
    assert not fresh.covered(2031) and fresh.covered(2026)


def test_overrides_win_over_the_package() -> None:
    # e.g. a centre loads the 2027 notice before the package has it, or a local holiday
    custom = cal.with_overrides({date(2026, 11, 23): False, date(2026, 11, 22): True})
    assert custom.add_working_days(at(2026, 11, 21, 10), 1) == at(2026, 11, 22, 17, 30)
    assert custom.add_working_days(at(2026, 11, 22, 18), 1) == at(2026, 11, 24, 17, 30)
    assert cal.is_workday(date(2026, 11, 23))  # the original is untouched


def test_custom_working_hours() -> None:
    night = BusinessCalendar(parse_hours("09:00-17:00"))
    assert night.add_working_time(at(2026, 11, 24, 16), timedelta(hours=2)) == at(2026, 11, 25, 10)
    assert night.add_working_days(at(2026, 11, 24, 16), 1) == at(2026, 11, 24, 17)


@pytest.mark.parametrize(
    "text", ["", "8:30", "08:30-12:00,11:00-13:00", "12:00-08:30", "25:00-26:00", "08:30-12:00;13:30-17:30"]
)
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(text)


def test_zero_and_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(at(2026, 11, 24, 9), 0)


# ------------------------------------------------------------ policy arithmetic


def test_urgent_deadlines_run_on_the_clock_through_nights_and_holidays() -> None:
    assert due(cal, at(2026, 10, 3, 23, 50), 30, TimeUnit.MINUTES) == at(2026, 10, 4, 0, 20)
    assert due(cal, at(2026, 10, 3, 23), 24, TimeUnit.HOURS) == at(2026, 10, 4, 23)
    assert due(cal, at(2026, 10, 3, 23), 7, TimeUnit.DAYS) == at(2026, 10, 10, 23)
    assert due(cal, at(2026, 10, 3, 23), 2, TimeUnit.WORKING_HOURS) == at(2026, 10, 8, 10, 30)
    assert due(cal, at(2026, 10, 3, 23), 2, TimeUnit.WORKING_DAYS) == at(2026, 10, 9, 17, 30)


def test_warning_point_is_eighty_percent_of_working_time() -> None:
    start, end = at(2026, 11, 20, 16), at(2026, 11, 23, 9)  # 2 working hours over a weekend
    # 80 % of 2 h = 96 min: 90 on Friday, 6 on Monday morning
    assert fraction_point(cal, start, end, working=True, share=0.8) == at(2026, 11, 23, 8, 36)
    assert fraction_point(cal, start, end, working=False, share=0.5) == start + (end - start) / 2


def test_shift_by_suspended_working_time() -> None:
    # suspended Friday 17:00 → Monday 10:00: 0.5 h Friday + 1.5 h Monday = 2 working hours
    pause = Pause.between(cal, at(2026, 11, 20, 17), at(2026, 11, 23, 10))
    assert pause.shift(at(2026, 11, 24, 17, 30), working=True) == at(2026, 11, 25, 10, 30)
    assert pause.shift(at(2026, 11, 24, 17, 30), working=False) == at(2026, 11, 27, 10, 30)


RULES = [
    Rule(1, Clock.REPLY, 10, TimeUnit.WORKING_DAYS),
    Rule(2, Clock.REPLY, 2, TimeUnit.WORKING_DAYS, kind="consult"),
    Rule(3, Clock.REPLY, 15, TimeUnit.WORKING_DAYS, kind="complaint"),
    Rule(4, Clock.REPLY, 5, TimeUnit.WORKING_DAYS, category_prefix="01"),
    Rule(5, Clock.REPLY, 3, TimeUnit.WORKING_DAYS, category_prefix="0101"),
    Rule(6, Clock.REPLY, 24, TimeUnit.HOURS, urgency="urgent"),
    Rule(7, Clock.SIGN, 2, TimeUnit.WORKING_HOURS),
]


@pytest.mark.parametrize(
    ("kind", "category", "urgency", "rule_id"),
    [
        ("help", "0501", "normal", 1),  # only the catch-all
        ("consult", "0501", "normal", 2),  # kind
        ("complaint", "0102", "normal", 4),  # a category prefix beats the kind
        ("complaint", "010101", "normal", 5),  # the longer prefix beats the shorter
        ("complaint", "010101", "urgent", 6),  # urgency beats everything
        ("complaint", None, "normal", 3),  # no category: kind
    ],
)
def test_most_specific_rule_wins(kind: str, category: str | None, urgency: str, rule_id: int) -> None:
    assert pick(RULES, Clock.REPLY, kind, category, urgency).id == rule_id


def test_no_matching_rule_is_an_error() -> None:
    with pytest.raises(NoRule):
        pick(RULES, Clock.VISIT, "help", None, "normal")
