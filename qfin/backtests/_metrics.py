"""The metrics of one equity curve, from qfin.risk's single definitions (DESIGN.md §3, metrics.json)."""

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

__all__ = ["METRIC_NAMES", "equity_metrics"]


def equity_metrics(equity: np.ndarray, traded_fraction: float, periods_per_year: int = 252) -> dict[str, float]:
    """Performance and risk of a value path [T] (money), with ``traded_fraction`` the sum over all trades of
    traded value / portfolio value (buys plus sells).

    Returns are simple bar-to-bar returns of the equity, so the first trade's costs count. ``turnover`` is the
    annualised one-way turnover: half the traded fraction per year (1.0 = the whole book replaced once a year).
    ``cvar_95`` is the historical expected shortfall at 95% as a positive loss; ``max_drawdown`` is negative.
    """
    returns = simple_returns(np.asarray(equity, dtype=np.float64))
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
