"""Finance problems as :class:`~qfin.dp.FiniteMDP` constructors (rewards are money; gamma = 1 by default, so
G is the profit over the horizon).

- :func:`betting`: repeated even-money bets on a wealth ladder, with cash and stakes of different size
  (Dubins & Savage's red-and-black when every stake is allowed).
- :func:`wealth_process`: a discretised wealth process with a cash account and a binomial risky asset, the
  fraction invested chosen each period (pair with :class:`~qfin.dp.MeanCVaR`).
- :func:`liquidation`: selling an inventory over a few periods against temporary price impact on a random-walk
  price (pair with :class:`~qfin.dp.ProbabilityOfTarget`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qfin.data import check_memory
from qfin.dp._mdp import FiniteMDP
from qfin.errors import QfinError

__all__ = ["betting", "liquidation", "wealth_process"]


def _positive_int(x, name, low=1):
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
        raise QfinError(f"{name} must be an integer >= {low}; got {x!r}")
    return int(x)


def _check_dense_size(n_s: int, n_a: int, problem: str, reduce: str) -> None:
    """Refuse before allocating the dense [S, A, S] arrays: transitions and rewards here, then FiniteMDP's
    reward law and validation temporaries of the same size (about four float64 copies in all)."""
    check_memory(4.0 * n_s * n_a * n_s * 8, f"the dense [S, A, S] arrays of the {problem} MDP ({n_s:,} states x "
                 f"{n_a:,} actions)", reduce)


def _probability(x, name):
    x = float(x)
    if not 0.0 < x < 1.0:
        raise QfinError(f"{name} must be in (0, 1); got {x!r}")
    return x


def betting(max_wealth: int = 8, initial_wealth: int = 3, win_prob: float = 0.4, horizon: int = 4,
            stakes: Sequence[int] | None = None) -> FiniteMDP:
    """Even-money bets on integer wealth 0..max_wealth; the game stops at 0 (ruin) and at max_wealth (goal).

    State: wealth w. Action a stakes ``min(stakes[a], w, max_wealth - w)`` (stake 0 is staying in cash); the
    stake is won with ``win_prob`` and lost otherwise. Reward: the change of wealth, so G = final - initial.
    ``stakes`` defaults to every size 0..max_wealth (red-and-black: with win_prob < 1/2, bold play is optimal
    for reaching the goal, Dubins & Savage 1965).
    """
    n = _positive_int(max_wealth, "max_wealth", 2)
    w0 = _positive_int(initial_wealth, "initial_wealth", 0)
    if w0 > n:
        raise QfinError(f"initial_wealth must be <= max_wealth={n}; got {w0}")
    p = _probability(win_prob, "win_prob")
    if stakes is None:
        stakes = list(range(n + 1))
    elif (isinstance(stakes, (str, bytes)) or not hasattr(stakes, "__len__") or len(stakes) == 0
          or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 0 for b in stakes)):
        raise QfinError(f"stakes must be a non-empty list of non-negative integers; got {stakes!r}")
    stakes = [int(b) for b in stakes]
    _check_dense_size(n + 1, len(stakes), "betting", "max_wealth or the number of stakes")
    trans = np.zeros((n + 1, len(stakes), n + 1))
    rew = np.zeros_like(trans)
    for w in range(n + 1):
        for a, b in enumerate(stakes):
            stake = 0 if w in (0, n) else min(b, w, n - w)
            if stake == 0:
                trans[w, a, w] = 1.0
                continue
            trans[w, a, w + stake] += p
            trans[w, a, w - stake] += 1.0 - p
            rew[w, a, w + stake], rew[w, a, w - stake] = stake, -stake
    return FiniteMDP(trans, rew, gamma=1.0, horizon=_positive_int(horizon, "horizon"), initial_state=w0)


def wealth_process(initial_wealth: float = 100.0, wealth_step: float = 5.0, max_wealth: float = 200.0,
                   fractions: Sequence[float] = (0.0, 0.5, 1.0), up: float = 0.2, down: float = -0.15,
                   up_prob: float = 0.55, rate: float = 0.0, horizon: int = 4) -> FiniteMDP:
    """Wealth on the grid 0, wealth_step, ..., max_wealth; each period a fraction of it goes into a risky asset.

    Next wealth = w (1 + rate + f (R - rate)) with R = ``up`` (prob ``up_prob``) or ``down``, rounded to the
    nearest grid point and clipped to [0, max_wealth] (the discretisation). Action a invests ``fractions[a]``.
    Reward: the change of (grid) wealth, so G = final - initial wealth.
    """
    step = float(wealth_step)
    if not step > 0.0 or not max_wealth > 0.0:
        raise QfinError("wealth_step and max_wealth must be > 0")
    n = round(max_wealth / step)
    w0 = round(initial_wealth / step)
    if not 0 <= w0 <= n or abs(w0 * step - initial_wealth) > 1e-9 * max(1.0, initial_wealth):
        raise QfinError(f"initial_wealth must be a multiple of wealth_step in [0, max_wealth]; got {initial_wealth}")
    try:
        fr = np.asarray(fractions, float)
    except (TypeError, ValueError):
        raise QfinError(f"fractions must be a non-empty list of non-negative fractions; got {fractions!r}") from None
    if fr.ndim != 1 or fr.size == 0 or np.any(fr < 0.0):
        raise QfinError(f"fractions must be a non-empty list of non-negative fractions; got {fractions!r}")
    p = _probability(up_prob, "up_prob")
    if not down < rate < up or down <= -1.0:
        raise QfinError(f"need -1 < down < rate < up (no arbitrage); got down={down}, rate={rate}, up={up}")
    _check_dense_size(n + 1, fr.size, "wealth-process", "max_wealth / wealth_step or the number of fractions")
    levels = np.arange(n + 1) * step
    trans = np.zeros((n + 1, fr.size, n + 1))
    rew = np.zeros_like(trans)
    for i, w in enumerate(levels):
        for a, f in enumerate(fr):
            for ret, q in ((up, p), (down, 1.0 - p)):
                j = int(np.clip(np.rint(w * (1.0 + rate + f * (ret - rate)) / step), 0, n))
                trans[i, a, j] += q
                rew[i, a, j] = (j - i) * step
    return FiniteMDP(trans, rew, gamma=1.0, horizon=_positive_int(horizon, "horizon"), initial_state=w0)


def liquidation(inventory: int = 4, horizon: int = 3, start_price: float = 10.0, tick: float = 0.5,
                price_levels: int = 7, up_prob: float = 0.5, impact: float = 0.25) -> tuple[FiniteMDP, dict]:
    """Sell ``inventory`` shares within ``horizon`` periods against temporary price impact.

    State (k, q, i): period k, shares left q, price index i (price = start_price + (i - mid) tick, a random walk
    moving one tick up with ``up_prob`` or down, reflected at the grid ends). Action n sells min(n, q) shares at
    price - impact * n per share (temporary, linear impact, Almgren & Chriss 2001); in the last period everything
    left is sold. Reward: the sale proceeds, so G is the revenue. Returns the MDP and a dict with ``encode``
    (k, q, i) -> state index and ``decode`` (its inverse as a list).
    """
    q0 = _positive_int(inventory, "inventory")
    h = _positive_int(horizon, "horizon")
    m = _positive_int(price_levels, "price_levels")
    p = _probability(up_prob, "up_prob")
    if not tick > 0.0 or not impact >= 0.0:
        raise QfinError("tick must be > 0 and impact >= 0")
    mid = m // 2
    prices = start_price + (np.arange(m) - mid) * tick
    if prices.min() - impact * q0 <= 0.0:
        raise QfinError("the price grid with impact reaches zero; lower tick/impact or raise start_price")
    _check_dense_size((h + 1) * (q0 + 1) * m, q0 + 1, "liquidation", "inventory, horizon or price_levels")
    decode = [(k, q, i) for k in range(h + 1) for q in range(q0 + 1) for i in range(m)]
    encode = {key: n for n, key in enumerate(decode)}
    n_s, n_a = len(decode), q0 + 1
    trans = np.zeros((n_s, n_a, n_s))
    rew = np.zeros_like(trans)
    for s, (k, q, i) in enumerate(decode):
        for a in range(n_a):
            if k == h:  # terminal bookkeeping state (never reached within the horizon): stay
                trans[s, a, s] = 1.0
                continue
            sell = q if k == h - 1 else min(a, q)
            proceeds = sell * (prices[i] - impact * sell)
            for j, w in ((min(i + 1, m - 1), p), (max(i - 1, 0), 1.0 - p)):
                s2 = encode[(k + 1, q - sell, j)]
                trans[s, a, s2] += w
                rew[s, a, s2] = proceeds
    mdp = FiniteMDP(trans, rew, gamma=1.0, horizon=h, initial_state=encode[(0, q0, mid)])
    return mdp, {"encode": encode, "decode": decode, "prices": prices}
