"""Benchmark-relative statistics and drawdown periods against empyrical-reloaded 0.7.1 and quantstats 0.0.86 on
the same returns: Coca-Cola's daily simple returns (strategy) and the equal-weighted daily mean of the 20
`sp500_stocks` (benchmark), 2010-01-04 .. 2014-12-31, 1,257 returns. The peers' figures were produced in a separate
venv with ``empyrical.beta/alpha/up_capture/down_capture(r, b)``, ``quantstats.stats.greeks``,
``quantstats.stats.information_ratio`` and ``quantstats.stats.drawdown_details(to_drawdown_series(r))``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from qfin.data import load_dataset
from qfin.errors import DataValidationError
from qfin.risk import benchmark_statistics, drawdown_periods

EMPYRICAL = {"beta": 0.6434570901806028, "alpha": 0.029619853026827014, "up_capture": 0.4365485636804321,
             "down_capture": 0.7890413738984834}
QUANTSTATS_BETA = 0.6434570901806039
QUANTSTATS_IR_PER_PERIOD = -0.010097314118751964  # quantstats does not annualise its information ratio
TRACKING_ERROR = 0.13048702166283369  # pandas (r - b).std() * sqrt(252)
# quantstats drawdown_details sorted by max drawdown: start, valley, end (the last bar under water), depth %
QUANTSTATS_WORST = [
    ("2013-05-17", "2013-10-07", "2014-06-17", -12.792822),
    ("2010-01-15", "2010-05-26", "2010-07-30", -11.624077),
    ("2012-07-31", "2012-11-14", "2013-03-19", -10.615962),
    ("2014-12-01", "2014-12-16", "2014-12-31", -9.902788),  # not recovered: its end is the last bar
    ("2011-09-19", "2011-11-25", "2012-03-12", -9.111498),
]


@pytest.fixture(scope="module")
def ko_and_market():
    frame = load_dataset("sp500_stocks").filter(pl.col("timestamp").is_between(dt.datetime(2010, 1, 1),
                                                                               dt.datetime(2014, 12, 31)))
    close = frame.drop("timestamp").to_numpy()
    returns = close[1:] / close[:-1] - 1.0
    ko = returns[:, frame.columns[1:].index("KO")]
    days = frame["timestamp"].to_numpy()[1:].astype("M8[D]").astype(str)
    return ko, returns.mean(axis=1), days


def test_statistics_agree_with_empyrical_and_quantstats(ko_and_market):
    ko, market, _ = ko_and_market
    got = benchmark_statistics(ko, market)
    for key, value in EMPYRICAL.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    assert got["beta"] == pytest.approx(QUANTSTATS_BETA, rel=1e-12)
    assert got["information_ratio"] == pytest.approx(QUANTSTATS_IR_PER_PERIOD * np.sqrt(252), rel=1e-12)
    assert got["tracking_error"] == pytest.approx(TRACKING_ERROR, rel=1e-12)


def test_worst_five_drawdowns_are_quantstats_periods(ko_and_market):
    ko, _, days = ko_and_market
    periods = drawdown_periods(ko, top=5)
    assert len(periods) == 5
    for period, (start, valley, end, depth) in zip(periods, QUANTSTATS_WORST, strict=True):
        assert (days[period.start], days[period.trough]) == (start, valley)
        last_under = period.start + period.length - 1
        assert days[last_under] == end
        if period.recovery is None:
            assert last_under == len(ko) - 1
        else:
            assert period.recovery == last_under + 1
        assert period.depth * 100 == pytest.approx(depth, abs=5e-7)


def test_closed_forms_on_a_planted_series():
    # r = 0.001 + 2 b exactly: beta 2, alpha (1.001)^252 - 1, tracking error std(0.001 + b) sqrt(252)
    b = np.array([0.01, -0.02, 0.015, -0.005, 0.0, 0.02, -0.01])
    r = 0.001 + 2.0 * b
    got = benchmark_statistics(r, b, periods_per_year=252)
    assert got["beta"] == pytest.approx(2.0, rel=1e-12)
    assert got["alpha"] == pytest.approx(1.001 ** 252 - 1.0, rel=1e-9)
    assert got["tracking_error"] == pytest.approx(np.std(0.001 + b, ddof=1) * np.sqrt(252), rel=1e-12)


def test_drawdown_periods_by_hand():
    # values 1.1, 0.99, 1.1 (recovered at bar 2), 1.21, 0.605 (to the end): two periods, the deeper first
    r = np.array([0.1, -0.1, 1.1 / 0.99 - 1.0, 0.1, -0.5])
    worst, first = drawdown_periods(r, top=None)
    assert (worst.start, worst.trough, worst.recovery, worst.length) == (4, 4, None, 1)
    assert worst.depth == pytest.approx(-0.5, rel=1e-12)
    assert (first.start, first.trough, first.recovery, first.length) == (1, 1, 2, 1)
    assert first.depth == pytest.approx(-0.1, rel=1e-12)
    assert drawdown_periods(np.full(4, 0.01)) == []


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(DataValidationError, match="same bars"):
        benchmark_statistics(np.zeros(5), np.zeros(4))
    with pytest.raises(DataValidationError, match="NaN"):
        benchmark_statistics(np.array([0.1, np.nan, 0.0]), np.zeros(3))
    flat = benchmark_statistics(np.array([0.01, 0.02, -0.01]), np.zeros(3))
    assert np.isnan(flat["beta"]) and np.isnan(flat["up_capture"])
