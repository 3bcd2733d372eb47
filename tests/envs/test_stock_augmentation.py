"""StockAugmentation: the stock identity c_T gamma^T - c_0 = discounted return."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from qfin.envs import HedgingEnv, PortfolioEnv, StockAugmentation
from qfin.errors import QfinError


@pytest.mark.parametrize("gamma, c0", [(0.97, 0.0), (0.9, 1.3), (1.0, -0.5)])
def test_stock_identity(gamma, c0):
    env = StockAugmentation(HedgingEnv(n_steps=10, cost=0.002, premium=2.0), gamma=gamma)
    obs, info = env.reset(seed=1, options={"stock": c0})
    assert obs.shape == (4,) and obs[-1] == np.float32(c0)
    rewards, done, t = [], False, 0
    while not done:
        obs, reward, done, _, info = env.step([0.5])
        rewards.append(reward)
        t += 1
        assert obs[-1] == np.float32(info["stock"])
    discounted = sum(gamma ** k * r for k, r in enumerate(rewards))
    assert math.isclose(info["stock"] * gamma ** t - c0, discounted, rel_tol=1e-9, abs_tol=1e-12)


def test_non_flat_observations_become_a_dict():
    from qfin.data import load_dataset
    prices = load_dataset("sp500_stocks").select("timestamp", "AAPL", "XOM").slice(0, 200)
    env = StockAugmentation(PortfolioEnv(prices, window=5, episode_length=10), gamma=0.99)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "stock"} and obs["observation"].shape == (1, 2, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's notes on wrapped envs and infinite bounds
        check_env(env, skip_render_check=True)


def test_bad_gamma():
    with pytest.raises(QfinError, match="gamma"):
        StockAugmentation(HedgingEnv(premium=0.0), gamma=0.0)
