"""A small finite-horizon tabular MDP whose policy values are exact (dynamic programming), and a vectorised
rollout that logs episodes of a stochastic behavior policy with the candidates' propensities.

It is the ground-truth testbed of the estimators: J(pi) and Q^pi_t(s, a) come from backward induction
(Puterman 1994, sec. 4.2), so "unbiased" can be checked against a number, not against another estimate.

Policies are stationary action distributions ``probs[s, a]`` (rows sum to 1); :func:`softmax_policy` and
:func:`epsilon_greedy_policy` build the usual stochastic behavior policies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qfin.errors import DataValidationError
from qfin.ope._logged import LoggedData

__all__ = ["TabularMDP", "random_tabular_mdp", "softmax_policy", "epsilon_greedy_policy", "rollout"]


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """Finite-horizon MDP: ``transitions[s, a, s']``, mean ``rewards[s, a]`` (observed with Gaussian noise of std
    ``reward_noise``), ``initial[s]``, ``horizon`` steps at most, discount ``gamma``. Entering a state with
    ``terminal[s']`` True ends the episode (done=True on that step; its reward counts)."""

    transitions: np.ndarray
    rewards: np.ndarray
    initial: np.ndarray
    horizon: int
    gamma: float = 1.0
    terminal: np.ndarray | None = None
    reward_noise: float = 0.0

    def __post_init__(self) -> None:
        p = np.asarray(self.transitions, dtype=np.float64)
        if p.ndim != 3 or p.shape[0] != p.shape[2]:
            raise DataValidationError(f"transitions must be [S, A, S], got {p.shape}", column="transitions")
        if np.any(p < 0) or not np.allclose(p.sum(axis=2), 1.0):
            raise DataValidationError("transitions[s, a, :] must be probability rows", column="transitions")
        object.__setattr__(self, "transitions", p)
        object.__setattr__(self, "rewards", np.asarray(self.rewards, dtype=np.float64).reshape(p.shape[:2]))
        mu = np.asarray(self.initial, dtype=np.float64)
        if mu.shape != (p.shape[0],) or not np.isclose(mu.sum(), 1.0) or np.any(mu < 0):
            raise DataValidationError("initial must be a probability vector over the states", column="initial")
        object.__setattr__(self, "initial", mu)
        term = np.zeros(p.shape[0], bool) if self.terminal is None else np.asarray(self.terminal, bool)
        if np.any(mu[term] > 0):
            raise DataValidationError("an episode cannot start in a terminal state", column="initial")
        object.__setattr__(self, "terminal", term)

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[1]

    def _check_policy(self, probs) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (self.n_states, self.n_actions) or np.any(probs < 0) or \
                not np.allclose(probs.sum(axis=1), 1.0):
            raise DataValidationError(f"a policy must be probability rows of shape ({self.n_states}, "
                                      f"{self.n_actions}), got {probs.shape}", column="policy")
        return probs

    def q_values(self, probs) -> np.ndarray:
        """Exact Q^pi_t(s, a) for t = 0..H-1, shape [H, S, A], by backward induction."""
        probs = self._check_policy(probs)
        q = np.zeros((self.horizon, self.n_states, self.n_actions))
        v_next = np.zeros(self.n_states)
        cont = (~self.terminal).astype(np.float64)
        for t in range(self.horizon - 1, -1, -1):
            q[t] = self.rewards + self.gamma * self.transitions @ (cont * v_next)
            v_next = (probs * q[t]).sum(axis=1)
        return q

    def policy_value(self, probs) -> float:
        """Exact J(pi) = E[sum_t gamma^t r_t] from the initial distribution."""
        probs = self._check_policy(probs)
        return float(self.initial @ (probs * self.q_values(probs)[0]).sum(axis=1))


def random_tabular_mdp(n_states: int = 4, n_actions: int = 3, horizon: int = 5, *, gamma: float = 0.95,
                       terminal_prob: float = 0.1, reward_noise: float = 0.5, seed: int = 0) -> TabularMDP:
    """A random MDP with ``n_states`` ordinary states plus one absorbing terminal state (the last index), reached
    from any state-action pair with probability ``terminal_prob``; mean rewards uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    s = n_states
    p = np.zeros((s + 1, n_actions, s + 1))
    p[:s, :, :s] = rng.dirichlet(np.ones(s), size=(s, n_actions)) * (1.0 - terminal_prob)
    p[:s, :, s] = terminal_prob
    p[s, :, s] = 1.0
    rewards = np.zeros((s + 1, n_actions))
    rewards[:s] = rng.uniform(-1.0, 1.0, size=(s, n_actions))
    initial = np.r_[np.full(s, 1.0 / s), 0.0]
    terminal = np.r_[np.zeros(s, bool), True]
    return TabularMDP(p, rewards, initial, horizon, gamma, terminal, reward_noise)


def softmax_policy(logits, temperature: float = 1.0) -> np.ndarray:
    """probs[s, a] proportional to exp(logits[s, a] / temperature)."""
    if not temperature > 0:
        raise DataValidationError(f"temperature must be > 0, got {temperature}", column="temperature")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def epsilon_greedy_policy(greedy_actions, n_actions: int, epsilon: float) -> np.ndarray:
    """probs[s, a] = 1 - epsilon + epsilon / A for the greedy action, epsilon / A for the others."""
    if not 0.0 <= epsilon <= 1.0:
        raise DataValidationError(f"epsilon must lie in [0, 1], got {epsilon}", column="epsilon")
    greedy = np.asarray(greedy_actions, dtype=np.int64)
    probs = np.full((greedy.size, n_actions), epsilon / n_actions)
    probs[np.arange(greedy.size), greedy] += 1.0 - epsilon
    return probs


def _sample(probs_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(probs_rows.shape[0])[:, None]
    return np.minimum((np.cumsum(probs_rows, axis=1) <= u).sum(axis=1), probs_rows.shape[1] - 1)


def rollout(mdp: TabularMDP, behavior, candidates: dict, n_episodes: int, *, seed: int = 0) -> LoggedData:
    """Log ``n_episodes`` episodes of the behavior policy ``behavior[s, a]`` on ``mdp``, with each candidate's
    propensities and full action distributions (``candidates``: name -> probs[s, a]). All episodes run in one
    vectorised loop over the horizon; padding after termination follows :class:`LoggedData`."""
    rng = np.random.default_rng(seed)
    pb = mdp._check_policy(behavior)
    pes = {name: mdp._check_policy(p) for name, p in candidates.items()}
    n, h = int(n_episodes), mdp.horizon
    state = np.zeros((n, h), np.int64)
    action = np.zeros((n, h), np.int64)
    reward = np.zeros((n, h))
    done = np.zeros((n, h), bool)
    alive = np.ones(n, bool)
    length = np.zeros(n, np.int64)
    s = _sample(np.broadcast_to(mdp.initial, (n, mdp.n_states)), rng)
    for t in range(h):
        a = _sample(pb[s], rng)
        s_next = _sample(mdp.transitions[s, a], rng)
        r = mdp.rewards[s, a] + mdp.reward_noise * rng.standard_normal(n)
        state[:, t] = np.where(alive, s, 0)
        action[:, t] = np.where(alive, a, 0)
        reward[:, t] = np.where(alive, r, 0.0)
        ends = alive & mdp.terminal[s_next]
        done[:, t] = ends
        length += alive
        alive = alive & ~ends
        s = s_next
    valid = np.arange(h)[None, :] < length[:, None]
    uniform = np.full(mdp.n_actions, 1.0 / mdp.n_actions)

    def dist(probs):
        return np.where(valid[:, :, None], probs[state], uniform)

    def pscore(probs):
        return np.where(valid, probs[state, action], 1.0)

    return LoggedData(state=state, action=action, reward=reward, done=done, behavior_pscore=pscore(pb),
                      candidate_pscores={k: pscore(p) for k, p in pes.items()}, length=length, gamma=mdp.gamma,
                      n_actions=mdp.n_actions, candidate_action_dist={k: dist(p) for k, p in pes.items()},
                      behavior_action_dist=dist(pb))
