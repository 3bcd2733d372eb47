"""Rebalance schedules against hand-built exchange calendars (expected dates written out or derived with the
standard library's calendar, not numpy)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qfin.backtests._schedule import rebalance_bars
from qfin.errors import DataValidationError, SpecError

# NYSE-like calendar 2023-12-26 .. 2024-04-05: weekdays minus the 2024 holidays New Year (Jan 1), MLK (Jan 15),
# Presidents' Day (Feb 19) and Good Friday (Mar 29). March 2024 ends on a Sunday and its Friday is a holiday,
# so the month's last bar is Thursday Mar 28. The data stops mid-April (an incomplete final period).
HOLIDAYS = {dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 19), dt.date(2024, 3, 29)}
DAYS = [dt.date(2023, 12, 26) + dt.timedelta(days=i) for i in range(102)]
SESSIONS = [d for d in DAYS if d.weekday() < 5 and d not in HOLIDAYS]
assert SESSIONS[-1] == dt.date(2024, 4, 5)
# Bars stamped at the 16:00 close, in microseconds like qfin's loaders.
STAMPS = np.array([np.datetime64(f"{d.isoformat()}T16:00", "us") for d in SESSIONS])


def at(*dates: str) -> list[int]:
    return [SESSIONS.index(dt.date.fromisoformat(d)) for d in dates]


def test_month_ends_including_a_month_ending_on_a_weekend_after_a_holiday():
    got = rebalance_bars(STAMPS, "monthly")
    assert got.dtype == np.int64
    assert got.tolist() == at("2023-12-29", "2024-01-31", "2024-02-29", "2024-03-28", "2024-04-05")


def test_quarterly_and_yearly_ends_and_the_last_bar_closes_the_final_period():
    assert rebalance_bars(STAMPS, "quarterly").tolist() == at("2023-12-29", "2024-03-28", "2024-04-05")
    assert rebalance_bars(STAMPS, "yearly").tolist() == at("2023-12-29", "2024-04-05")


def test_weekly_ends_are_fridays_or_the_last_session_of_a_holiday_week():
    expected = [i for i, d in enumerate(SESSIONS) if d.weekday() == 4 or d == dt.date(2024, 3, 28)]
    assert rebalance_bars(STAMPS, "weekly").tolist() == expected


def test_weekly_on_a_seven_day_calendar_ends_on_sundays():
    # Crypto-style bars every day: ISO weeks run Monday..Sunday (numpy's own "W" unit would end weeks on Wednesdays).
    days = [dt.date(2024, 1, 3) + dt.timedelta(days=i) for i in range(30)]  # Wed Jan 3 .. Thu Feb 1
    stamps = np.array([np.datetime64(d.isoformat(), "D") for d in days])
    expected = [i for i, d in enumerate(days) if d.weekday() == 6] + [len(days) - 1]
    assert rebalance_bars(stamps, "weekly").tolist() == expected


def test_daily_on_hourly_bars_takes_each_days_last_bar():
    stamps = np.array(["2024-01-02T10", "2024-01-02T15", "2024-01-03T10", "2024-01-03T12", "2024-01-03T15",
                       "2024-01-04T10"], dtype="M8[h]")
    assert rebalance_bars(stamps, "daily").tolist() == [1, 4, 5]
    assert rebalance_bars(STAMPS, "daily").tolist() == list(range(len(STAMPS)))


def test_start_bar_skips_earlier_periods_and_keeps_a_period_end_on_it():
    feb_first = at("2024-02-01")[0]
    assert rebalance_bars(STAMPS, "monthly", start_bar=feb_first).tolist() == at("2024-02-29", "2024-03-28",
                                                                                 "2024-04-05")
    jan_end = at("2024-01-31")[0]
    assert rebalance_bars(STAMPS, "monthly", start_bar=jan_end).tolist() == at("2024-01-31", "2024-02-29",
                                                                               "2024-03-28", "2024-04-05")
    last = len(STAMPS) - 1
    assert rebalance_bars(STAMPS, "quarterly", start_bar=last).tolist() == [last]


def test_bad_frequency_lists_the_accepted_ones():
    with pytest.raises(SpecError, match=r"'fortnightly' is not one of: daily, weekly, monthly, quarterly, yearly"):
        rebalance_bars(STAMPS, "fortnightly")


@pytest.mark.parametrize("start_bar", [-1, len(STAMPS), 2.0, True])
def test_bad_start_bar_names_the_range(start_bar):
    with pytest.raises(SpecError, match=rf"start_bar must be an integer bar index in \[0, {len(STAMPS) - 1}\]"):
        rebalance_bars(STAMPS, "monthly", start_bar=start_bar)


def test_unsorted_or_non_datetime_timestamps_are_rejected():
    swapped = STAMPS.copy()
    swapped[[10, 11]] = swapped[[11, 10]]
    with pytest.raises(DataValidationError, match="row 11") as info:
        rebalance_bars(swapped, "monthly")
    assert info.value.rule == "unsorted_timestamps" and info.value.column == "timestamp"
    assert info.value.rows == [11]
    with pytest.raises(SpecError, match="1-D datetime64"):
        rebalance_bars(np.arange(10), "monthly")


def test_empty_calendar_gives_no_decisions():
    assert rebalance_bars(np.array([], dtype="M8[us]"), "monthly").tolist() == []
