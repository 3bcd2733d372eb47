"""TensorBoard logs of a training run: asked for explicitly, read back with TensorBoard's own reader, a resumed
run's points replace the killed run's, and a clear error when the package is missing."""

import sys

import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback

from qfin.agents import load_agent, train_agent
from qfin.errors import QfinError

from .conftest import PPO_SMALL, SMALL

EVAL = {"start": "2007-01-01", "end": "2007-03-31", "episode_length": None}


class _Killed(Exception):
    pass


class _Kill(BaseCallback):
    def _on_step(self):
        if self.num_timesteps > 800:
            raise _Killed
        return True


def _scalars(folder):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="the tensorboard package is not installed (pip install 'qfin[tensorboard]')")
    reader = event_accumulator.EventAccumulator(str(folder))
    reader.Reload()
    return {tag: reader.Scalars(tag) for tag in reader.Tags()["scalars"]}


def _episode_reward(agent):
    """The validation episode's total reward, stepped by hand (what evaluate_policy should have logged)."""
    env = agent.make_env(**EVAL)
    obs, _ = env.reset()
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(agent.predict(obs))
        total += float(reward)
        done = terminated or truncated
    return total


def test_killed_and_resumed_run_logs_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")
    run = {"seed": 1, "out_dir": tmp_path, "algo_kwargs": PPO_SMALL, "checkpoint_freq": 512, "eval_env": EVAL,
           "eval_freq": 256, "tensorboard": True}
    with pytest.raises(_Killed):
        train_agent(SMALL, "ppo", 1024, callbacks=[_Kill()], **run)
    result = train_agent(SMALL, "ppo", 1024, resume=True, **run)

    scalars = _scalars(tmp_path / "tb")
    for tag in ("eval/mean_reward", "eval/std_reward", "eval/best_mean_reward", "train/entropy_loss",
                "train/value_loss", "rollout/ep_rew_mean", "time/fps"):
        assert tag in scalars, (tag, sorted(scalars))
    # one point per evaluation: the killed run's points after its checkpoint were dropped (purge on resume)
    steps = [e.step for e in scalars["eval/mean_reward"]]
    assert steps == [256, 512, 768, 1024]
    assert [e.step for e in scalars["time/fps"]] == [256, 512, 768, 1024]  # SB3's dump after each rollout
    means = np.array([e.value for e in scalars["eval/mean_reward"]])
    best = np.array([e.value for e in scalars["eval/best_mean_reward"]])
    np.testing.assert_array_equal(best, np.maximum.accumulate(means))
    np.testing.assert_allclose(best[-1], result.best_eval_reward, rtol=1e-6)  # events hold float32
    # the last logged validation reward is the final agent's, as an independent hand-run episode gives it
    # (SB3's Monitor rounds an episode's reward to 6 decimals)
    np.testing.assert_allclose(means[-1], _episode_reward(load_agent(tmp_path / "last")), rtol=0, atol=1e-6)
    # the same figure in the CSV log (the resumed run's rows)
    header, *rows = (tmp_path / "logs" / "progress.csv").read_text().splitlines()
    column = header.split(",").index("eval/mean_reward")
    logged = [float(r.split(",")[column]) for r in rows if r.split(",")[column]]
    np.testing.assert_allclose(logged[-1], means[-1], rtol=1e-6)


def test_missing_package_is_a_clear_error_and_not_asking_needs_none(tmp_path, monkeypatch):
    import stable_baselines3.common.logger as sb3_logger

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now raises ImportError
    monkeypatch.setattr(sb3_logger, "SummaryWriter", None)  # as SB3 sets it without the package
    with pytest.raises(QfinError, match=r'tensorboard package: pip install "qfin\[tensorboard\]"'):
        train_agent(SMALL, "a2c", 20, out_dir=tmp_path / "asked", tensorboard=True)
    assert not (tmp_path / "asked").exists()  # refused before anything was written
    result = train_agent(SMALL, "a2c", 20, out_dir=tmp_path / "plain")
    assert result.agent.num_timesteps == 20 and not (tmp_path / "plain" / "tb").exists()
    assert (tmp_path / "plain" / "logs" / "progress.csv").is_file()


def test_tensorboard_folder_and_bad_value(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")
    from qfin.errors import SpecError

    train_agent(SMALL, "a2c", 20, out_dir=tmp_path / "run", tensorboard=tmp_path / "elsewhere")
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "elsewhere").iterdir())
    assert "train/value_loss" in _scalars(tmp_path / "elsewhere")
    with pytest.raises(SpecError, match="tensorboard must be true, false or a log folder; got 3"):
        train_agent(SMALL, "a2c", 20, out_dir=tmp_path / "bad", tensorboard=3)


def test_config_key(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")
    from qfin.agents import TrainConfig, train_from_config
    from qfin.errors import SpecError

    config = TrainConfig(env=SMALL, algo="a2c", total_timesteps=20, seeds=[4],
                         out_dir="runs", checkpoint_freq=0, tensorboard="tb")
    train_from_config(config, base=tmp_path, progress=False)
    assert "train/value_loss" in _scalars(tmp_path / "tb" / "seed_4")  # relative to the config, one folder a seed
    train_from_config(config.model_copy(update={"tensorboard": True, "out_dir": "on"}), base=tmp_path,
                      progress=False)
    assert "train/value_loss" in _scalars(tmp_path / "on" / "seed_4" / "tb")
    assert TrainConfig(env=SMALL).tensorboard is False  # off unless asked
    with pytest.raises(SpecError, match="tensorboard must be true, false or a log folder; got an empty string"):
        train_from_config(config.model_copy(update={"tensorboard": " "}), base=tmp_path, progress=False)
