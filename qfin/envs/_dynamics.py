"""Portfolio dynamics shared by :class:`PortfolioEnv` (one step at a time) and the batched simulator.

Jiang, Xu & Liang (2017), "A Deep Reinforcement Learning Framework for the Financial Portfolio Management
Problem", §2-3: with price relatives ``y_{t+1} = (1, p_{t+1} / p_t)`` (cash first), target weights ``w_t`` set at
t's close and the transaction remainder ``mu_t`` of :func:`qfin.costs.transaction_remainder` (the backtest
engine's cost model, imported, never copied),

    V_{t+1} = V_t * mu_t * (w_t . y_{t+1}),      w'_{t+1} = (w_t * y_{t+1}) / (w_t . y_{t+1})   (drifted weights).

Leading axes of every array are batch axes (paths, episodes), processed together. The arithmetic is the
numba-compiled :func:`qfin.envs._kernels.step_one`, the same loop :class:`PortfolioEnv` runs each step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qfin.costs import CostMethod
from qfin.errors import QfinError

from . import _kernels

__all__ = ["PortfolioStep", "portfolio_step", "simulate_portfolio"]


class PortfolioStep(NamedTuple):
    """Outcome of one rebalance-and-hold step; each field has the batch shape (``[..., N + 1]`` for weights).

    value : V_{t+1}.  growth : V_{t+1} / V_t = mu_t (w_t . y_{t+1}) (net of costs).  remainder : mu_t.
    drifted : w'_{t+1}, the weights at t+1's close before the next trade.  turnover : sum_i |w_t,i - w'_t,i|
    over the risky assets (fraction of value traded).  costs : money paid, V_t (1 - mu_t).
    """

    value: np.ndarray
    growth: np.ndarray
    remainder: np.ndarray
    drifted: np.ndarray
    turnover: np.ndarray
    costs: np.ndarray


def portfolio_step(value: np.ndarray, drifted: np.ndarray, target: np.ndarray, relatives: np.ndarray,
                   buy_cost: float = 0.0, sell_cost: float | None = None,
                   method: CostMethod = "exact") -> PortfolioStep:
    """Rebalance from ``drifted`` to ``target`` at t's close, then hold over (t, t+1].

    Parameters
    ----------
    value : [...] V_t.  drifted : [..., N + 1] pre-trade weights (cash first).  target : [..., N + 1] w_t.
    relatives : [..., N + 1] y_{t+1} with a 1 for cash at index 0.
    buy_cost, sell_cost, method : as :func:`qfin.costs.transaction_remainder`.
    """
    c_p, c_s, exact = _cost_arguments(buy_cost, sell_cost, method)
    target = np.asarray(target, dtype=np.float64)
    batch, width = target.shape[:-1], target.shape[-1:]
    rows = int(np.prod(batch, dtype=np.int64))

    def as_rows(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``x`` broadcast to the batch and flattened to contiguous rows, as the kernel takes them."""
        full = np.broadcast_to(np.asarray(x, dtype=np.float64), batch + shape)
        return np.ascontiguousarray(full.reshape((rows,) + shape))

    start = as_rows(value, ())
    new_value, growth, mu, turnover = (np.empty(rows) for _ in range(4))
    new_drifted = np.empty((rows,) + width)
    _kernels.step_batch(start, as_rows(drifted, width), as_rows(target, width), as_rows(relatives, width),
                        c_p, c_s, exact, new_value, growth, mu, new_drifted, turnover)
    return PortfolioStep(new_value.reshape(batch), growth.reshape(batch), mu.reshape(batch),
                         new_drifted.reshape(batch + width), turnover.reshape(batch),
                         (start * (1.0 - mu)).reshape(batch))


def _cost_arguments(buy_cost: float, sell_cost: float | None, method: CostMethod) -> tuple[float, float, bool]:
    if method not in ("exact", "l1"):
        raise QfinError(f"method must be 'exact' or 'l1'; got {method!r}")
    c_p = float(buy_cost)
    return c_p, c_p if sell_cost is None else float(sell_cost), method == "exact"


def simulate_portfolio(prices: np.ndarray, weights: np.ndarray, buy_cost: float = 0.0,
                       sell_cost: float | None = None, method: CostMethod = "exact",
                       initial_value: float = 1.0) -> np.ndarray:
    """Value paths of many portfolios at once, each rebalanced at every bar but the last.

    Parameters
    ----------
    prices : [B, T + 1, N] or [T + 1, N] (shared by all portfolios) positive prices.
    weights : [B, T, N + 1] target weights decided at bars 0 .. T-1 (cash first); starts all in cash, so the
        first trade is charged.

    Returns
    -------
    [B, T + 1] values; column 0 is ``initial_value`` (before the first trade).
    """
    prices = np.asarray(prices, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n_batch, n_steps, n_w = weights.shape
    if prices.ndim == 2:
        prices = prices[None]
    if prices.shape[0] not in (1, n_batch) or prices.shape[1] != n_steps + 1 or prices.shape[2] + 1 != n_w:
        raise ValueError(f"prices must be [B or 1, T + 1, N] = [.., {n_steps + 1}, {n_w - 1}] for weights "
                         f"{weights.shape}; got {prices.shape}")
    c_p, c_s, exact = _cost_arguments(buy_cost, sell_cost, method)
    values = np.empty((n_batch, n_steps + 1))
    _kernels.simulate(np.ascontiguousarray(prices), np.ascontiguousarray(weights), c_p, c_s, exact,
                      float(initial_value), values)
    return values
