"""Portfolio dynamics shared by :class:`PortfolioEnv` (one step at a time) and the batched simulator.

Jiang, Xu & Liang (2017), "A Deep Reinforcement Learning Framework for the Financial Portfolio Management
Problem", §2-3: with price relatives ``y_{t+1} = (1, p_{t+1} / p_t)`` (cash first), target weights ``w_t`` set at
t's close and the transaction remainder ``mu_t`` of :func:`qfin.costs.transaction_remainder` (the backtest
engine's cost model, imported, never copied),

    V_{t+1} = V_t * mu_t * (w_t . y_{t+1}),      w'_{t+1} = (w_t * y_{t+1}) / (w_t . y_{t+1})   (drifted weights).

Leading axes of every array are batch axes (paths, episodes), processed together.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qfin.costs import CostMethod, transaction_remainder

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
    mu = transaction_remainder(drifted, target, buy_cost, sell_cost, method=method)
    held = target * relatives
    gross = held.sum(axis=-1)
    growth = mu * gross
    new_drifted = held / gross[..., None]
    turnover = np.abs(target[..., 1:] - drifted[..., 1:]).sum(axis=-1)
    return PortfolioStep(value * growth, growth, mu, new_drifted, turnover, value * (1.0 - mu))


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
    if prices.shape[1] != n_steps + 1 or prices.shape[2] + 1 != n_w:
        raise ValueError(f"prices must be [B or 1, T + 1, N] = [.., {n_steps + 1}, {n_w - 1}] for weights "
                         f"{weights.shape}; got {prices.shape}")
    relatives = np.ones((max(prices.shape[0], n_batch), n_steps, n_w))
    relatives[:, :, 1:] = prices[:, 1:] / prices[:, :-1]
    values = np.empty((n_batch, n_steps + 1))
    values[:, 0] = initial_value
    drifted = np.zeros((n_batch, n_w))
    drifted[:, 0] = 1.0
    for t in range(n_steps):  # a loop over time only; every op is vectorised over the batch
        out = portfolio_step(values[:, t], drifted, weights[:, t], relatives[:, t], buy_cost, sell_cost, method)
        values[:, t + 1] = out.value
        drifted = out.drifted
    return values
