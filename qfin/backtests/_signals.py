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

    Enter long when the fast SMA crosses strictly above the slow one (fast[t-1] < slow[t-1] and
    fast[t] > slow[t]); on the opposite cross go flat (or short with ``long_short``); hold otherwise.
    The decision at bar t uses closes up to t only.
    """
    fast = np.atleast_1d(np.asarray(fast, dtype=np.int64))
    slow = np.atleast_1d(np.asarray(slow, dtype=np.int64))
    windows, inverse = np.unique(np.concatenate([fast, slow]), return_inverse=True)
    averages = moving_average(close, windows)
    f = averages[:, inverse[: len(fast)]]
    s = averages[:, inverse[len(fast):]]
    with np.errstate(invalid="ignore"):
        up = (f[:-1] < s[:-1]) & (f[1:] > s[1:])
        down = (f[:-1] > s[:-1]) & (f[1:] < s[1:])
    events = np.full(f.shape, np.nan)
    events[0] = 0.0
    events[1:][up] = 1.0
    events[1:][down] = -1.0 if long_short else 0.0
    rows = np.where(np.isnan(events), 0, np.arange(len(events))[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    return events[rows, np.arange(events.shape[1])]
