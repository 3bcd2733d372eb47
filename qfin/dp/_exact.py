"""Exact distributional DP over stock-augmented states (s, c) of a finite MDP.

The stock is c_t = (c0 + sum_{k<t} gamma^k r_k) / gamma^t (Pires et al. 2025, arXiv 2501.13028), so that
c_{t+1} = (c_t + r_t) / gamma and gamma^T c_T = c0 + G. Internally the undiscounted partial sum
y_t = gamma^t c_t is carried instead (same information, no growth from dividing by gamma), snapped to a grid of
spacing q (a power of two near ``atom_tol``) so that equal stocks reached along different paths are one atom and
look-ups are exact. Backward induction then gives V_t(s, y) = max_a E[V_{t+1}(s', y + gamma^t r)] with
V_T(s, y) = f(y): the optimum over all history-dependent policies, because (s_t, y_t) is a sufficient statistic
of the history for the law of c0 + G.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qfin.data import check_memory
from qfin.dp._distribution import ReturnDistribution
from qfin.dp._mdp import FiniteMDP
from qfin.dp._objectives import Objective
from qfin.errors import QfinError

__all__ = ["DPResult", "achievable_returns", "evaluate_policy", "policy_result", "solve_exact"]

_TIE_TOL = 1e-12


def _quantum(atom_tol: float) -> float:
    if not 0.0 < atom_tol < 1.0:
        raise QfinError(f"atom_tol must be in (0, 1); got {atom_tol!r}")
    return 2.0 ** math.floor(math.log2(atom_tol))


def _snap(x: np.ndarray, q: float) -> np.ndarray:
    return np.round(np.asarray(x, float) / q) * q


@dataclass
class _Tables:
    """Reachable stocks Y[t][s] (sorted, snapped), values V[t][s] and greedy actions A[t][s] aligned with them."""

    stocks: list[dict[int, np.ndarray]]
    values: list[dict[int, np.ndarray]] = field(default_factory=list)
    actions: list[dict[int, np.ndarray]] = field(default_factory=list)


def _forward_stocks(mdp: FiniteMDP, start: np.ndarray, horizon: int, q: float) -> list[dict[int, np.ndarray]]:
    """Stocks y_t reachable at each (t, s) under some policy from the start stocks at s_0."""
    ys = [{mdp.initial_state: np.unique(_snap(start, q))}]
    fan_out = [sum(mdp._succ[s][a][0].size for a in range(mdp.n_actions)) for s in range(mdp.n_states)]
    held = 0
    for t in range(horizon):
        # The candidates of step t + 1 (each stock times each action's successors) are built, joined and sorted
        # (about three float64 copies), and every table so far keeps a stock, a value and an action per entry.
        held += sum(y.size for y in ys[t].values())
        candidates = sum(y.size * fan_out[s] for s, y in ys[t].items())
        check_memory(8.0 * (3 * candidates + 3 * held), f"the exact DP's stock-augmented states at step {t + 1} of "
                     f"{horizon} ({candidates:,} candidate stocks)", "the horizon or the number of distinct rewards, "
                     "raise atom_tol, or use method='quantile' or 'categorical'")
        g = mdp.gamma ** t
        nxt: dict[int, list[np.ndarray]] = defaultdict(list)
        for s, y in ys[t].items():
            for a in range(mdp.n_actions):
                s2, r, _ = mdp._succ[s][a]
                vals = _snap(y[:, None] + g * r[None, :], q)
                for j in np.unique(s2):
                    nxt[int(j)].append(vals[:, s2 == j].ravel())
        ys.append({s: np.unique(np.concatenate(v)) for s, v in sorted(nxt.items())})
    return ys


def achievable_returns(mdp: FiniteMDP, horizon: int, atom_tol: float = 1e-9) -> np.ndarray:
    """Every value the return G can take under some policy (snapped to the atom grid), sorted."""
    q = _quantum(atom_tol)
    last = _forward_stocks(mdp, np.array([0.0]), horizon, q)[-1]
    return np.unique(np.concatenate(list(last.values())))


def _lookup(grid: np.ndarray, vals: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(grid, vals)
    idx = np.minimum(idx, grid.size - 1)
    if not np.array_equal(grid[idx], vals):  # cannot happen for stocks produced by _forward_stocks
        raise QfinError("internal error: a successor stock is missing from the reachable set")
    return idx


def _backup(mdp, t, s, y, next_stocks, next_values, q, fixed_actions=None):
    """Q_t(s, y, a) [n, A] from V_{t+1}; with ``fixed_actions`` [n] only that action's column is filled."""
    g = mdp.gamma ** t
    out = np.full((y.size, mdp.n_actions), -np.inf)
    for a in range(mdp.n_actions):
        rows = slice(None) if fixed_actions is None else (fixed_actions == a)
        yy = y[rows]
        if yy.size == 0:
            continue
        s2, r, p = mdp._succ[s][a]
        vals = _snap(yy[:, None] + g * r[None, :], q)
        acc = np.zeros(yy.size)
        for j, s_next in enumerate(s2):
            acc += p[j] * next_values[int(s_next)][_lookup(next_stocks[int(s_next)], vals[:, j])]
        out[rows, a] = acc
    return out


def _greedy(qv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best = qv.max(axis=1)
    # Ties go to the lowest action index, so the policy is deterministic and reproducible.
    act = np.argmax(qv >= best[:, None] - _TIE_TOL * np.maximum(1.0, np.abs(best[:, None])), axis=1)
    return best, act


def _value_iteration(mdp, objective, tables, horizon, q):
    ys = tables.stocks
    tables.values = [{} for _ in range(horizon + 1)]
    tables.actions = [{} for _ in range(horizon)]
    tables.values[horizon] = {s: objective.utility(y) for s, y in ys[horizon].items()}
    for t in range(horizon - 1, -1, -1):
        for s, y in ys[t].items():
            best, act = _greedy(_backup(mdp, t, s, y, ys[t + 1], tables.values[t + 1], q))
            tables.values[t][s], tables.actions[t][s] = best, act


def _policy_iteration(mdp, objective, tables, horizon, q, max_iter=100):
    """Evaluate the current stock-augmented policy exactly, improve greedily everywhere, repeat until stable.
    On a finite horizon it stabilises after at most T + 1 sweeps and equals backward induction."""
    ys = tables.stocks
    acts = [{s: np.zeros(y.size, dtype=np.int64) for s, y in ys[t].items()} for t in range(horizon)]
    for _ in range(max_iter):
        vals = [{} for _ in range(horizon + 1)]
        vals[horizon] = {s: objective.utility(y) for s, y in ys[horizon].items()}
        for t in range(horizon - 1, -1, -1):
            for s, y in ys[t].items():
                qv = _backup(mdp, t, s, y, ys[t + 1], vals[t + 1], q, fixed_actions=acts[t][s])
                vals[t][s] = qv[np.arange(y.size), acts[t][s]]
        changed = False
        for t in range(horizon):
            for s, y in ys[t].items():
                qv = _backup(mdp, t, s, y, ys[t + 1], vals[t + 1], q)
                best, act = _greedy(qv)
                cur = qv[np.arange(y.size), acts[t][s]]
                improve = best > cur + _TIE_TOL * np.maximum(1.0, np.abs(best))
                if np.any(improve):
                    acts[t][s] = np.where(improve, act, acts[t][s])
                    changed = True
        if not changed:
            tables.values, tables.actions = vals, acts
            return
    raise QfinError(f"policy iteration did not stabilise in {max_iter} sweeps")


@dataclass
class DPResult:
    """What :func:`qfin.dp.solve` returns.

    Attributes
    ----------
    value : the objective at the initial state under the returned policy (exact for ``method="exact"``; for the
        quantile and categorical methods, the exact or Monte Carlo value of the greedy policy it found).
    initial_stock : the chosen start stock c0 (for CVaR, minus the optimal VaR).
    distribution : :class:`ReturnDistribution` of G under the returned policy (``atoms``, ``probabilities``).
    horizon : the horizon solved (the MDP's, or the truncation of an infinite one).
    method : "exact", "quantile" or "categorical"; ``approx_value`` is the approximate model's own estimate.
    """

    value: float
    initial_stock: float
    distribution: ReturnDistribution
    horizon: int
    method: str
    objective: Objective
    mdp: FiniteMDP
    approx_value: float | None = None
    _policy_fn: Callable[[int, int, float], int] | None = None
    _actions_at: Callable[[int, int, np.ndarray], np.ndarray] | None = None
    _quantum: float = 2.0 ** -30

    def reachable_policy_table(self) -> list[dict]:
        """Rows (t, state, stock, action, probability) for every augmented state the policy visits from c0."""
        record: list = []
        _propagate(self.mdp, self.horizon, self.initial_stock, self._quantum, self._actions_at, record)
        rows = []
        for t, s, y, p, act in record:
            for yi, pi, ai in zip(y, p, act, strict=True):
                rows.append({"t": t, "state": s, "stock": float(yi / self.mdp.gamma ** t), "action": int(ai),
                             "probability": float(pi)})
        return rows

    @property
    def atoms(self) -> np.ndarray:
        return self.distribution.atoms

    @property
    def probabilities(self) -> np.ndarray:
        return self.distribution.probabilities

    def policy(self, t: int, state: int, stock: float) -> int:
        """The action at time t in ``state`` with stock c_t = (c0 + sum_{k<t} gamma^k r_k) / gamma^t."""
        if not 0 <= t < self.horizon:
            raise QfinError(f"t must be in [0, {self.horizon - 1}]; got {t!r}")
        if not 0 <= state < self.mdp.n_states:
            raise QfinError(f"state must be in [0, {self.mdp.n_states - 1}]; got {state!r}")
        return int(self._policy_fn(int(t), int(state), float(stock)))


class _ExactPolicy:
    """Greedy stock-augmented policy from the tables, computing off-table stocks on demand (memoised)."""

    def __init__(self, mdp, objective, tables, q):
        self.mdp, self.objective, self.tables, self.q = mdp, objective, tables, q
        self._memo: dict[tuple[int, int, float], tuple[float, int]] = {}

    def _value_action(self, t, s, y):
        grid = self.tables.stocks[t].get(s)
        if grid is not None:
            i = np.searchsorted(grid, y)
            if i < grid.size and grid[i] == y:
                v = self.tables.values[t][s][i]
                return v, (int(self.tables.actions[t][s][i]) if t < len(self.tables.actions) else -1)
        key = (t, s, y)
        if key not in self._memo:
            if t == len(self.tables.actions):
                self._memo[key] = (float(self.objective.utility(np.array([y]))[0]), -1)
            else:
                g = self.mdp.gamma ** t
                qv = np.zeros((1, self.mdp.n_actions))
                for a in range(self.mdp.n_actions):
                    s2, r, p = self.mdp._succ[s][a]
                    vals = _snap(y + g * r, self.q)
                    qv[0, a] = sum(p[j] * self._value_action(t + 1, int(s2[j]), float(vals[j]))[0]
                                   for j in range(s2.size))
                best, act = _greedy(qv)
                self._memo[key] = (float(best[0]), int(act[0]))
        return self._memo[key]

    def __call__(self, t, s, stock):
        y = float(_snap(stock * self.mdp.gamma ** t, self.q))
        return self._value_action(t, s, y)[1]

    def actions_at(self, t, s, y):
        """Vectorised greedy actions for snapped partial sums y [n] (table hits; misses on demand)."""
        grid = self.tables.stocks[t].get(s)
        out = np.empty(y.size, dtype=np.int64)
        if grid is not None:
            i = np.minimum(np.searchsorted(grid, y), grid.size - 1)
            hit = grid[i] == y
            out[hit] = self.tables.actions[t][s][i[hit]]
        else:
            hit = np.zeros(y.size, bool)
        for k in np.nonzero(~hit)[0]:
            out[k] = self._value_action(t, s, float(y[k]))[1]
        return out


def _propagate(mdp, horizon, c0, q, actions_at, record=None):
    """Exact law of G from start stock c0 when the action at (t, s, y) is actions_at(t, s, y[n]) -> [n].
    With a list ``record``, appends (t, s, y[n], prob[n], action[n]) for every state visited."""
    dist = {mdp.initial_state: (np.array([_snap(c0, q)]), np.array([1.0]))}
    for t in range(horizon):
        g = mdp.gamma ** t
        nxt_y: dict[int, list] = defaultdict(list)
        nxt_p: dict[int, list] = defaultdict(list)
        for s, (y, p) in dist.items():
            act = np.asarray(actions_at(t, s, y), dtype=np.int64)
            if record is not None:
                record.append((t, s, y, p, act))
            for a in np.unique(act):
                if not 0 <= a < mdp.n_actions:
                    raise QfinError(f"the policy returned action {a} at t={t}, state={s}; actions are 0.."
                                    f"{mdp.n_actions - 1}")
                m = act == a
                s2, r, pr = mdp._succ[s][int(a)]
                vals = _snap(y[m, None] + g * r[None, :], q)
                w = p[m, None] * pr[None, :]
                for j in np.unique(s2):
                    nxt_y[int(j)].append(vals[:, s2 == j].ravel())
                    nxt_p[int(j)].append(w[:, s2 == j].ravel())
        dist = {}
        for s, ys_s in nxt_y.items():
            d = ReturnDistribution.from_atoms(np.concatenate(ys_s), np.concatenate(nxt_p[s]))
            dist[s] = (d.atoms, d.probabilities)
    ys = np.concatenate([v[0] for v in dist.values()])
    ps = np.concatenate([v[1] for v in dist.values()])
    return ReturnDistribution.from_atoms(_snap(ys - _snap(c0, q), q), ps)


def policy_result(mdp: FiniteMDP, objective: Objective, initial_stock: float,
                  actions_at: Callable[[int, int, np.ndarray], np.ndarray], *, method: str,
                  approx_value: float | None = None, atom_tol: float = 1e-9) -> DPResult:
    """The exact :class:`DPResult` of a vectorised stock-augmented policy started at ``initial_stock``.

    ``actions_at(t, state, y)`` maps the partial sums y [n] (c0 + sum_{k<t} gamma^k r_k) to actions [n]. This is
    how a solver outside this package (the QR-DQN variant in :mod:`qfin.agents`) reports the exact objective of
    the policy it learnt, with ``approx_value`` its own estimate.
    """
    q = _quantum(atom_tol)
    horizon = mdp.horizon if mdp.horizon is not None else mdp.effective_horizon(1e-6)
    dist = _propagate(mdp, horizon, float(initial_stock), q, actions_at)

    def policy_fn(t, s, stock):
        return int(actions_at(t, s, np.array([stock * mdp.gamma ** t]))[0])

    return DPResult(value=objective.evaluate(dist), initial_stock=float(initial_stock), distribution=dist,
                    horizon=horizon, method=method, objective=objective, mdp=mdp,
                    approx_value=None if approx_value is None else float(approx_value), _policy_fn=policy_fn,
                    _actions_at=actions_at, _quantum=q)


def evaluate_policy(mdp: FiniteMDP, policy: Any, stock: float = 0.0, *, horizon: int | None = None,
                    atom_tol: float = 1e-9, truncation_tol: float = 1e-6) -> ReturnDistribution:
    """The exact law of the return G of any policy (policy evaluation by forward propagation of atoms).

    Parameters
    ----------
    mdp : the model.
    policy : a callable ``policy(t, state, stock) -> action`` (stock in the c_t convention of
        :meth:`DPResult.policy`), a :class:`DPResult`, or an integer array of Markov actions [T, S] or [S].
    stock : start stock c0 handed to a stock-dependent policy.
    horizon : defaults to the MDP's (or its truncation for an infinite horizon).
    atom_tol : atoms closer than about this are merged.
    """
    q = _quantum(atom_tol)
    horizon = horizon or mdp.effective_horizon(truncation_tol)
    if isinstance(policy, DPResult):
        policy = policy.policy
    if callable(policy):
        def actions_at(t, s, y):
            c = y / mdp.gamma ** t
            return np.array([policy(t, s, float(ci)) for ci in c], dtype=np.int64)
    else:
        table = np.asarray(policy)
        if not np.issubdtype(table.dtype, np.integer):
            raise QfinError(f"a policy array must hold integer actions; got dtype {table.dtype}")
        if table.ndim == 1:
            table = np.broadcast_to(table, (horizon, table.size))
        if table.shape != (horizon, mdp.n_states):
            raise QfinError(f"a policy array must be [T, S] = ({horizon}, {mdp.n_states}) or [S]; got "
                            f"{np.shape(policy)}")

        def actions_at(t, s, y):
            return np.full(y.size, table[t, s])
    return _propagate(mdp, horizon, float(stock), q, actions_at)


def solve_exact(mdp: FiniteMDP, objective: Objective, *, algorithm: str = "value_iteration",
                atom_tol: float = 1e-9, truncation_tol: float = 1e-6) -> DPResult:
    """Exact stock-augmented DP; see :func:`qfin.dp.solve`."""
    q = _quantum(atom_tol)
    horizon = mdp.effective_horizon(truncation_tol)
    support = achievable_returns(mdp, horizon, atom_tol) if objective.searches_start_stock else None
    starts = np.unique(_snap(objective.start_stocks(support), q))
    tables = _Tables(_forward_stocks(mdp, starts, horizon, q))
    if algorithm == "value_iteration":
        _value_iteration(mdp, objective, tables, horizon, q)
    elif algorithm == "policy_iteration":
        _policy_iteration(mdp, objective, tables, horizon, q)
    else:
        raise QfinError(f"algorithm must be 'value_iteration' or 'policy_iteration'; got {algorithm!r}")
    grid0 = tables.stocks[0][mdp.initial_state]
    v0 = tables.values[0][mdp.initial_state][_lookup(grid0, starts)]
    scores = np.array([objective.score(c, v) for c, v in zip(starts, v0, strict=True)])
    best = int(np.argmax(scores >= scores.max() - _TIE_TOL * max(1.0, abs(scores.max()))))
    c0 = float(starts[best])
    pol = _ExactPolicy(mdp, objective, tables, q)
    dist = _propagate(mdp, horizon, c0, q, pol.actions_at)
    return DPResult(value=float(scores[best]), initial_stock=c0, distribution=dist, horizon=horizon,
                    method="exact", objective=objective, mdp=mdp, _policy_fn=pol, _actions_at=pol.actions_at,
                    _quantum=q)
