"""Categorical distributional DP over a stock grid, for problems too large for exact atoms.

Each augmented state (s, y_k) on a grid of partial sums y carries the law of the future return as probabilities
on a fixed grid of atoms z_1 < ... < z_K. The backup mixes r + gamma Z over successors and maps the result back
onto the grid with the Cramér projection Pi_C (Rowland et al. 2018, "An Analysis of Categorical Distributional
Reinforcement Learning"; the C51 projection of Bellemare et al. 2017): each target atom's mass is split
between its two neighbouring grid atoms in proportion to closeness. Pi_C keeps the total mass, and the mean
whenever the target lies within [z_1, z_K] (targets outside are clipped to the end atoms).

Without user bounds the atom grid of the return still to come at step t spans exactly its reachable range
[sum_{k<T-t} gamma^k r_min, sum_{k<T-t} gamma^k r_max], so no target is ever clipped and every backup keeps the
mean: the risk-neutral greedy policy is then optimal. With ``v_min``/``v_max`` one grid serves every step (as in
C51), so it must hold 0 and cover the return still to come at every step from every reachable state
(:func:`return_to_come_range`); a grid that does not is refused, naming the range needed, since clipping loses the
mean and the "optimal" value it reported could fall below the risk-neutral one.
The stock grid and the greedy step are those of the quantile method (y = 0, the utilities' kink, is a grid
point), and ``value`` is the exact (or Monte Carlo) value of the greedy policy, the model's own estimate kept as
``approx_value``.
"""

from __future__ import annotations

import math

import numpy as np

from qfin.data import check_memory
from qfin.dp._exact import DPResult, _quantum, _snap
from qfin.dp._mdp import FiniteMDP
from qfin.dp._objectives import Objective
from qfin.dp._quantile import (
    _nearest,
    _padded_successors,
    _return_bounds,
    check_grid_arguments,
    greedy_result,
    keep_better,
    stock_grids,
)
from qfin.errors import QfinError

__all__ = ["categorical_projection", "return_to_come_range", "solve_categorical"]


def categorical_projection(atoms, probs, grid) -> np.ndarray:
    """Cramér projection Pi_C of finite laws onto a grid (Rowland et al. 2018): the law on the grid nearest in the
    Cramér (L2 between CDFs) distance, the projection C51 uses.

    Parameters
    ----------
    atoms : [..., M] support points of each law (any order, repeats allowed).
    probs : [..., M] their probabilities (non-negative; rows need not be normalised, mass is kept as given).
    grid : [K] strictly increasing atoms z_1 < ... < z_K.

    Returns
    -------
    [..., K] probabilities on the grid. An atom x in [z_i, z_{i+1}] gives (z_{i+1} - x) / (z_{i+1} - z_i) of its
    mass to z_i and the rest to z_{i+1}; atoms outside [z_1, z_K] go to the nearer end atom. Total mass is kept,
    and the mean too when every atom lies within [z_1, z_K]; atoms already on the grid are kept exactly.
    """
    z = np.asarray(grid, dtype=float)
    if z.ndim != 1 or z.size < 1:
        raise QfinError(f"grid must be a non-empty 1-d array of atoms; got shape {z.shape}")
    if not np.all(np.isfinite(z)) or np.any(np.diff(z) <= 0.0):
        raise QfinError("grid must be finite and strictly increasing (z_1 < ... < z_K)")
    x = np.asarray(atoms, dtype=float)
    p = np.asarray(probs, dtype=float)
    if x.shape != p.shape or x.ndim < 1:
        raise QfinError(f"atoms and probs must have the same shape [..., M]; got {x.shape} and {p.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))) or np.any(p < 0.0):
        raise QfinError("atoms must be finite and probs finite and non-negative")
    return _project(x, p, z)


def _project(x: np.ndarray, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Pi_C on clean arrays: atoms [..., M] (broadcastable to the weights) and weights [..., M] -> [..., K]."""
    lead, k = p.shape[:-1], z.size
    if k == 1:
        return p.sum(axis=-1)[..., None]
    # Cells and splits depend on the atoms only: in a backup they are found once per (state, successor, atom)
    # and broadcast over the stocks. A scatter-add (bincount) rather than a projection-matrix product: linear
    # in K and single-threaded, so its time does not swing with BLAS threads on a busy machine.
    xc = np.clip(x, z[0], z[-1])
    i = np.clip(np.searchsorted(z, xc, side="right") - 1, 0, k - 2)  # z_i <= x <= z_{i+1}
    up = (xc - z[i]) / (z[i + 1] - z[i])
    n_rows = math.prod(lead)
    # One bincount for every row: row r's grid cells are offset by r K.
    idx = np.broadcast_to(i + np.arange(n_rows).reshape(lead + (1,)) * k, p.shape).ravel()
    out = np.bincount(idx, weights=(p * (1.0 - up)).ravel(), minlength=n_rows * k)
    out += np.bincount(idx + 1, weights=(p * up).ravel(), minlength=n_rows * k)
    return out.reshape(lead + (k,))


def _snapped(grid: np.ndarray, q: float) -> np.ndarray:
    """The grid snapped to the atom quantum (so round-off in linspace cannot move an atom or a stock off a
    utility's kink, e.g. -14.000000000000002 for -14), unless snapping would merge points."""
    out = _snap(grid, q)
    return out if np.all(np.diff(out) > 0.0) else grid


def _atom_grids(n_atoms: int, v_min: float | None, v_max: float | None, lo: np.ndarray, hi: np.ndarray,
                horizon: int, q: float) -> list[np.ndarray]:
    """Atom grids [K] for the return still to come at t = 0..T: one user grid, or each step's reachable range."""
    if v_min is not None:
        grid = _snapped(np.linspace(v_min, v_max, n_atoms), q)
        return [grid] * (horizon + 1)
    grids = []
    for t in range(horizon + 1):
        a, b = lo[horizon - t], hi[horizon - t]
        # A range of zero width (t = T, or all rewards equal) is one atom: its law is a point mass.
        grids.append(_snapped(np.linspace(a, b, n_atoms), q) if b > a else np.array([a]))
    return grids


def _check_arguments(n_atoms, v_min, v_max, n_stocks, evaluation):
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, (int, np.integer)) or n_atoms < 2:
        raise QfinError(f"n_atoms must be an integer >= 2 (the size of the categorical grid); got {n_atoms!r}")
    check_grid_arguments(n_stocks, evaluation)
    if (v_min is None) != (v_max is None):
        raise QfinError("give both v_min and v_max (the ends of the categorical grid) or neither (then each "
                        f"step's grid spans its reachable returns); got v_min={v_min!r}, v_max={v_max!r}")
    if v_min is None:
        return None, None
    try:
        lo, hi = float(v_min), float(v_max)
    except (TypeError, ValueError):
        raise QfinError(f"v_min and v_max must be numbers; got {v_min!r}, {v_max!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise QfinError(f"v_min and v_max must be finite; got {v_min!r}, {v_max!r}")
    if not lo < hi:
        raise QfinError(f"v_min must be below v_max; got v_min={v_min!r}, v_max={v_max!r}")
    if not lo <= 0.0 <= hi:
        # One grid serves every step, and at the horizon the return still to come is exactly 0.
        raise QfinError("the categorical grid [v_min, v_max] must contain 0 (the return still to come at the "
                        f"horizon) and should cover the returns still to come at every step; got [{lo}, {hi}]")
    return lo, hi


def return_to_come_range(mdp: FiniteMDP, horizon: int) -> tuple[float, float]:
    """The smallest and largest return still to come, sum_{k>=t} gamma^(k-t) r_k, over every step t <= T, every
    state reachable at t and every policy and path (0 at t = T): the range one categorical grid must cover.

    At t = 0 from the initial state these are the ends of :func:`qfin.dp.achievable_returns`; later steps can
    reach beyond them (rewards +5 then -5 give G = 0 but -5 still to come after the first step). Computed by
    forward reachability and a backward min/max recursion, O(T S A S' K), without enumerating returns.
    """
    live = (mdp.transitions[..., None] * mdp.reward_probs) > 0.0                     # [S, A, S', K]
    r_lo = np.where(live, mdp.rewards, np.inf)
    r_hi = np.where(live, mdp.rewards, -np.inf)
    step = live.any(axis=(1, 3))                                                      # [S, S'] some a, k
    reach = [np.zeros(mdp.n_states, bool)]
    reach[0][mdp.initial_state] = True
    for _ in range(horizon):
        reach.append(step[reach[-1]].any(axis=0))
    m_lo, m_hi = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
    need_lo, need_hi = 0.0, 0.0
    for t in range(horizon - 1, -1, -1):
        m_lo = np.min(r_lo + mdp.gamma * m_lo[None, None, :, None], axis=(1, 2, 3))
        m_hi = np.max(r_hi + mdp.gamma * m_hi[None, None, :, None], axis=(1, 2, 3))
        need_lo = min(need_lo, float(m_lo[reach[t]].min()))
        need_hi = max(need_hi, float(m_hi[reach[t]].max()))
    return need_lo, need_hi


def _check_grid_covers(mdp: FiniteMDP, horizon: int, v_min: float, v_max: float, q: float) -> None:
    need_lo, need_hi = return_to_come_range(mdp, horizon)
    slack = horizon * q  # the grid ends are snapped to the atom quantum
    if v_min > need_lo + slack or v_max < need_hi - slack:
        # A clipped backup loses the mean, and the greedy policy it yields can fall below the risk-neutral one.
        raise QfinError(f"the categorical grid [v_min, v_max] = [{v_min:g}, {v_max:g}] does not cover the returns "
                        f"still to come, which reach [{need_lo:g}, {need_hi:g}]; set v_min <= {need_lo:g} and "
                        f"v_max >= {need_hi:g}, or give neither (each step's grid then spans its reachable returns)")


def solve_categorical(mdp: FiniteMDP, objective: Objective, *, n_atoms: int = 51, v_min: float | None = None,
                      v_max: float | None = None, n_stocks: int = 201, evaluation: str = "exact",
                      n_eval_paths: int = 100_000, seed: int | None = 0, atom_tol: float = 1e-9,
                      truncation_tol: float = 1e-6) -> DPResult:
    """Categorical stock-augmented DP; see :func:`qfin.dp.solve` (``method="categorical"``)."""
    v_min, v_max = _check_arguments(n_atoms, v_min, v_max, n_stocks, evaluation)
    q = _quantum(atom_tol)
    horizon = mdp.effective_horizon(truncation_tol)
    if v_min is not None:
        _check_grid_covers(mdp, horizon, v_min, v_max, q)
    lo, hi = _return_bounds(mdp, horizon)
    stocks = stock_grids(objective, lo, hi, horizon, int(n_stocks), snap=lambda g: _snap(g, q))
    nxt, rew, prob = _padded_successors(mdp)
    n_s, n_a, n_b = nxt.shape
    k_max, z_max = max(g.size for g in stocks), int(n_atoms)
    # p_t and p_next [S, K, Z], and per action the successor laws [S, K, B, Z] with their weights and the
    # projection's cell indices and splits (about six arrays of that size) at float64/int64.
    check_memory(8.0 * n_s * k_max * z_max * (2 + 6 * n_b), f"the categorical DP tables ({n_s:,} states x "
                 f"{k_max:,} stocks x {z_max:,} atoms x {n_b} successors)", "n_atoms or n_stocks")
    zs = _atom_grids(int(n_atoms), v_min, v_max, lo, hi, horizon, q)
    # At T the return still to come is 0: a point mass, projected onto the last grid.
    p_next = np.broadcast_to(_project(np.zeros(1), np.ones(1), zs[horizon]),
                             (n_s, stocks[horizon].size, zs[horizon].size))
    actions = [None] * horizon
    for t in range(horizon - 1, -1, -1):
        g_t, g_next, z_t, z_next, disc = stocks[t], stocks[t + 1], zs[t], zs[t + 1], mdp.gamma ** t
        util = objective.utility(g_t[:, None] + disc * z_t[None, :])                   # [Ks, K]
        best_score = np.full((n_s, g_t.size), -np.inf)
        p_t = np.zeros((n_s, g_t.size, z_t.size))
        act = np.zeros((n_s, g_t.size), np.int64)
        for a in range(n_a):
            j = _nearest(g_next, g_t[None, :, None] + disc * rew[:, a, None, :])        # [S, Ks, B]
            succ = p_next[nxt[:, a, None, :], j]                                        # [S, Ks, B, K']
            targets = rew[:, a, None, :, None] + mdp.gamma * z_next                      # [S, 1, B, K']
            weights = prob[:, a, None, :, None] * succ
            p_a = _project(targets.reshape(n_s, 1, -1), weights.reshape(n_s, g_t.size, -1), z_t)
            score = np.einsum("skj,kj->sk", p_a, util)
            best_score, act, p_t = keep_better(score, best_score, act, a, p_a, p_t)
        actions[t] = act
        p_next = p_t
    return greedy_result(mdp, objective, horizon, stocks, actions, best_score[mdp.initial_state], "categorical", q,
                         evaluation, n_eval_paths, seed, (nxt, rew, prob))
