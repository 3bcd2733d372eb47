"""The finite MDP model: transition probabilities, per-transition rewards (optionally a finite reward law per
transition), discount, horizon and initial state, validated once where it enters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qfin.errors import QfinError

__all__ = ["FiniteMDP"]

_PROB_TOL = 1e-9


class FiniteMDP:
    """A finite Markov decision process with rewards on transitions.

    Parameters
    ----------
    transitions : [S, A, S'] array, P(s' | s, a); every row over s' must be a probability vector.
    rewards : [S, A, S'] array (the reward of the transition s -a-> s'), or [S, A, S', K] array of K possible
        rewards per transition, with ``reward_probs`` giving their probabilities.
    gamma : discount in (0, 1]. The return is G = sum_t gamma^t r_t (higher is better).
    horizon : number of decisions T >= 1, or ``None`` for an infinite horizon (needs gamma < 1; the solvers
        then truncate at the horizon where the discounted tail of rewards is below a tolerance).
    initial_state : index of the start state s_0.
    reward_probs : [S, A, S', K] array, P(r = rewards[s, a, s', k] | s, a, s'); only with 4-d ``rewards``.

    Raises
    ------
    QfinError naming the offending array, index and rule (shape, sign, row sum, finiteness, range).
    """

    def __init__(self, transitions: Any, rewards: Any, gamma: float = 1.0, horizon: int | None = 1,
                 initial_state: int = 0, reward_probs: Any = None) -> None:
        p = _float_array(transitions, "transitions")
        if p.ndim != 3 or p.shape[0] != p.shape[2] or min(p.shape) == 0:
            raise QfinError(f"transitions must be a non-empty [S, A, S] array (next-state axis last, same size "
                            f"as the state axis); got shape {p.shape}")
        n_s, n_a, _ = p.shape
        _check_probabilities(p, "transitions", "(s, a)")
        r = _float_array(rewards, "rewards")
        if r.ndim == 3:
            if reward_probs is not None:
                raise QfinError("reward_probs needs rewards of shape [S, A, S, K] (K possible rewards per "
                                f"transition); got rewards of shape {r.shape}")
            r = r[..., None]
            q = np.ones_like(r)
        elif r.ndim == 4:
            if reward_probs is None:
                raise QfinError("rewards of shape [S, A, S, K] need reward_probs of the same shape")
            q = _float_array(reward_probs, "reward_probs")
            if q.shape != r.shape:
                raise QfinError(f"reward_probs must have the shape of rewards {r.shape}; got {q.shape}")
            _check_probabilities(q, "reward_probs", "(s, a, s')")
        else:
            raise QfinError(f"rewards must be [S, A, S] or [S, A, S, K]; got shape {r.shape}")
        if r.shape[:3] != p.shape:
            raise QfinError(f"rewards must match transitions {p.shape} on the first three axes; got {r.shape}")
        gamma = float(gamma)
        if not 0.0 < gamma <= 1.0:
            raise QfinError(f"gamma must be in (0, 1]; got {gamma!r}")
        if horizon is None:
            if gamma >= 1.0:
                raise QfinError("an infinite horizon (horizon=None) needs gamma < 1 so that the return is finite")
        elif isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise QfinError(f"horizon must be an integer >= 1 or None (infinite); got {horizon!r}")
        if isinstance(initial_state, bool) or not isinstance(initial_state, (int, np.integer)) \
                or not 0 <= initial_state < n_s:
            raise QfinError(f"initial_state must be a state index in [0, {n_s - 1}]; got {initial_state!r}")
        self.transitions = p
        self.rewards = r
        self.reward_probs = q
        self.gamma = gamma
        self.horizon = None if horizon is None else int(horizon)
        self.initial_state = int(initial_state)
        self.n_states, self.n_actions = n_s, n_a
        # Flattened successor lists per (s, a): next state, reward and probability of each (s', k) outcome
        # with positive probability, so the solvers never loop over impossible outcomes.
        joint = p[..., None] * q
        self._succ: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        for s in range(n_s):
            row = []
            for a in range(n_a):
                nz = np.nonzero(joint[s, a] > 0.0)
                row.append((nz[0].astype(np.int64), r[s, a][nz].copy(), joint[s, a][nz].copy()))
            self._succ.append(row)

    @property
    def max_abs_reward(self) -> float:
        """Largest |r| over transitions that can happen."""
        joint = self.transitions[..., None] * self.reward_probs
        live = self.rewards[joint > 0.0]
        return float(np.abs(live).max()) if live.size else 0.0

    def effective_horizon(self, truncation_tol: float) -> int:
        """The horizon T used for solving: the MDP's own, or (infinite horizon) the smallest T with
        gamma^T * max|r| / (1 - gamma) <= truncation_tol, so the ignored tail of G is below the tolerance."""
        if self.horizon is not None:
            return self.horizon
        if not truncation_tol > 0.0:
            raise QfinError(f"truncation_tol must be > 0; got {truncation_tol!r}")
        bound = self.max_abs_reward / (1.0 - self.gamma)
        if bound <= truncation_tol:
            return 1
        return max(1, math.ceil(math.log(truncation_tol / bound) / math.log(self.gamma)))

    def __repr__(self) -> str:
        return (f"FiniteMDP(states={self.n_states}, actions={self.n_actions}, outcomes={self.rewards.shape[3]}, "
                f"gamma={self.gamma}, horizon={self.horizon}, initial_state={self.initial_state})")


def _float_array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QfinError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise QfinError(f"{name} must be finite; found {arr[bad]} at index {bad}")
    return arr


def _check_probabilities(p: np.ndarray, name: str, row: str) -> None:
    if np.any(p < 0.0):
        bad = tuple(int(i) for i in np.argwhere(p < 0.0)[0])
        raise QfinError(f"{name} must be non-negative probabilities; found {p[bad]} at index {bad}")
    sums = p.sum(axis=-1)
    off = np.abs(sums - 1.0) > _PROB_TOL
    if np.any(off):
        bad = tuple(int(i) for i in np.argwhere(off)[0])
        raise QfinError(f"{name} must sum to 1 over the last axis for every {row}; the row at {bad} sums to "
                        f"{sums[bad]!r}")
