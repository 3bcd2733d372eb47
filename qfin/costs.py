"""Transaction costs of rebalancing a portfolio: the one cost model shared by backtests and environments.

Weights are fractions of portfolio value with cash at index 0, so a vector of N assets has length N + 1.
Fees are a fraction of traded value, as in backtesting.py and vectorbt: buying assets worth x costs
x * (1 + c_p) in cash, selling assets worth y brings y * (1 - c_s). Rebalancing from the drifted weights
``w_prev`` to the target ``w_target`` leaves the transaction remainder factor ``mu`` (value after = mu * value
before), with the post-trade weights exactly ``w_target``.

Two methods:
- ``"exact"``: the fixed point of Jiang, Xu & Liang (2017), "A Deep Reinforcement Learning Framework for the
  Financial Portfolio Management Problem", eq. (14), re-derived for fees on traded value. Cash balance:
  w'_0 + (1 - c_s) S - (1 + c_p) B = mu w_0 with S = sum_i (w'_i - mu w_i)^+ and B = sum_i (mu w_i - w'_i)^+;
  eliminating B (B - S = mu (1 - w_0) - (1 - w'_0)) gives
  mu = [1 + c_p (1 - w'_0) - (c_p + c_s) S(mu)] / [1 + c_p (1 - w_0)], solved by Newton's method (exact in a
  few steps: the equation is piecewise linear in mu).
  (Jiang et al. charge the buy commission on cash spent, x / (1 - c_p); the two agree to first order.)
- ``"l1"``: the first-order approximation mu = 1 - c_p B - c_s S evaluated at mu = 1 (Jiang et al.'s eq. 16
  and the usual shortcut); it slightly over-charges because it ignores that the fees shrink the trade.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["transaction_remainder", "remainder_one", "CostMethod"]

CostMethod = Literal["exact", "l1"]


def transaction_remainder(w_prev: np.ndarray, w_target: np.ndarray, buy_cost: float, sell_cost: float | None = None,
                          method: CostMethod = "exact", tol: float = 1e-14, max_iter: int = 100) -> np.ndarray:
    """Fraction of portfolio value left after rebalancing from ``w_prev`` to ``w_target``.

    Parameters
    ----------
    w_prev, w_target : array [..., N + 1]
        Drifted (pre-trade) and target weights, cash at index 0; each row sums to one. Leading axes are
        batch axes (paths, parameter columns) and are processed together.
    buy_cost, sell_cost : float
        Proportional fee rates on traded value (0.001 = 10 bp); ``sell_cost`` defaults to ``buy_cost``.
    method : "exact" or "l1"
        The fixed point or its first-order approximation (see the module docstring).
    tol, max_iter : float, int
        Stopping rule of the Newton iteration (2-3 steps for realistic fees; exact once the sold set settles).

    Returns
    -------
    mu : array [...] (a float for 1-D input)
        Value after / value before; 1 means no trade.
    """
    c_p = float(buy_cost)
    c_s = c_p if sell_cost is None else float(sell_cost)
    w_prev = np.asarray(w_prev, dtype=np.float64)
    w_target = np.asarray(w_target, dtype=np.float64)
    if w_prev.ndim == 1 and w_target.ndim == 1 and w_prev.size <= 64:
        return remainder_one(w_prev.tolist(), w_target.tolist(), c_p, c_s, method == "exact", tol, max_iter)
    prev_assets, target_assets = w_prev[..., 1:], w_target[..., 1:]
    trade = target_assets - prev_assets
    bought = np.maximum(trade, 0.0).sum(axis=-1)
    sold = bought - trade.sum(axis=-1)  # sum of the negative parts, without a second pass
    mu = 1.0 - c_p * bought - c_s * sold
    if method == "l1" or (c_p == 0.0 and c_s == 0.0):
        return mu
    numerator = 1.0 + c_p * (1.0 - w_prev[..., 0])
    denominator = 1.0 + c_p * (1.0 - w_target[..., 0])
    # Newton's method on g(mu) = mu * denominator - numerator + (c_p + c_s) S(mu): g is convex and increasing
    # (S is a sum of hinges max(w_i - mu w'_i, 0)) and piecewise linear, so from the first step on the iterates
    # fall monotonically onto the root and stop, exact, once the set of sold assets no longer changes: 2-3 steps
    # instead of the ~10 of the plain fixed-point iteration. On a segment S(mu) = A - mu B (A, B: the sums of
    # w_i and w'_i over the sold assets), so the Newton step is mu = (numerator - c A) / (denominator - c B).
    c = c_p + c_s
    for _ in range(max_iter):
        sold_now = prev_assets > mu[..., None] * target_assets
        intercept = np.where(sold_now, prev_assets, 0.0).sum(axis=-1)
        slope = np.where(sold_now, target_assets, 0.0).sum(axis=-1)
        new_mu = (numerator - c * intercept) / (denominator - c * slope)
        converged = np.all(np.abs(new_mu - mu) <= tol)
        mu = new_mu
        if converged:
            break
    return mu


def remainder_one(w_prev, w_target, c_p: float, c_s: float, exact: bool = True, tol: float = 1e-14,
                  max_iter: int = 100) -> float:
    """:func:`transaction_remainder` of one portfolio, written with scalar loops only.

    ``w_prev``/``w_target`` are sequences of N + 1 floats (cash first), ``exact=False`` gives the "l1" method.
    In plain Python (lists of floats) it beats a dozen small numpy calls several times over for ~20 assets, and
    :mod:`qfin.envs._kernels` compiles this same function with numba for the environment and the batched
    simulator, so the one cost model has one scalar definition.
    """
    n = len(w_prev)
    bought = traded = 0.0
    for i in range(1, n):
        delta = w_target[i] - w_prev[i]
        traded += delta
        if delta > 0.0:
            bought += delta
    mu = 1.0 - c_p * bought - c_s * (bought - traded)
    if not exact or (c_p == 0.0 and c_s == 0.0):
        return mu
    numerator = 1.0 + c_p * (1.0 - w_prev[0])
    denominator = 1.0 + c_p * (1.0 - w_target[0])
    c = c_p + c_s
    for _ in range(max_iter):  # Newton, as in transaction_remainder
        intercept = slope = 0.0
        for i in range(1, n):
            if w_prev[i] > mu * w_target[i]:
                intercept += w_prev[i]
                slope += w_target[i]
        new_mu = (numerator - c * intercept) / (denominator - c * slope)
        converged = abs(new_mu - mu) <= tol
        mu = new_mu
        if converged:
            break
    return mu
