"""train_agent / load_agent: reload gives identical actions, seeds reproduce, a killed run resumes."""

import json

import numpy as np
import pytest
import torch

from qfin.agents import load_agent, train_agent
from qfin.agents._extractors import EIIEExtractor, MLPExtractor
from qfin.envs import make_env
from qfin.errors import CheckpointError, SpecError

from .conftest import PPO_SMALL, SMALL


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo")
    return train_agent(SMALL, "ppo", 2048, seed=3, out_dir=out, algo_kwargs=PPO_SMALL, checkpoint_freq=1024,
                       eval_env={"start": "2007-01-01", "end": "2007-06-30", "episode_length": None}, eval_freq=1024)


def _observations(n=32):
    from qfin.envs import EnvPreset
    env = make_env(EnvPreset(**SMALL), episode_length=None)
    obs, _ = env.reset()
    out = [obs]
    for _ in range(n - 1):
        obs, *_ = env.step(env.action_space.sample())
        out.append(obs)
    return np.stack(out)


def test_layout_and_counters(trained):
    out = trained.out_dir
    for sub in ("last", "best"):
        assert (out / sub / "config.json").is_file() and (out / sub / "params.pt").is_file()
    assert trained.agent.num_timesteps == 2048
    assert trained.rewards.shape == (2048, 1) and np.all(np.isfinite(trained.rewards))
    assert trained.best_eval_reward is not None
    log = (out / "logs" / "progress.csv").read_text().splitlines()
    assert "train/entropy_loss" in log[0] and "eval/mean_reward" in log[0]  # entropy is logged
    config = json.loads((out / "last" / "config.json").read_text())
    assert config["algo"] == "ppo" and config["extractor"] == "eiie" and config["num_timesteps"] == 2048


def test_reload_gives_identical_actions(trained):
    obs = _observations()
    before = trained.agent.predict(obs)
    again = load_agent(trained.out_dir / "last")
    assert again.num_timesteps == 2048
    np.testing.assert_array_equal(again.predict(obs), before)
    # the policy is not trivial: different observations, different actions
    assert np.ptp(before, axis=0).max() > 1e-4


def test_same_seed_same_rewards(tmp_path):
    runs = [train_agent(SMALL, "ppo", 512, seed=7, out_dir=tmp_path / str(i), algo_kwargs=PPO_SMALL).rewards
            for i in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    other = train_agent(SMALL, "ppo", 512, seed=8, out_dir=tmp_path / "other", algo_kwargs=PPO_SMALL).rewards
    assert not np.array_equal(runs[0], other)


class _Killed(Exception):
    pass


def test_killed_run_resumes_step_counter_and_optimizer(tmp_path):
    from stable_baselines3.common.callbacks import BaseCallback

    class Kill(BaseCallback):
        def _on_step(self):
            if self.num_timesteps > 1100:
                raise _Killed
            return True

    with pytest.raises(_Killed):
        train_agent(SMALL, "ppo", 2048, seed=1, out_dir=tmp_path, algo_kwargs=PPO_SMALL, checkpoint_freq=512,
                    callbacks=[Kill()])
    saved = load_agent(tmp_path / "last")
    assert saved.num_timesteps == 1024  # the checkpoint taken at the start of the 5th rollout
    # the optimizer state came back exactly: Adam took 1024/256 rollouts x 2 epochs x 4 minibatches steps
    state = torch.load(tmp_path / "last" / "params.pt", weights_only=True)["params"]["policy.optimizer"]
    live = saved.model.policy.optimizer.state_dict()
    for key, value in state["state"].items():
        assert float(live["state"][key]["step"]) == 32.0
        torch.testing.assert_close(live["state"][key]["exp_avg"], value["exp_avg"], rtol=0, atol=0)

    resumed = train_agent(SMALL, "ppo", 2048, seed=1, out_dir=tmp_path, algo_kwargs=PPO_SMALL, resume=True)
    model = resumed.agent.model
    assert model.num_timesteps == 2048 and resumed.rewards.shape == (1024, 1)  # only the remainder ran
    assert model._n_updates == 2048 // 256 * 2
    steps = {float(s["step"]) for s in model.policy.optimizer.state_dict()["state"].values()}
    assert steps == {64.0}  # Adam's step counter carried on from 32 (a fresh optimizer would say 32)
    assert load_agent(tmp_path / "last").num_timesteps == 2048


def test_mlp_extractor_and_a2c(tmp_path):
    result = train_agent(SMALL, "a2c", 64, seed=0, out_dir=tmp_path, extractor="mlp",
                         extractor_kwargs={"hidden": [16]})
    assert isinstance(result.agent.model.policy.features_extractor, MLPExtractor)
    obs = _observations(4)
    np.testing.assert_array_equal(load_agent(tmp_path).predict(obs), result.agent.predict(obs))


def test_eiie_weights_are_shared_across_assets():
    """Permuting the assets permutes the per-asset EIIE features the same way (one evaluator per asset)."""
    from gymnasium import spaces

    torch.manual_seed(0)
    space = spaces.Box(0.0, np.inf, shape=(1, 4, 8), dtype=np.float32)
    extractor = EIIEExtractor(space)
    x = torch.exp(0.05 * torch.randn(5, 1, 4, 8))
    perm = torch.tensor([2, 0, 3, 1])
    f = extractor(x)[:, :-1].reshape(5, 4, -1)
    g = extractor(x[:, :, perm])[:, :-1].reshape(5, 4, -1)
    torch.testing.assert_close(g, f[:, perm])
    assert not torch.allclose(f[:, 0], f[:, 1])


def test_bad_inputs(tmp_path, trained):
    with pytest.raises(SpecError, match="unknown algorithm 'dqnx'.*accepted: ppo, a2c, sac, td3, qrdqn"):
        train_agent(SMALL, "dqnx", 10, out_dir=tmp_path)
    with pytest.raises(SpecError, match="'qrdqn' cannot act in a Box action space.*Discrete"):
        train_agent(SMALL, "qrdqn", 10, out_dir=tmp_path)
    four = {"id": SMALL["id"], "params": {**SMALL["params"], "assets": ["AAPL", "MSFT", "XOM", "KO"]}}
    with pytest.raises(CheckpointError, match=r"observation space .*\[1, 3, 10\].*\[1, 4, 10\]"):
        load_agent(trained.out_dir, env_config=four)
    with pytest.raises(CheckpointError, match="not a qfin agent checkpoint"):
        load_agent(tmp_path)
    with pytest.raises(SpecError, match="total_timesteps"):
        train_agent(SMALL, "ppo", 0, out_dir=tmp_path)
