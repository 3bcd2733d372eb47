"""Every preset in envs/ builds, passes Gymnasium's checker and steps; bad presets raise SpecError."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

from qfin.envs import load_preset, make_env
from qfin.envs._rewards import REWARDS
from qfin.errors import QfinError, SpecError

PRESETS = sorted((Path(__file__).resolve().parents[2] / "envs").glob("*.toml"))


def test_presets_exist():
    assert {p.name for p in PRESETS} >= {"portfolio_sp500_train.toml", "portfolio_sp500_eval.toml",
                                        "hedging_gbm.toml", "hedging_heston.toml"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_builds_and_steps(path):
    env = make_env(path, **({"premium_paths": 2000} if "hedging" in path.stem else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_bad_presets(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "qfin/Portfolio-v0"\n[params]\nwindow = 10\nwindoww = 3\n')
    with pytest.raises(SpecError, match="windoww"):
        load_preset(bad)
    bad.write_text('id = "qfin/Portfolio-v0"\nextra = 1\n')
    with pytest.raises(SpecError, match="extra"):
        load_preset(bad)
    bad.write_text('id = "qfin/Nope-v0"\n')
    with pytest.raises(SpecError, match="id"):
        load_preset(bad)
    with pytest.raises(SpecError, match="no such preset"):
        load_preset(tmp_path / "missing.toml")


TRAIN = Path(__file__).resolve().parents[2] / "envs" / "portfolio_sp500_train.toml"


@pytest.mark.parametrize("reward", ["cvar", "mixed_var", "log_return"])
def test_overriding_the_reward_drops_the_presets_reward_params(reward):
    env = make_env(TRAIN, reward=reward).unwrapped  # the preset's differential-Sharpe eta/warmup stay behind
    assert env.reward_name == reward
    assert env._reward.params == REWARDS[reward]


def test_an_overridden_reward_takes_its_own_params_and_the_same_reward_keeps_the_presets():
    env = make_env(TRAIN, reward="cvar", reward_params={"level": 0.9}).unwrapped
    assert env._reward.params == {"level": 0.9, "risk_aversion": 1.0}
    same = make_env(TRAIN, reward="differential_sharpe").unwrapped
    assert same._reward.params["eta"] == 0.01 and same._reward.params["warmup"] == 20
    with pytest.raises(QfinError, match=r"reward_params \['eta'\] are not parameters of reward 'cvar'"):
        make_env(TRAIN, reward="cvar", reward_params={"eta": 0.01})
