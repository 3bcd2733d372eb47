"""The series a tearsheet shows beside the metrics: returns compounded by calendar month and year, and rolling
volatility and beta over a trailing window (qfin.risk's definitions applied to every window at once)."""

from __future__ import annotations

import numpy as np

from qfin.risk import annual_volatility

__all__ = ["period_returns", "rolling_beta", "rolling_volatility"]


def period_returns(times: np.ndarray, returns: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns compounded over each calendar period: (period starts as datetime64[unit], prod(1 + r) - 1 of the
    returns whose time falls in that period). ``unit`` is "M" (month) or "Y" (year); ``times`` [T] increasing."""
    periods = np.asarray(times).astype(f"datetime64[{unit}]")
    if periods.size == 0:
        return periods, np.empty(0)
    starts = np.flatnonzero(np.concatenate(([True], periods[1:] != periods[:-1])))
    return periods[starts], np.multiply.reduceat(1.0 + np.asarray(returns, dtype=np.float64), starts) - 1.0


def _windows(values: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, window).T  # [window, T - window + 1]


def rolling_volatility(returns: np.ndarray, window: int, periods_per_year: int = 252) -> np.ndarray:
    """[T]: entry t is :func:`qfin.risk.annual_volatility` of ``returns[t - window + 1 : t + 1]``; NaN before the
    first full window."""
    returns = np.asarray(returns, dtype=np.float64)
    out = np.full(returns.shape[0], np.nan)
    if returns.shape[0] >= window:
        out[window - 1:] = annual_volatility(_windows(returns, window), periods_per_year=periods_per_year)
    return out


def rolling_beta(returns: np.ndarray, benchmark: np.ndarray, window: int) -> np.ndarray:
    """[T]: entry t is cov(r, b) / var(b) over the trailing ``window`` returns (:func:`qfin.risk.benchmark_statistics`'
    beta on that window); NaN before the first full window and where the benchmark is flat."""
    r, b = np.asarray(returns, dtype=np.float64), np.asarray(benchmark, dtype=np.float64)
    out = np.full(r.shape[0], np.nan)
    if r.shape[0] >= window:
        rw, bw = _windows(r, window), _windows(b, window)
        bc = bw - bw.mean(axis=0)
        covariance = ((rw - rw.mean(axis=0)) * bc).sum(axis=0)
        variance = (bc * bc).sum(axis=0)
        flat = bw.max(axis=0) == bw.min(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[window - 1:] = np.where(flat, np.nan, covariance / variance)
    return out
