"""The metrics of one equity curve, from qfin.risk's single definitions (DESIGN.md §3, metrics.json).

Conventions (vectorbt's ``Portfolio.returns``, ``total_return``): the returns of a path of T values v_0 .. v_{T-1}
start from the initial cash, r_0 = v_0 / initial_cash - 1, so the costs of a trade filled at the first bar count
and there are T returns (years = T / periods_per_year). A path that reaches a value <= 0 is ruined at that bar
(backtesting.py: equity is set to 0 there and the run stops): its metrics cover the path up to and including the
ruin bar, taken as 0, so total return, CAGR and max drawdown are -100%.
"""

from __future__ import annotations

import numpy as np

from qfin.risk import (
    annual_volatility,
    cagr,
    calmar_ratio,
    expected_shortfall,
    max_drawdown,
    sharpe_ratio,
    simple_returns,
    sortino_ratio,
    total_return,
)

METRIC_NAMES = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "cvar_95",
                "turnover")
RUIN_KEYS = ("ruined", "ruin_date")
"""Keys metrics.json adds after METRIC_NAMES for each strategy: ``ruined`` (bool) and ``ruin_date`` (ISO date of
the ruin bar, or null)."""

__all__ = ["METRIC_NAMES", "RUIN_KEYS", "equity_metrics", "first_ruin_bar", "path_returns", "strategy_metrics"]


def first_ruin_bar(equity: np.ndarray) -> int | None:
    """Index of the first value <= 0 of ``equity`` [T], or None if it stays positive."""
    broke = np.flatnonzero(np.asarray(equity, dtype=np.float64) <= 0.0)
    return int(broke[0]) if broke.size else None


def path_returns(equity: np.ndarray, initial_cash: float) -> np.ndarray:
    """The returns the metrics are computed on: simple returns of (initial_cash, equity[0], ..., equity[T-1]), [T];
    for a path ruined at bar k (first value <= 0) the k + 1 returns up to that bar, the last -100% (see the module
    docstring)."""
    values = np.asarray(equity, dtype=np.float64)
    ruin = first_ruin_bar(values)
    if ruin is not None:
        values = np.append(values[:ruin], 0.0)
    return simple_returns(np.concatenate(([float(initial_cash)], values)))


def equity_metrics(equity: np.ndarray, traded_fraction: float, periods_per_year: int = 252, *,
                   initial_cash: float) -> dict[str, float]:
    """Performance and risk of a value path [T] (money) that started from ``initial_cash`` before its first bar,
    with ``traded_fraction`` the sum over all trades of traded value / portfolio value (buys plus sells).

    Returns are simple returns of (initial_cash, equity[0], ..., equity[T-1]), so a trade at the first bar and its
    costs count; a path that falls to <= 0 is cut at that bar, taken as 0 (see the module docstring).
    ``turnover`` is the annualised one-way turnover: half the traded fraction per year (1.0 = the whole book
    replaced once a year). ``cvar_95`` is the historical expected shortfall at 95% as a positive loss;
    ``max_drawdown`` is negative.
    """
    returns = path_returns(equity, initial_cash)
    years = len(returns) / periods_per_year
    return {
        "total_return": float(total_return(returns)),
        "cagr": float(cagr(returns, periods_per_year=periods_per_year)),
        "volatility": float(annual_volatility(returns, periods_per_year=periods_per_year)),
        "sharpe": float(sharpe_ratio(returns, periods_per_year=periods_per_year)),
        "sortino": float(sortino_ratio(returns, periods_per_year=periods_per_year)),
        "max_drawdown": float(max_drawdown(returns)),
        "calmar": float(calmar_ratio(returns, periods_per_year=periods_per_year)),
        "cvar_95": float(expected_shortfall(returns, level=0.95)),
        "turnover": float(0.5 * traded_fraction / years) if years > 0 else 0.0,
    }


def strategy_metrics(equity: np.ndarray, traded_fraction: float, timestamps: np.ndarray, periods_per_year: int = 252,
                     *, initial_cash: float) -> dict[str, float | bool | str | None]:
    """A strategy's row of metrics.json: :func:`equity_metrics`, then ``ruined`` and ``ruin_date`` (the ISO date,
    or date and time for intraday bars, of the ruin bar of ``timestamps`` [T]; None if never ruined)."""
    row: dict[str, float | bool | str | None] = dict(
        equity_metrics(equity, traded_fraction, periods_per_year, initial_cash=initial_cash))
    ruin = first_ruin_bar(equity)
    row["ruined"] = ruin is not None
    row["ruin_date"] = None if ruin is None else _iso(np.asarray(timestamps)[ruin])
    return row


def _iso(timestamp: np.datetime64) -> str:
    day = timestamp.astype("M8[D]")
    return str(day) if timestamp == day else str(timestamp.astype("M8[s]")).replace("T", " ")
