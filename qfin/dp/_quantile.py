"""Quantile distributional DP over a stock grid, for problems too large for exact atoms.

Each augmented state (s, y_k) on a grid of partial sums y carries the law of the future return as N quantiles
(Dabney et al. 2018's quantile projection: the mixture over successors is sorted and read at the mid-levels
(i + 1/2)/N). The greedy action maximises the mean of f(y + gamma^t Z) over the quantiles (Pires et al. 2025,
Sec. 6). Successor stocks are projected to the nearest grid point; y = 0, where CVaR's, target's and
satisficing's utilities have their kink, is always a grid point. The quantile values are optimistic (they are
maximised over), so the returned ``value`` is the exact (or Monte Carlo) value of the greedy policy, never the
model's own estimate (kept as ``approx_value``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qfin.data import check_memory
from qfin.dp._distribution import ReturnDistribution
from qfin.dp._exact import DPResult, _propagate, _quantum
from qfin.dp._mdp import FiniteMDP
from qfin.dp._objectives import Objective
from qfin.errors import QfinError

__all__ = ["solve_quantile"]


def _padded_successors(mdp: FiniteMDP):
    """[S, A, B] next states, rewards and probabilities (padding has probability 0)."""
    b = max(mdp._succ[s][a][0].size for s in range(mdp.n_states) for a in range(mdp.n_actions))
    shape = (mdp.n_states, mdp.n_actions, b)
    nxt, rew, prob = np.zeros(shape, np.int64), np.zeros(shape), np.zeros(shape)
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            s2, r, p = mdp._succ[s][a]
            nxt[s, a, :s2.size], rew[s, a, :s2.size], prob[s, a, :s2.size] = s2, r, p
    return nxt, rew, prob


def _return_bounds(mdp: FiniteMDP, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper bounds [T + 1] on the partial sum sum_{k<t} gamma^k r_k over all policies and paths."""
    live = (mdp.transitions[..., None] * mdp.reward_probs) > 0.0
    rmin = float(mdp.rewards[live].min())
    rmax = float(mdp.rewards[live].max())
    g = mdp.gamma ** np.arange(horizon)
    lo = np.concatenate(([0.0], np.cumsum(g * rmin)))
    hi = np.concatenate(([0.0], np.cumsum(g * rmax)))
    return lo, hi


def _nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(grid, x), 1, grid.size - 1)
    left = grid[i - 1]
    return np.where(np.abs(x - left) <= np.abs(grid[i] - x), i - 1, i)


def _project_quantiles(atoms: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Rows of weighted atoms [..., M] -> their quantiles at levels (i + 1/2)/n, [..., n]."""
    lead = atoms.shape[:-1]
    m = atoms.shape[-1]
    a2, w2 = atoms.reshape(-1, m), weights.reshape(-1, m)
    rows = np.arange(a2.shape[0])[:, None]
    # Flat gathers (one index array for atoms and weights) are cheaper than take_along_axis here. Ties between
    # equal atoms may sort either way: the quantiles are the same.
    flat = (np.argsort(a2, axis=1) + rows * m).ravel()
    a_sorted = a2.ravel()[flat]
    cum = np.cumsum(w2.ravel()[flat].reshape(-1, m), axis=1)
    cum /= cum[:, -1:]
    cum += 2.0 * rows  # row r's cumulative weights (in [0, 1]) shifted by 2 r: one searchsorted for all rows
    taus = (np.arange(n) + 0.5) / n
    idx = np.searchsorted(cum.ravel(), (taus[None, :] + 2.0 * rows).ravel()).reshape(-1, n)
    idx = np.minimum(idx, rows * m + m - 1)
    return a_sorted[idx].reshape(lead + (n,))


def stock_grids(objective: Objective, lo: np.ndarray, hi: np.ndarray, horizon: int, n_stocks: int,
                snap: Callable[[np.ndarray], np.ndarray] = np.asarray) -> list[np.ndarray]:
    """Partial-sum grids y at t = 0..T shared by the quantile and categorical methods: start stocks at t = 0
    (a range for objectives that search c0), ``n_stocks`` points over the reachable range after, with 0 kept
    exact; ``snap`` maps each grid before de-duplication (the categorical method snaps to its atom quantum)."""
    if objective.searches_start_stock:
        c0s = -np.linspace(lo[-1], hi[-1], n_stocks)[::-1]
    else:
        c0s = np.unique(objective.start_stocks(None))
    grids = []
    for t in range(horizon + 1):
        a, b = c0s.min() + lo[t], c0s.max() + hi[t]
        g = c0s.copy() if t == 0 else np.linspace(a, b, n_stocks)
        if t > 0 and a < 0.0 < b:
            g = np.union1d(g, [0.0])  # the utilities' kink at zero stays an exact grid point
        grids.append(np.unique(snap(g)))
    return grids


def keep_better(score: np.ndarray, best_score: np.ndarray, act: np.ndarray, a: int, law: np.ndarray,
                best_law: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where action ``a``'s ``score`` beats the best so far (by more than a relative 1e-12, so ties keep the
    lower action), take its score, index and return law (``[..., atoms]``). Returns the three updated arrays."""
    better = score > best_score + 1e-12 * np.maximum(1.0, np.abs(score))
    return (np.where(better, score, best_score), np.where(better, a, act),
            np.where(better[..., None], law, best_law))


def check_grid_arguments(n_stocks: int, evaluation: str) -> None:
    """The stock-grid arguments the quantile and categorical methods share."""
    if isinstance(n_stocks, bool) or not isinstance(n_stocks, (int, np.integer)) or n_stocks < 2:
        raise QfinError(f"n_stocks must be an integer >= 2; got {n_stocks!r}")
    if evaluation not in ("exact", "monte_carlo"):
        raise QfinError(f"evaluation must be 'exact' or 'monte_carlo'; got {evaluation!r}")


def greedy_result(mdp: FiniteMDP, objective: Objective, horizon: int, grids: list[np.ndarray], actions: list,
                  estimates: np.ndarray, method: str, quantum: float, evaluation: str, n_eval_paths: int,
                  seed: int | None, successors: tuple[np.ndarray, np.ndarray, np.ndarray]) -> DPResult:
    """Finish an approximate solve: pick the start stock whose approximate score is best, follow the greedy
    actions (nearest grid stock), and report the objective of that policy's exact (or Monte Carlo) return law;
    the approximate model's own score is kept as ``approx_value``.

    ``actions[t]`` is [n_states, len(grids[t])]; ``estimates`` are the approximate values at the initial state
    per start stock in ``grids[0]``; ``successors`` is :func:`_padded_successors`' output.
    """
    scores = np.array([objective.score(c, v) for c, v in zip(grids[0], estimates, strict=True)])
    k0 = int(np.argmax(scores))
    c0 = float(grids[0][k0])

    def actions_at(t, s, y):
        return actions[t][s, _nearest(grids[t], y)] if grids[t].size > 1 else np.full(y.size, actions[t][s, 0])

    def policy_fn(t, s, stock):
        return int(actions_at(t, s, np.array([stock * mdp.gamma ** t]))[0])

    if evaluation == "exact":
        dist = _propagate(mdp, horizon, c0, quantum, actions_at)
    else:
        dist = _monte_carlo(mdp, horizon, c0, actions_at, *successors, int(n_eval_paths), seed)
    return DPResult(value=objective.evaluate(dist), initial_stock=c0, distribution=dist, horizon=horizon,
                    method=method, objective=objective, mdp=mdp, approx_value=float(scores[k0]),
                    _policy_fn=policy_fn, _actions_at=actions_at, _quantum=quantum)


def solve_quantile(mdp: FiniteMDP, objective: Objective, *, n_quantiles: int = 64, n_stocks: int = 201,
                   evaluation: str = "exact", n_eval_paths: int = 100_000, seed: int | None = 0,
                   atom_tol: float = 1e-9, truncation_tol: float = 1e-6) -> DPResult:
    """Quantile stock-augmented DP; see :func:`qfin.dp.solve` (``method="quantile"``)."""
    if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, (int, np.integer)) or n_quantiles < 1:
        raise QfinError(f"n_quantiles must be an integer >= 1; got {n_quantiles!r}")
    check_grid_arguments(n_stocks, evaluation)
    horizon = mdp.effective_horizon(truncation_tol)
    lo, hi = _return_bounds(mdp, horizon)
    grids = stock_grids(objective, lo, hi, horizon, n_stocks)
    nxt, rew, prob = _padded_successors(mdp)
    n_s, n_a, n_b = nxt.shape
    n = int(n_quantiles)
    k_max = max(g.size for g in grids)
    # z_t and z_next [S, K, N], and per action the successor quantiles [S, K, B, N] with their atoms, weights,
    # sort order and cumulative weights (about six arrays of that size) at float64/int64.
    check_memory(8.0 * n_s * k_max * n * (2 + 6 * n_b), f"the quantile DP tables ({n_s:,} states x {k_max:,} "
                 f"stocks x {n:,} quantiles x {n_b} successors)", "n_quantiles or n_stocks")
    z_next = np.zeros((n_s, grids[horizon].size, n))
    actions = [None] * horizon
    for t in range(horizon - 1, -1, -1):
        g_t, g_next, disc = grids[t], grids[t + 1], mdp.gamma ** t
        best_score = np.full((n_s, g_t.size), -np.inf)
        z_t = np.zeros((n_s, g_t.size, n))
        act = np.zeros((n_s, g_t.size), np.int64)
        for a in range(n_a):
            y_next = g_t[None, :, None] + disc * rew[:, a, None, :]                      # [S, K, B]
            j = _nearest(g_next, y_next)
            succ = z_next[nxt[:, a, None, :], j]                                        # [S, K, B, N]
            atoms = rew[:, a, None, :, None] + mdp.gamma * succ
            weights = np.broadcast_to(prob[:, a, None, :, None] / n, atoms.shape)
            z_a = _project_quantiles(atoms.reshape(n_s, g_t.size, n_b * n),
                                     weights.reshape(n_s, g_t.size, n_b * n), n)
            score = objective.utility(g_t[None, :, None] + disc * z_a).mean(axis=2)
            best_score, act, z_t = keep_better(score, best_score, act, a, z_a, z_t)
        actions[t] = act
        z_next = z_t
    return greedy_result(mdp, objective, horizon, grids, actions, best_score[mdp.initial_state], "quantile",
                         _quantum(atom_tol), evaluation, n_eval_paths, seed, (nxt, rew, prob))


def _monte_carlo(mdp, horizon, c0, actions_at, nxt, rew, prob, n_paths, seed):
    """Empirical law of G from n_paths simulated episodes of the policy (seeded)."""
    if n_paths < 1:
        raise QfinError(f"n_eval_paths must be >= 1; got {n_paths!r}")
    rng = np.random.default_rng(seed)
    s = np.full(n_paths, mdp.initial_state, np.int64)
    y = np.full(n_paths, c0)
    for t in range(horizon):
        a = np.empty(n_paths, np.int64)
        for st in np.unique(s):
            m = s == st
            a[m] = actions_at(t, int(st), y[m])
        cum = np.cumsum(prob[s, a], axis=1)
        k = np.minimum((rng.random(n_paths)[:, None] > cum).sum(axis=1), cum.shape[1] - 1)
        y = y + mdp.gamma ** t * rew[s, a, k]
        s = nxt[s, a, k]
    return ReturnDistribution.from_atoms(y - c0, np.full(n_paths, 1.0 / n_paths))
