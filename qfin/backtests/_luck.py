"""Is a sweep's winner luck? The deflated Sharpe ratio of the best point and the probability of backtest
overfitting of picking the best by Sharpe, from the returns of every grid point (:mod:`qfin.risk`'s
definitions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qfin.risk import deflated_sharpe_ratio, probability_of_backtest_overfitting

from ._metrics import path_returns

__all__ = ["overfitting_statistics", "returns_matrix"]


def returns_matrix(equities: list[np.ndarray], initial_cash: float) -> np.ndarray:
    """[T, N] per-period returns of N value paths on the same T bars (a ruined path: 0 after its -100 %)."""
    columns = []
    for equity in equities:
        r = path_returns(equity, initial_cash)
        columns.append(np.concatenate([r, np.zeros(len(equity) - len(r))]))
    return np.column_stack(columns)


def _per_period_sharpe(r: np.ndarray) -> np.ndarray:
    std = r.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, r.mean(axis=0) / std, 0.0)


def overfitting_statistics(returns: np.ndarray, best: int, periods_per_year: int) -> dict[str, Any]:
    """For the point ``best`` of the [T, N] ``returns``: its deflated Sharpe ratio against the N trials, the
    expected maximum Sharpe of N skill-less trials (annualised), and the PBO by CSCV (16 blocks, fewer on short
    samples; None with fewer than 2 trials or 8 returns)."""
    n_obs, n_trials = returns.shape
    sharpes = _per_period_sharpe(returns)
    r = returns[:, best]
    centred = r - r.mean()
    m2 = float(np.mean(centred ** 2))
    skew = float(np.mean(centred ** 3) / m2 ** 1.5) if m2 > 0 else 0.0
    kurtosis = float(np.mean(centred ** 4) / m2 ** 2) if m2 > 0 else 3.0
    variance = float(sharpes.var(ddof=1)) if n_trials > 1 else 0.0
    from qfin.risk import expected_max_sharpe

    out: dict[str, Any] = {
        "n_trials": n_trials, "n_obs": n_obs,
        "best_sharpe": float(sharpes[best] * math.sqrt(periods_per_year)),
        "expected_max_sharpe": float(expected_max_sharpe(variance, n_trials) * math.sqrt(periods_per_year)),
        "deflated_sharpe": deflated_sharpe_ratio(float(sharpes[best]), n_obs, n_trials=n_trials,
                                                 sharpe_variance=variance, skew=skew, kurtosis=kurtosis),
        "pbo": None, "pbo_splits": 0}
    blocks = min(16, 2 * (n_obs // 8))
    if n_trials >= 2 and blocks >= 2:
        result = probability_of_backtest_overfitting(returns, n_blocks=blocks)
        out["pbo"], out["pbo_splits"] = result.pbo, result.n_splits
    return out
