"""Chronological splits and walk-forward folds: partitions, embargo, no look-ahead, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qfin.data._splits import Fold, TimeSplit, time_split, walk_forward_folds
from qfin.errors import DataValidationError

DAYS = np.arange("2020-01-01", "2020-04-10", dtype="datetime64[D]")  # 100 daily bars


def _position(day: str) -> int:
    return int((np.datetime64(day) - DAYS[0]).astype(int))


# ---------------------------------------------------------------------------------------------------- time_split

def test_time_split_partitions_without_embargo():
    split = time_split(DAYS, "2020-02-29", "2020-03-20")
    assert isinstance(split, TimeSplit)
    # Brute force: classify each timestamp by comparison.
    np.testing.assert_array_equal(split.train, np.flatnonzero(DAYS <= np.datetime64("2020-02-29")))
    np.testing.assert_array_equal(split.validation, np.flatnonzero(
        (DAYS > np.datetime64("2020-02-29")) & (DAYS <= np.datetime64("2020-03-20"))))
    np.testing.assert_array_equal(split.test, np.flatnonzero(DAYS > np.datetime64("2020-03-20")))
    everything = np.concatenate([split.train, split.validation, split.test])
    np.testing.assert_array_equal(everything, np.arange(100))
    assert split.train.dtype == np.int64


def test_time_split_embargo_drops_exactly_that_many_bars():
    plain = time_split(DAYS, "2020-02-29", "2020-03-20")
    split = time_split(DAYS, "2020-02-29", "2020-03-20", embargo=3)
    np.testing.assert_array_equal(split.train, plain.train)
    np.testing.assert_array_equal(split.validation, plain.validation[3:])
    np.testing.assert_array_equal(split.test, plain.test[3:])
    assert split.validation[0] == _position("2020-03-04") and split.test[0] == _position("2020-03-24")
    assert split.train.max() < split.validation.min() and split.validation.max() < split.test.min()


def test_time_split_without_validation_and_with_long_embargo():
    split = time_split(DAYS, "2020-03-31", embargo=2)
    assert split.validation.size == 0
    np.testing.assert_array_equal(split.test, np.arange(_position("2020-04-03"), 100))
    empty = time_split(DAYS, "2020-04-05", embargo=10)  # 4 test days, all embargoed
    assert empty.test.size == 0 and empty.train.size == _position("2020-04-05") + 1


@pytest.mark.parametrize("kind", ["numpy", "polars", "dates", "strings", "datetimes"])
def test_time_split_accepts_common_timestamp_forms(kind):
    as_dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(100)]
    data = {
        "numpy": DAYS,
        "polars": pl.Series("timestamp", as_dates, dtype=pl.Datetime("us")),
        "dates": as_dates,
        "strings": [d.isoformat() for d in as_dates],
        "datetimes": [dt.datetime(d.year, d.month, d.day, 16, 0) for d in as_dates],
    }[kind]
    split = time_split(data, dt.date(2020, 2, 29) if kind != "datetimes" else "2020-02-29T23:59",
                       np.datetime64("2020-03-20T23:59"), embargo=1)
    assert split.train.size == _position("2020-02-29") + 1
    assert split.validation[0] == _position("2020-03-02")
    assert split.test[0] == _position("2020-03-22")


def test_time_split_date_boundaries_cover_the_whole_day():
    closes = DAYS.astype("datetime64[us]") + np.timedelta64(16, "h")  # daily bars stamped at the 16:00 close
    n_feb = _position("2020-02-29") + 1
    assert time_split(closes, "2020-02-29").train.size == n_feb
    assert time_split(closes, dt.date(2020, 2, 29)).train.size == n_feb
    assert time_split(closes, np.datetime64("2020-02-29")).train.size == n_feb
    assert time_split(closes, "2020-02").train.size == n_feb  # month precision: all of February
    assert time_split(closes, dt.datetime(2020, 2, 29, 12, 0)).train.size == n_feb - 1  # before that close
    assert time_split(closes, "2020-02-29T16:00").train.size == n_feb
    ns_boundary = np.datetime64("2020-02-29T15:59:59.999999999")  # finer than the axis; still before 16:00
    assert time_split(closes, ns_boundary).train.size == n_feb - 1


def test_time_split_ties_stay_together_and_embargo_counts_bars():
    # Two symbols per day, stacked and sorted by time: the embargo removes whole bars (both rows).
    stamps = np.repeat(DAYS[:10], 2)
    split = time_split(stamps, "2020-01-04", embargo=2)
    np.testing.assert_array_equal(split.train, np.arange(8))
    np.testing.assert_array_equal(split.test, np.arange(12, 20))


def test_time_split_numeric_timestamps():
    split = time_split(np.arange(10.0), 3, 6, embargo=1)
    np.testing.assert_array_equal(split.train, [0, 1, 2, 3])
    np.testing.assert_array_equal(split.validation, [5, 6])
    np.testing.assert_array_equal(split.test, [8, 9])


@pytest.mark.parametrize(("call", "rule", "text"), [
    (lambda: time_split(DAYS[::-1], "2020-02-01"), "unsorted_timestamps", "row 1"),
    (lambda: time_split(np.r_[DAYS[:5], DAYS[3:10]], "2020-01-03"), "unsorted_timestamps", "row 5"),
    (lambda: time_split(DAYS, "2020-03-01", "2020-02-01"), "invalid_argument", "later than train_end"),
    (lambda: time_split(DAYS, "2020-03-01", "2020-03-01"), "invalid_argument", "later than train_end"),
    (lambda: time_split(DAYS, "not a date"), "invalid_argument", "train_end"),
    (lambda: time_split(DAYS, 5), "invalid_argument", "train_end"),
    (lambda: time_split(DAYS, "2020-03-01", embargo=-1), "invalid_argument", "embargo"),
    (lambda: time_split(["2020-01-01", None, "2020-01-03"], "2020-01-01"), "missing_timestamps", "[1]"),
    (lambda: time_split(np.zeros((3, 2)), 1.0), "invalid_timestamps", "1-D"),
    (lambda: time_split(np.arange(5.0), "2020-01-01"), "invalid_argument", "finite number"),
])
def test_time_split_errors(call, rule, text):
    with pytest.raises(DataValidationError) as info:
        call()
    assert info.value.rule == rule and text in str(info.value)


# ---------------------------------------------------------------------------------------------------- walk-forward

def test_rolling_folds_by_hand():
    folds = walk_forward_folds(DAYS[:20], train_size=8, test_size=3, embargo=1)
    # Hand-built: train [3k, 3k+8), test [3k+9, 3k+12) while 3k+12 <= 20, so k = 0, 1, 2.
    assert len(folds) == 3 and all(isinstance(f, Fold) for f in folds)
    for k, fold in enumerate(folds):
        np.testing.assert_array_equal(fold.train, np.arange(3 * k, 3 * k + 8))
        np.testing.assert_array_equal(fold.test, np.arange(3 * k + 9, 3 * k + 12))
        assert fold.train_start == DAYS[3 * k] and fold.train_end == DAYS[3 * k + 7]
        assert fold.test_start == DAYS[3 * k + 9] and fold.test_end == DAYS[3 * k + 11]


def test_expanding_folds_grow_and_rolling_folds_keep_size():
    rolling = walk_forward_folds(DAYS, train_size=30, test_size=10, step=15)
    expanding = walk_forward_folds(DAYS, train_size=30, test_size=10, step=15, expanding=True)
    assert len(rolling) == len(expanding) == 5  # (100 - 40) // 15 + 1
    assert [f.train.size for f in rolling] == [30] * 5
    assert [f.train.size for f in expanding] == [30, 45, 60, 75, 90]
    assert all(f.train[0] == 0 for f in expanding)
    for r, e in zip(rolling, expanding, strict=True):
        np.testing.assert_array_equal(r.test, e.test)
        assert r.train[-1] == e.train[-1]


def test_n_folds_keeps_the_most_recent():
    every = walk_forward_folds(DAYS, train_size=20, test_size=10)
    last_two = walk_forward_folds(DAYS, train_size=20, test_size=10, n_folds=2)
    assert len(every) == 8
    for a, b in zip(every[-2:], last_two, strict=True):
        np.testing.assert_array_equal(a.train, b.train)
        np.testing.assert_array_equal(a.test, b.test)


def test_folds_are_frozen():
    fold = walk_forward_folds(DAYS, 10, 5)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fold.train = np.arange(3)
    with pytest.raises(ValueError, match="read-only"):
        fold.test[0] = 0


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 120), train_size=st.integers(1, 40), test_size=st.integers(1, 20),
       step=st.one_of(st.none(), st.integers(1, 15)), expanding=st.booleans(), embargo=st.integers(0, 5))
def test_walk_forward_invariants(n, train_size, test_size, step, expanding, embargo):
    stamps = np.arange(n) * 2.5
    need = train_size + embargo + test_size
    if n < need:
        with pytest.raises(DataValidationError, match="too few"):
            walk_forward_folds(stamps, train_size, test_size, step, expanding, embargo)
        return
    folds = walk_forward_folds(stamps, train_size, test_size, step, expanding, embargo)
    stride = test_size if step is None else step
    # Brute force count: fold starts 0, stride, 2 stride, ... while the test window ends inside the data.
    assert len(folds) == sum(1 for start in range(0, n) if start * stride + need <= n)
    for k, fold in enumerate(folds):
        assert fold.test.size == test_size
        assert fold.train.size == (k * stride + train_size if expanding else train_size)
        assert fold.test.min() - fold.train.max() == embargo + 1  # exactly `embargo` bars skipped
        assert stamps[fold.test].min() > stamps[fold.train].max()  # no look-ahead in time either
        assert np.all(np.diff(fold.train) == 1) and np.all(np.diff(fold.test) == 1)
        assert fold.test.max() < n


@pytest.mark.parametrize(("kwargs", "column", "text"), [
    (dict(train_size=80, test_size=15, embargo=6), "timestamp", "101 bars are needed"),
    (dict(train_size=50, test_size=10, n_folds=6), "n_folds", "at most 5 fit"),
    (dict(train_size=0, test_size=10), "train_size", ">= 1"),
    (dict(train_size=10, test_size=2.5), "test_size", "integer"),
    (dict(train_size=10, test_size=5, step=0), "step", ">= 1"),
    (dict(train_size=10, test_size=5, embargo=-2), "embargo", ">= 0"),
])
def test_walk_forward_errors(kwargs, column, text):
    with pytest.raises(DataValidationError) as info:
        walk_forward_folds(DAYS, **kwargs)
    assert info.value.column == column and text in str(info.value)


def test_walk_forward_rejects_duplicate_and_unsorted_timestamps():
    with pytest.raises(DataValidationError, match="row 2 .* is a duplicate of row 1") as info:
        walk_forward_folds(np.repeat(DAYS[:30], 2)[1:], 5, 2)
    assert info.value.rule == "unsorted_timestamps" and info.value.rows == [2]
    with pytest.raises(DataValidationError, match="earlier than"):
        walk_forward_folds(np.r_[DAYS[10:40], DAYS[:10]], 5, 2)
