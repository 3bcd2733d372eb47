"""Time-ordered train/validation/test splits and walk-forward folds.

Financial data must be split along time, never shuffled: a model evaluated on bars that precede some of
its training bars has seen the future. Two tools live here:

- :func:`time_split` cuts one sorted timestamp axis at calendar dates into train / validation / test;
- :func:`walk_forward_folds` slides (or grows) a training window of a fixed number of bars, each followed by
  a test window, as in walk-forward analysis (Pardo, *The Evaluation and Optimization of Trading
  Strategies*, 2008, ch. 11).

Both return positional index arrays (``int64``) into the timestamp sequence they were given, so the same
indices select rows of any frame aligned with it. An ``embargo`` of ``k`` bars drops the first ``k``
bars after each boundary, so features or labels computed over a short look-back/forward window cannot
leak across it (the "embargo" of López de Prado, *Advances in Financial Machine Learning*, 2018, §7.4.2).
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataValidationError

__all__ = ["Fold", "TimeSplit", "time_split", "walk_forward_folds"]

# Microseconds cover years 290,000 BC .. 294,000 AD and match polars' default Datetime unit.
_UNIT = "datetime64[us]"


def _read_only(values: Any) -> np.ndarray:
    view = np.asarray(values, dtype=np.int64).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class TimeSplit:
    """Positional indices of a chronological train / validation / test split.

    Attributes
    ----------
    train, validation, test : numpy.ndarray of int64
        Increasing row positions (read-only) into the timestamps given to :func:`time_split`. ``validation`` is empty
        when no ``validation_end`` was given; any part may be empty when no timestamp falls into it.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "validation", "test"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))


@dataclass(frozen=True, eq=False)
class Fold:
    """One walk-forward fold: a training window followed (after the embargo) by a test window.

    Attributes
    ----------
    train, test : numpy.ndarray of int64
        Contiguous, increasing row positions (read-only); every test position is greater than every train position.
    train_start, train_end, test_start, test_end :
        The first and last timestamp of each window (inclusive), as ``numpy.datetime64[us]`` for date-like
        input or as numbers for numeric input.
    """

    train: np.ndarray
    test: np.ndarray
    train_start: Any
    train_end: Any
    test_start: Any
    test_end: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", _read_only(self.train))
        object.__setattr__(self, "test", _read_only(self.test))


def _as_time_axis(timestamps: Any) -> np.ndarray:
    """Turn timestamps (numpy, polars/pandas Series, list of dates/datetimes/str, or numbers) into a 1-D array.

    Date-like values become ``datetime64[us]``; integer and float values stay numeric.
    """
    if hasattr(timestamps, "to_numpy") and not isinstance(timestamps, np.ndarray):
        values = timestamps.to_numpy()
    else:
        values = timestamps
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"timestamps could not be read as a 1-D array ({exc}); pass a sorted 1-D sequence of dates, "
            "datetimes, ISO strings, numpy datetime64 values, or numbers",
            rule="invalid_timestamps", column="timestamp") from None
    if arr.ndim != 1:
        raise DataValidationError(
            f"timestamps must be 1-D, got an array of shape {arr.shape}",
            rule="invalid_timestamps", column="timestamp")
    if arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.flatnonzero(~np.isfinite(arr))[:5].tolist()
            raise DataValidationError(
                f"timestamps contain NaN or inf at rows {bad}; every timestamp must be a finite value",
                rule="missing_timestamps", column="timestamp", rows=bad)
        return arr
    if arr.dtype.kind == "M":
        out = arr.astype(_UNIT)
    else:
        try:
            out = np.array([_as_datetime64(v) for v in arr.tolist()], dtype=_UNIT)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"timestamps could not be read as dates ({exc}); pass dates, datetimes, ISO strings "
                "such as '2015-12-31', numpy datetime64 values, or numbers",
                rule="invalid_timestamps", column="timestamp") from None
    missing = np.isnat(out)
    if missing.any():
        bad = np.flatnonzero(missing)[:5].tolist()
        raise DataValidationError(
            f"timestamps contain missing values (NaT/None) at rows {bad}; every timestamp must be set",
            rule="missing_timestamps", column="timestamp", rows=bad)
    return out


def _as_datetime64(value: Any) -> np.datetime64:
    """One date-like value as ``datetime64`` at its own precision (a date or ``'2015-12-31'`` -> days).

    Timezone-aware datetimes are converted to UTC.
    """
    if value is None:
        return np.datetime64("NaT")
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    if hasattr(value, "to_datetime64"):  # pandas.Timestamp
        value = value.to_datetime64()
    if isinstance(value, np.datetime64):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, str)):
        return np.datetime64(value)
    raise TypeError(f"{type(value).__name__} is not a date")


def _as_boundary(value: Any, axis: np.ndarray, name: str) -> tuple[Any, str]:
    """A split boundary as ``(key, side)`` for ``np.searchsorted(axis, key, side)`` = rows with ``t <= value``.

    A date-like boundary covers its whole period at its own precision: ``'2015-12-31'`` or a ``date`` keeps
    every timestamp of that day, ``'2015-12'`` the whole month. It is turned into the exclusive bound
    "start of the next period" so intraday timestamps compare correctly.
    """
    if axis.dtype.kind in "iuf":
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value):
            return value, "right"
        raise DataValidationError(
            f"{name}={value!r} cannot be compared with numeric timestamps; pass a finite number",
            rule="invalid_argument", column=name)
    try:
        if isinstance(value, numbers.Real) or value is None:
            raise TypeError("a number is not a date")
        point = _as_datetime64(value)
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{name}={value!r} is not a date; pass a date, datetime, ISO string such as '2015-12-31' "
            "or numpy datetime64",
            rule="invalid_argument", column=name) from None
    if np.isnat(point):
        raise DataValidationError(f"{name} is missing (NaT); pass a date", rule="invalid_argument", column=name)
    unit, _ = np.datetime_data(point.dtype)
    if unit in ("ns", "ps", "fs", "as"):  # finer than the axis: t <= x  <=>  t <= floor_us(x)
        point, unit = point.astype(_UNIT), "us"
    exclusive = (point + np.timedelta64(1, unit)).astype(_UNIT)
    return exclusive, "left"


def _check_sorted(axis: np.ndarray, strict: bool) -> None:
    if axis.size < 2:
        return
    step = axis[1:] > axis[:-1] if strict else axis[1:] >= axis[:-1]
    if not step.all():
        row = int(np.flatnonzero(~step)[0]) + 1
        what = "increasing (no duplicates)" if strict else "sorted in non-decreasing order"
        found = "a duplicate of" if axis[row] == axis[row - 1] else "earlier than"
        raise DataValidationError(
            f"timestamps must be {what}: row {row} ({axis[row]}) is {found} row {row - 1} ({axis[row - 1]}); "
            "sort the data by time (and de-duplicate) first",
            rule="unsorted_timestamps", column="timestamp", rows=[row])


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataValidationError(
            f"{name} must be an integer number of bars >= {minimum}, got {value!r}",
            rule="invalid_argument", column=name)
    if value < minimum:
        raise DataValidationError(
            f"{name} must be an integer number of bars >= {minimum}, got {value}",
            rule="invalid_argument", column=name)
    return int(value)


def _drop_leading_bars(idx: np.ndarray, axis: np.ndarray, embargo: int) -> np.ndarray:
    """Drop the rows of the first ``embargo`` distinct timestamps of a part (ties are dropped together)."""
    if embargo == 0 or idx.size == 0:
        return idx
    distinct = np.unique(axis[idx])
    if embargo >= distinct.size:
        return idx[:0]
    return idx[axis[idx] >= distinct[embargo]]


def time_split(timestamps: Sequence[Any] | np.ndarray | Any, train_end: Any, validation_end: Any = None,
               embargo: int = 0) -> TimeSplit:
    """Split a sorted time axis at calendar boundaries into train, validation and test positions.

    train = ``t <= train_end``; validation = ``train_end < t <= validation_end``; test = the rest
    (``t > validation_end``, or ``t > train_end`` when no ``validation_end`` is given).

    Parameters
    ----------
    timestamps : sequence
        Sorted (non-decreasing) 1-D timestamps: numpy ``datetime64``, a polars or pandas Series, a list
        of ``date``/``datetime``/ISO strings, or numbers. Equal timestamps (several symbols on one bar) always
        land in the same part. Timezone-aware values are compared in UTC.
    train_end : date-like or number
        Last timestamp (inclusive) of the training part. A date-like boundary is read at its own
        precision and covers that whole period: ``"2015-12-31"`` or ``datetime.date(2015, 12, 31)`` keeps
        every bar of that day (16:00 closes included), ``"2015-12"`` the whole month, while
        ``datetime(2015, 12, 31, 12, 0)`` stops at noon.
    validation_end : date-like or number, optional
        Last timestamp (inclusive, same reading) of the validation part; must be later than ``train_end``.
    embargo : int, default 0
        Number of bars (distinct timestamps) dropped at the start of the validation part and of the test
        part, so that look-back or look-forward windows of up to ``embargo`` bars cannot straddle a boundary.

    Returns
    -------
    TimeSplit
        ``train``, ``validation``, ``test`` as increasing ``int64`` positions into ``timestamps``.

    Raises
    ------
    DataValidationError
        Unsorted or missing timestamps, boundaries that are not dates (or numbers), ``validation_end`` not
        after ``train_end``, a negative ``embargo``.
    """
    axis = _as_time_axis(timestamps)
    _check_sorted(axis, strict=False)
    embargo = _check_count(embargo, "embargo", 0)
    t_end, t_side = _as_boundary(train_end, axis, "train_end")
    positions = np.arange(axis.size, dtype=np.int64)
    n_train = int(np.searchsorted(axis, t_end, side=t_side))
    if validation_end is None:
        n_val_end = n_train
    else:
        v_end, v_side = _as_boundary(validation_end, axis, "validation_end")
        if not v_end > t_end:
            raise DataValidationError(
                f"validation_end ({validation_end!r}) must be later than train_end ({train_end!r})",
                rule="invalid_argument", column="validation_end")
        n_val_end = int(np.searchsorted(axis, v_end, side=v_side))
    train = positions[:n_train]
    validation = _drop_leading_bars(positions[n_train:n_val_end], axis, embargo)
    test = _drop_leading_bars(positions[n_val_end:], axis, embargo)
    return TimeSplit(train=train, validation=validation, test=test)


def walk_forward_folds(timestamps: Sequence[Any] | np.ndarray | Any, train_size: int, test_size: int,
                       step: int | None = None, expanding: bool = False, embargo: int = 0,
                       n_folds: int | None = None) -> list[Fold]:
    """Walk-forward folds: a training window of bars, an embargo gap, then a test window; repeat shifted.

    Fold ``k`` (from 0) has, in bar positions,

    - rolling: train ``[k*step, k*step + train_size)``; expanding: train ``[0, k*step + train_size)``,
    - test ``[k*step + train_size + embargo, k*step + train_size + embargo + test_size)``,

    and folds are produced while the test window fits in the data. Bars after the last full test window
    are not used.

    Parameters
    ----------
    timestamps : sequence
        Strictly increasing 1-D timestamps (one per bar), in any form :func:`time_split` accepts.
    train_size : int
        Bars in the (first) training window, >= 1.
    test_size : int
        Bars in each test window, >= 1.
    step : int, optional
        Bars between the starts of consecutive folds, >= 1; defaults to ``test_size`` (test windows tile).
    expanding : bool, default False
        Grow the training window from bar 0 instead of sliding it.
    embargo : int, default 0
        Bars skipped between the end of training and the start of testing.
    n_folds : int, optional
        Keep only the most recent ``n_folds`` folds; an error when fewer fit in the data.

    Returns
    -------
    list of Fold
        In chronological order.

    Raises
    ------
    DataValidationError
        Unsorted/duplicate timestamps, bad sizes, or too few bars for the folds asked for.
    """
    axis = _as_time_axis(timestamps)
    _check_sorted(axis, strict=True)
    train_size = _check_count(train_size, "train_size", 1)
    test_size = _check_count(test_size, "test_size", 1)
    step = test_size if step is None else _check_count(step, "step", 1)
    embargo = _check_count(embargo, "embargo", 0)
    if n_folds is not None:
        n_folds = _check_count(n_folds, "n_folds", 1)
    n = axis.size
    need = train_size + embargo + test_size
    available = 0 if n < need else (n - need) // step + 1
    if available == 0:
        raise DataValidationError(
            f"{n} bars are too few for one fold: train_size ({train_size}) + embargo ({embargo}) + "
            f"test_size ({test_size}) = {need} bars are needed",
            rule="too_few_bars", column="timestamp")
    if n_folds is not None and n_folds > available:
        raise DataValidationError(
            f"n_folds={n_folds} folds do not fit in {n} bars: with train_size={train_size}, embargo={embargo}, "
            f"test_size={test_size} and step={step} at most {available} fit",
            rule="too_few_bars", column="n_folds")
    first = 0 if n_folds is None else available - n_folds
    folds = []
    for k in range(first, available):
        train_stop = k * step + train_size
        train = np.arange(0 if expanding else k * step, train_stop, dtype=np.int64)
        test = np.arange(train_stop + embargo, train_stop + embargo + test_size, dtype=np.int64)
        folds.append(Fold(train=train, test=test, train_start=axis[train[0]], train_end=axis[train[-1]],
                          test_start=axis[test[0]], test_end=axis[test[-1]]))
    return folds
