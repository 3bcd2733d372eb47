"""Gymnasium's two episode ends on PortfolioEnv: a random training window that runs out is a time limit
(``truncated``), the last bar of the span is the end of the data (``terminated``); Stable-Baselines3 sees the
first as ``TimeLimit.truncated`` (and bootstraps there) and its evaluate_policy stops at either."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from qfin.data import load_dataset
from qfin.envs import PortfolioEnv

ASSETS = ["AAPL", "KO", "XOM"]


@pytest.fixture(scope="module")
def prices():
    return load_dataset("sp500_stocks").select("timestamp", *ASSETS).slice(0, 300)


def _run(env, **reset):
    env.reset(**reset)
    flags = []
    while not flags or not (flags[-1][0] or flags[-1][1]):
        _, _, terminated, truncated, _ = env.step(np.zeros(len(ASSETS) + 1))
        flags.append((terminated, truncated))
    return flags


def test_a_random_window_ends_truncated_and_the_span_end_terminated(prices):
    env = PortfolioEnv(prices, window=10, episode_length=25)
    flags = _run(env, seed=4)
    assert len(flags) == 25 and flags[-1] == (False, True) and not any(map(any, flags[:-1]))
    # a window placed to end exactly on the span's last bar ends with the data: terminated, not truncated
    flags = _run(env, options={"start": env._last - 25})
    assert len(flags) == 25 and flags[-1] == (True, False)
    # the whole span (evaluation) ends at the data's end
    flags = _run(PortfolioEnv(prices, window=10))
    assert len(flags) == 300 - 10 and flags[-1] == (True, False)


class _Hold:
    """A policy for evaluate_policy: the same logits (equal weights) whatever the observation."""

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.zeros((len(obs), len(ASSETS) + 1), dtype=np.float32), state


def test_sb3_sees_the_time_limit_and_evaluate_policy_stops_at_it(prices):
    vec = DummyVecEnv([lambda: PortfolioEnv(prices, window=10, episode_length=7)])
    vec.seed(1)
    vec.reset()
    for step in range(1, 8):
        _, _, dones, infos = vec.step(np.zeros((1, len(ASSETS) + 1)))
        assert dones[0] == (step == 7)
    assert infos[0]["TimeLimit.truncated"] and infos[0]["terminal_observation"].shape == (1, len(ASSETS), 10)

    env = Monitor(PortfolioEnv(prices, window=10, episode_length=7))
    rewards, lengths = evaluate_policy(_Hold(), env, n_eval_episodes=3, return_episode_rewards=True)
    assert lengths == [7, 7, 7] and np.all(np.isfinite(rewards))
