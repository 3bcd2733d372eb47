"""Signal strategies for single-asset backtests, vectorised over a parameter grid (one column per set)."""

from __future__ import annotations

import numpy as np

__all__ = ["moving_average", "sma_crossover_exposure"]


def moving_average(close: np.ndarray, windows: np.ndarray | list[int]) -> np.ndarray:
    """Simple moving averages of ``close`` [T] for each window; [T, W], NaN until a window is full.

    Uses only bars up to and including t (no look-ahead). One cumulative sum serves every window.
    """
    close = np.asarray(close, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.int64)
    csum = np.concatenate(([0.0], np.cumsum(close)))
    t = np.arange(1, len(close) + 1)[:, None]
    start = np.clip(t - windows[None, :], 0, None)
    out = (csum[t] - csum[start]) / windows[None, :]
    out[t < windows[None, :]] = np.nan
    return out


def sma_crossover_exposure(close: np.ndarray, fast: np.ndarray | list[int] | int, slow: np.ndarray | list[int] | int,
                           long_short: bool = False) -> np.ndarray:
    """Target exposure [T, K] of SMA crossover rules, one column per (fast[k], slow[k]) pair.

    Enter long when the fast SMA crosses above the slow one, on the opposite cross go flat (or short with
    ``long_short``); hold otherwise. The decision at bar t uses closes up to t only.

    A cross above at bar t is vectorbt's ``crossed_above`` (vectorbt 1.2.0, ``generic.nb.crossed_above_1d_nb``):
    fast[t] > slow[t], fast[t-1] <= slow[t-1], and fast was strictly below slow at some bar before t. So an exact
    tie is no side: above, tie, below is a cross below at the "below" bar (fast[t-1] < slow[t-1] alone would miss
    it and hold the position through the cross). The cross below is the mirror image.
    """
    fast = np.atleast_1d(np.asarray(fast, dtype=np.int64))
    slow = np.atleast_1d(np.asarray(slow, dtype=np.int64))
    windows, inverse = np.unique(np.concatenate([fast, slow]), return_inverse=True)
    averages = moving_average(close, windows)
    f = averages[:, inverse[: len(fast)]]
    s = averages[:, inverse[len(fast):]]
    with np.errstate(invalid="ignore"):
        above, below = f > s, f < s  # both False while a window is not full (NaN)
    # SMAs are NaN only before their windows fill, so "since the last NaN" is "since the start".
    was_below = np.cumsum(below, axis=0)[:-1] > 0
    was_above = np.cumsum(above, axis=0)[:-1] > 0
    up = above[1:] & ~above[:-1] & was_below
    down = below[1:] & ~below[:-1] & was_above
    events = np.full(f.shape, np.nan)
    events[0] = 0.0
    events[1:][up] = 1.0
    events[1:][down] = -1.0 if long_short else 0.0
    rows = np.where(np.isnan(events), 0, np.arange(len(events))[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    return events[rows, np.arange(events.shape[1])]
