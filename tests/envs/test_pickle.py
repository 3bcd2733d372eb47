"""Both environments pickle (SB3 and Ray ship environments and their builders between processes), and a copy
taken mid-episode continues exactly as the original does."""

from __future__ import annotations

import pickle

import gymnasium
import numpy as np
import pytest

import qfin.envs  # noqa: F401  (registers the ids)

IDS = {"qfin/Portfolio-v0": {"window": 5, "start": "2020-01-01", "end": "2020-06-30", "episode_length": 10},
       "qfin/Hedging-v0": {"n_steps": 5, "premium_paths": 1000},
       "qfin/Hedging-v0 (put, heston)": {"n_steps": 5, "premium_paths": 1000, "kind": "put", "model": "heston",
                                         "heston": {"v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 0.5,
                                                    "rho": -0.7}}}


@pytest.mark.parametrize("name", sorted(IDS))
def test_a_pickled_copy_mid_episode_continues_like_the_original(name):
    env = gymnasium.make(name.split(" ")[0], **IDS[name]).unwrapped
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, env.action_space.shape).astype(np.float32) for _ in range(4)]
    env.step(actions[0])
    copy = pickle.loads(pickle.dumps(env))
    for action in actions[1:]:
        a, b = env.step(action), copy.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
