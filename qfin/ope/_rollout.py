"""Roll out menu policies on a Gymnasium environment: logged datasets for OPE and on-policy ground truth.

Episodes run in lockstep over a batch of environment copies: at each step the alive copies' observations are
stacked, the policy gives probabilities [m, A] for all of them at once, actions are sampled, and each copy steps.
Randomness has two independent sources: environment copy j is seeded once, with ``SeedSequence([seed, j])``, and
then draws its episodes from its own stream; actions come from one generator seeded ``[seed, 1_000_003]``. Two
policies rolled out with the same seed therefore meet the same market paths (common random numbers), which
makes their difference far less noisy than either value.

A time-limit cut (``truncated``) ends an episode without marking it ``done`` (:class:`LoggedData`'s rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import polars as pl

from qfin.data import check_memory
from qfin.errors import QfinError

from ._logged import LoggedData
from ._policies import MenuPolicy
from ._tabular import _sample

__all__ = ["Episodes", "run_episodes", "log_episodes", "policy_returns", "policy_values", "truth_table"]

_ACTION_STREAM = 1_000_003


@dataclass(frozen=True)
class Episodes:
    """Padded episodes [n, H(, d)]: observations, actions, rewards, termination flags, behavior probabilities
    pi(a_t | s_t) of the rolled-out policy, and the real length of each episode."""

    state: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    pscore: np.ndarray
    length: np.ndarray

    def returns(self, gamma: float) -> np.ndarray:
        """Discounted return sum_t gamma^t r_t of each episode [n]."""
        return self.reward @ (gamma ** np.arange(self.reward.shape[1]))


def _check_episodes(n_episodes: object) -> int:
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise QfinError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    return int(n_episodes)


def _rollout(make_env: Callable[[], gym.Env], policy: MenuPolicy, n: int, seed: int, batch: int,
             max_steps: int) -> Iterator[tuple[np.ndarray, list, list, list, list, np.ndarray]]:
    """Batches of finished episodes: (episode ids [m], then per episode its states, actions, pscores and rewards
    as lists, and done [m]). One generator for logging and for on-policy returns, so both draw the same numbers."""
    envs = [make_env() for _ in range(min(int(batch), n))]
    space = envs[0].action_space
    if getattr(space, "n", None) != policy.n_actions:
        raise QfinError(f"the environment's actions are {space}; the policy has a menu of {policy.n_actions} "
                        "(wrap the environment in qfin.envs.DiscreteActions with the same values)")
    rng = np.random.default_rng([seed, _ACTION_STREAM])
    seeds = [int(np.random.SeedSequence([seed, j]).generate_state(1)[0]) for j in range(len(envs))]
    for start in range(0, n, len(envs)):
        ids = np.arange(start, min(start + len(envs), n))
        m = len(ids)
        states: list[list[np.ndarray]] = [[] for _ in range(m)]
        actions: list[list[int]] = [[] for _ in range(m)]
        rewards: list[list[float]] = [[] for _ in range(m)]
        pscores: list[list[float]] = [[] for _ in range(m)]
        done = np.zeros(m, bool)
        obs = [np.asarray(envs[j].reset(seed=seeds[j] if start == 0 else None)[0], dtype=np.float64).reshape(-1)
               for j in range(m)]
        alive = list(range(m))
        for _ in range(max_steps):
            if not alive:
                break
            x = np.stack([obs[j] for j in alive])
            p = policy.probs(x)
            a = _sample(p, rng)
            still = []
            for row, j in enumerate(alive):
                states[j].append(x[row])
                actions[j].append(int(a[row]))
                pscores[j].append(float(p[row, a[row]]))
                nxt, r, terminated, truncated, _ = envs[j].step(int(a[row]))
                rewards[j].append(float(r))
                if terminated or truncated:
                    done[j] = bool(terminated)
                else:
                    obs[j] = np.asarray(nxt, dtype=np.float64).reshape(-1)
                    still.append(j)
            alive = still
        else:
            raise QfinError(f"episodes did not end within max_steps = {max_steps} steps")
        yield ids, states, actions, pscores, rewards, done


# Bytes per logged step while the episodes are gathered (a row view of the stacked observations, list slots and
# Python floats for the action, pscore and reward) and once they are padded (state [d] float64, action, reward,
# pscore, done), besides 8 bytes per observation dimension.
_LIST_BYTES_PER_STEP = 240
_PADDED_BYTES_PER_STEP = 25


def run_episodes(make_env: Callable[[], gym.Env], policy: MenuPolicy, n_episodes: int, *, seed: int = 0,
                 batch: int = 256, max_steps: int = 100_000, extra_bytes_per_step: float = 0.0) -> Episodes:
    """Roll ``policy`` out for ``n_episodes`` episodes on copies of ``make_env()`` (a ``Discrete`` action space of
    ``policy.n_actions`` actions and a 1-D observation).

    Every step of every episode is kept, so after the first batch the memory of all ``n_episodes`` is estimated
    from that batch's longest episode (plus ``extra_bytes_per_step`` a caller adds per step) and refused above
    the limit (:func:`qfin.data.check_memory`) before the rest is rolled out."""
    n = _check_episodes(n_episodes)
    parts = []
    for ids, states, actions, pscores, rewards, done in _rollout(make_env, policy, n, seed, batch, max_steps):
        if ids[0] == 0:
            h, d = max(len(r) for r in rewards), len(states[0][0])
            per_step = _LIST_BYTES_PER_STEP + _PADDED_BYTES_PER_STEP + 16.0 * d + extra_bytes_per_step
            check_memory(n * h * per_step, f"{n:,} logged episodes of up to {h:,} steps ({d} observation "
                         "dimensions)", "the number of episodes (e.g. [logging] n_episodes)")
        parts.append((states, actions, pscores, rewards, done))
    states = [e for part in parts for e in part[0]]
    actions = [e for part in parts for e in part[1]]
    pscores = [e for part in parts for e in part[2]]
    rewards = [e for part in parts for e in part[3]]
    done = np.concatenate([part[4] for part in parts])
    length = np.array([len(r) for r in rewards], np.int64)
    h, d = int(length.max()), len(states[0][0])
    out_state = np.zeros((n, h, d))
    out_action = np.zeros((n, h), np.int64)
    out_reward = np.zeros((n, h))
    out_pscore = np.ones((n, h))
    out_done = np.zeros((n, h), bool)
    for i in range(n):
        k = length[i]
        out_state[i, :k] = states[i]
        out_action[i, :k] = actions[i]
        out_reward[i, :k] = rewards[i]
        out_pscore[i, :k] = pscores[i]
        out_done[i, k - 1] = done[i]
    return Episodes(out_state, out_action, out_reward, out_done, out_pscore, length)


def log_episodes(make_env: Callable[[], gym.Env], behavior: MenuPolicy, candidates: Mapping[str, MenuPolicy],
                 n_episodes: int, *, gamma: float = 1.0, seed: int = 0, batch: int = 256) -> LoggedData:
    """A logged dataset: ``n_episodes`` episodes of ``behavior`` with every candidate's propensities
    pi_e(a_t | s_t) and full action distributions at the logged states (what DM/DR and the support check need)."""
    # per step besides the episode itself: the full action distribution of each candidate and of the behavior
    # policy, the candidates' propensities, and the flattened states handed to the policies
    k, n_actions = len(candidates), behavior.n_actions
    extra = 8.0 * n_actions * (k + 1) + 8.0 * k
    ep = run_episodes(make_env, behavior, n_episodes, seed=seed, batch=batch, extra_bytes_per_step=extra)
    valid = np.arange(ep.reward.shape[1])[None, :] < ep.length[:, None]
    flat = ep.state[valid]

    def dist(policy: MenuPolicy) -> np.ndarray:
        out = np.full(ep.action.shape + (behavior.n_actions,), 1.0 / behavior.n_actions)
        out[valid] = policy.probs(flat)
        return out

    dists = {name: dist(policy) for name, policy in candidates.items()}
    pick = ep.action[:, :, None]
    return LoggedData(state=ep.state, action=ep.action, reward=ep.reward, done=ep.done,
                      behavior_pscore=ep.pscore,
                      candidate_pscores={k: np.where(valid, np.take_along_axis(v, pick, 2)[:, :, 0], 1.0)
                                         for k, v in dists.items()},
                      length=ep.length, gamma=gamma, n_actions=behavior.n_actions, candidate_action_dist=dists,
                      behavior_action_dist=dist(behavior))


def policy_returns(make_env: Callable[[], gym.Env], policies: Mapping[str, MenuPolicy], n_episodes: int, *,
                   gamma: float = 1.0, seed: int = 0, batch: int = 256,
                   progress: Callable[[], object] | None = None) -> dict[str, np.ndarray]:
    """The discounted return of every on-policy episode [n_episodes] of each policy, all on the same environment
    streams (common random numbers): episode i of two policies meets the same market path, so the differences
    ``returns[a] - returns[b]`` are paired.

    Only the returns are kept (episodes are summed batch by batch), so memory is 8 bytes per episode and policy,
    plus two such vectors for :func:`truth_table`'s paired differences; that estimate is checked against the
    limit (:func:`qfin.data.check_memory`) before anything is rolled out."""
    n = _check_episodes(n_episodes)
    check_memory(8.0 * n * (len(policies) + 2), f"the on-policy returns of {len(policies)} policies x {n:,} "
                 "episodes", "the number of ground-truth episodes (e.g. [truth] n_episodes)")
    out = {}
    for name, policy in policies.items():
        g = np.empty(n)
        for ids, _, _, _, rewards, _ in _rollout(make_env, policy, n, seed, batch, 100_000):
            h = max(len(r) for r in rewards)
            padded = np.zeros((len(ids), h))
            for row, r in enumerate(rewards):
                padded[row, :len(r)] = r
            g[ids] = padded @ (gamma ** np.arange(h))
        out[name] = g
        if progress is not None:
            progress()
    return out


def _mean_se(g: np.ndarray) -> tuple[float, float]:
    return float(g.mean()), float(g.std(ddof=1) / np.sqrt(len(g))) if len(g) > 1 else float("nan")


def policy_values(make_env: Callable[[], gym.Env], policies: Mapping[str, MenuPolicy], n_episodes: int, *,
                  gamma: float = 1.0, seed: int = 0, batch: int = 256,
                  progress: Callable[[], object] | None = None) -> dict[str, tuple[float, float]]:
    """On-policy value J(pi) = E[sum_t gamma^t r_t] of each policy and its standard error (std / sqrt(n)),
    every policy on the same environment streams (common random numbers)."""
    returns = policy_returns(make_env, policies, n_episodes, gamma=gamma, seed=seed, batch=batch, progress=progress)
    return {name: _mean_se(g) for name, g in returns.items()}


def truth_table(returns: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """True values from paired on-policy returns, best first: candidate, value, stderr, and the gap to the
    next-ranked policy with its paired standard error (the s.e. of the per-episode differences), so one can see
    whether the true ranking itself is resolved (gap > 2 s.e.) or noise."""
    names = sorted(returns, key=lambda k: -float(returns[k].mean()))
    rows = []
    for i, name in enumerate(names):
        value, se = _mean_se(returns[name])
        gap = gap_se = None
        if i + 1 < len(names):
            diff = returns[name] - returns[names[i + 1]]
            gap, gap_se = _mean_se(diff)
        rows.append({"candidate": name, "value": value, "stderr": se, "gap_to_next": gap, "gap_stderr": gap_se})
    return pl.DataFrame(rows, schema={"candidate": pl.Utf8, "value": pl.Float64, "stderr": pl.Float64,
                                      "gap_to_next": pl.Float64, "gap_stderr": pl.Float64})
