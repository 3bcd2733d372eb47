"""Returns, equity and drawdown paths: the conversions every performance measure builds on.

Conventions (as empyrical/quantstats): returns are per-period *simple* returns r_t = P_t / P_{t-1} - 1;
compounding is multiplicative; a path starts at value 1 (or ``initial``) before the first return, and that
starting value counts as a peak for drawdowns. Inputs are [T] for one series or [T, N] for N series side by
side (one column each); time runs along axis 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import DataValidationError
from qfin.risk._backend import as_samples, check_positive

__all__ = ["simple_returns", "log_returns", "cumulative_returns", "equity_curve", "drawdown_series",
           "total_return"]


def _prices(prices: Any, *, positive: bool) -> np.ndarray:
    p = as_samples(prices, "prices", min_rows=2, allow_tensor=False)
    rows = np.flatnonzero(~((p > 0) if positive else (p != 0)).reshape(p.shape[0], -1).all(axis=1))
    if positive and rows.size:
        raise DataValidationError(f"prices must be positive for log returns; rows {rows[:5].tolist()} hold "
                                  f"values <= 0", rule="non_positive", column="prices", rows=rows[:5].tolist())
    rows = rows[rows < p.shape[0] - 1]  # only a price we divide by must be non-zero
    if rows.size:
        raise DataValidationError(f"prices is zero at rows {rows[:5].tolist()}, so the next return is undefined; "
                                  f"simple returns need non-zero prices", rule="zero_price", column="prices",
                                  rows=rows[:5].tolist())
    return p


def simple_returns(prices: Any) -> np.ndarray:
    """Per-period simple returns r_t = P_t / P_{t-1} - 1.

    Parameters
    ----------
    prices : [T] or [T, N] prices or portfolio values (T >= 2), finite and non-zero except possibly the last.

    Returns
    -------
    [T - 1] or [T - 1, N] float64 returns; ``simple_returns(equity_curve(r)) == r``.
    """
    p = _prices(prices, positive=False)
    return p[1:] / p[:-1] - 1.0


def log_returns(prices: Any) -> np.ndarray:
    """Per-period log returns ln(P_t / P_{t-1}) of positive prices: [T] or [T, N] -> [T - 1] or [T - 1, N]."""
    p = _prices(prices, positive=True)
    return np.diff(np.log(p), axis=0)


def cumulative_returns(returns: Any) -> np.ndarray:
    """Compounded return to date, prod_{s<=t}(1 + r_s) - 1, for each t (empyrical's ``cum_returns``).

    Parameters
    ----------
    returns : [T] or [T, N] simple returns.

    Returns
    -------
    float64 array of the same shape.
    """
    r = as_samples(returns, "returns", allow_tensor=False)
    return np.cumprod(1.0 + r, axis=0) - 1.0


def equity_curve(returns: Any, initial: float = 1.0) -> np.ndarray:
    """Value path of an account that starts at ``initial`` and compounds ``returns``.

    Parameters
    ----------
    returns : [T] or [T, N] simple returns.
    initial : starting value (> 0), placed before the first return.

    Returns
    -------
    [T + 1] or [T + 1, N] float64 values; row 0 is ``initial``.
    """
    r = as_samples(returns, "returns", allow_tensor=False)
    start = check_positive(initial, "initial")
    growth = np.cumprod(1.0 + r, axis=0)
    return start * np.concatenate([np.ones((1,) + r.shape[1:]), growth], axis=0)


def _drawdowns(r: np.ndarray) -> np.ndarray:
    """Drawdowns of already-validated returns (see :func:`drawdown_series`)."""
    wealth = np.cumprod(1.0 + r, axis=0)
    # the starting value 1.0 is a peak too (empyrical anchors its path at a starting value)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
    return wealth / peak - 1.0


def drawdown_series(returns: Any) -> np.ndarray:
    """Fall of the compounded value from its running peak after each return, W_t / max(1, max_{s<=t} W_s) - 1.

    The running peak includes the starting value 1.0 before the first return, so a series that opens with
    losses is in drawdown from the start (as empyrical's ``drawdown_series``). Values are <= 0.

    Parameters
    ----------
    returns : [T] or [T, N] simple returns.

    Returns
    -------
    float64 array of the same shape.
    """
    return _drawdowns(as_samples(returns, "returns", allow_tensor=False))


def total_return(returns: Any) -> Any:
    """Compounded return over the whole series, prod(1 + r) - 1 (empyrical's ``cum_returns_final``).

    Returns a float for [T] input and a [N] array for [T, N] input.
    """
    r = as_samples(returns, "returns", allow_tensor=False)
    out = np.prod(1.0 + r, axis=0) - 1.0
    return float(out) if out.ndim == 0 else out
