"""Rebalance schedules: the bars at which a periodically rebalanced strategy takes its decisions.

A decision is taken at the close of the LAST bar of each calendar period (day, week, month, quarter, year) and
uses data up to and including that bar (DESIGN.md §4). The last bar of the data closes the final period even
when that period is incomplete (e.g. data ending mid-month): the decision there still uses past data only, and
it lets the final holdings reflect the latest information. Weeks run Monday to Sunday (ISO weeks); quarters
are calendar quarters (Jan-Mar, ...).
"""

from __future__ import annotations

import numpy as np

from qfin.errors import DataValidationError, SpecError

__all__ = ["FREQUENCIES", "rebalance_bars"]

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")

# numpy's datetime64 "W" unit counts 7-day blocks from 1970-01-01, a Thursday; 1970-01-05 is the first Monday.
_FIRST_MONDAY = np.datetime64("1970-01-05", "D")


def _period_keys(days: np.ndarray, frequency: str) -> np.ndarray:
    """One integer per bar that is equal for bars in the same calendar period."""
    if frequency == "daily":
        return days.astype(np.int64)
    if frequency == "weekly":
        return (days - _FIRST_MONDAY).astype(np.int64) // 7
    months = days.astype("M8[M]").astype(np.int64)  # months since 1970-01
    if frequency == "monthly":
        return months
    if frequency == "quarterly":
        return months // 3
    return days.astype("M8[Y]").astype(np.int64)


def rebalance_bars(timestamps: np.ndarray, frequency: str, start_bar: int = 0) -> np.ndarray:
    """Indices of the last bar of each calendar period, from ``start_bar`` on.

    Parameters
    ----------
    timestamps : [T] datetime64 (any unit; naive, in the market's calendar), strictly increasing.
    frequency : one of "daily", "weekly" (Monday-Sunday), "monthly", "quarterly", "yearly".
    start_bar : first bar that may be a decision bar; periods whose last bar comes before it are skipped.

    Returns
    -------
    [R] int64, strictly increasing bar indices in ``[start_bar, T)``. A bar is included when the next bar falls
    in a later period; the last bar of the data is always included (it closes the final, possibly incomplete,
    period). Empty when ``timestamps`` is empty.
    """
    if frequency not in FREQUENCIES:
        raise SpecError(f"rebalance frequency {frequency!r} is not one of: {', '.join(FREQUENCIES)}")
    timestamps = np.asarray(timestamps)
    if timestamps.ndim != 1 or not np.issubdtype(timestamps.dtype, np.datetime64):
        raise SpecError(f"rebalance_bars: timestamps must be a 1-D datetime64 array, got dtype {timestamps.dtype} "
                        f"with shape {timestamps.shape}")
    n_bars = len(timestamps)
    if isinstance(start_bar, bool) or not isinstance(start_bar, (int, np.integer)) or not (
            0 <= start_bar < max(n_bars, 1)):
        raise SpecError(f"rebalance_bars: start_bar must be an integer bar index in [0, {max(n_bars - 1, 0)}], "
                        f"got {start_bar!r}")
    if n_bars == 0:
        return np.zeros(0, dtype=np.int64)
    if np.isnat(timestamps).any():
        rows = np.flatnonzero(np.isnat(timestamps))[:5].tolist()
        raise DataValidationError(f"rebalance_bars: missing timestamps (NaT) at rows {rows}", rule="null_values",
                                  column="timestamp", rows=rows)
    unsorted = np.flatnonzero(timestamps[1:] <= timestamps[:-1]) + 1
    if len(unsorted):
        rows = unsorted[:5].tolist()
        raise DataValidationError(f"rebalance_bars: timestamps must be strictly increasing; row {rows[0]} "
                                  f"({timestamps[rows[0]]}) does not come after row {rows[0] - 1} "
                                  f"({timestamps[rows[0] - 1]})", rule="unsorted_timestamps", column="timestamp",
                                  rows=rows)
    keys = _period_keys(timestamps.astype("M8[D]"), frequency)
    is_last = np.append(keys[1:] != keys[:-1], True)
    is_last[:start_bar] = False
    return np.flatnonzero(is_last).astype(np.int64)
