"""Both environment ids work in SB3's SubprocVecEnv, whose workers are fresh interpreters (spawn): the
``"qfin.envs:qfin/..."`` form of the id makes Gymnasium import qfin.envs (which registers the ids) in each worker.
SB3's make_vec_env asks for render_mode="rgb_array" and falls back to none on the TypeError qfin raises."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

IDS = {"qfin.envs:qfin/Portfolio-v0": {"window": 5, "start": "2020-01-01", "end": "2020-06-30"},
       "qfin.envs:qfin/Hedging-v0": {"n_steps": 5, "premium_paths": 1000}}


@pytest.mark.filterwarnings("ignore:.*render_mode:UserWarning")
@pytest.mark.parametrize("env_id", sorted(IDS))
def test_two_spawned_workers_reset_and_step(env_id):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = make_vec_env(env_id, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv, env_kwargs=IDS[env_id],
                       vec_env_kwargs={"start_method": "spawn"})
    try:
        obs = vec.reset()
        assert obs.shape[0] == 2
        actions = np.stack([vec.action_space.sample() for _ in range(2)])
        obs, rewards, dones, infos = vec.step(actions)
        assert obs.shape[0] == 2 and np.all(np.isfinite(rewards)) and len(infos) == 2
    finally:
        vec.close()
