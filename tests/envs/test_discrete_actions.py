"""DiscreteActions: a finite action menu over a Box-action env, and the preset key `actions` that applies it."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from qfin.envs import DiscreteActions, HedgingEnv, load_preset, make_env
from qfin.errors import QfinError, SpecError

MENU = [0.0, 0.25, 0.5, 0.75, 1.0]


def _env() -> HedgingEnv:
    return HedgingEnv("gbm", n_steps=5, premium_paths=1_000)


def test_index_plays_the_menu_value_and_rewards_match_the_continuous_env():
    wrapped, plain = DiscreteActions(_env(), MENU), _env()
    assert wrapped.action_space == spaces.Discrete(5)
    wrapped.reset(seed=3)
    plain.reset(seed=3)
    for index in [4, 2, 0, 3, 1]:
        a = wrapped.step(index)
        b = plain.step(np.array([MENU[index]], dtype=np.float32))
        assert a[1] == b[1] and a[2] == b[2]
        assert a[4]["hedge"] == MENU[index]
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("values, match", [
    ([0.5], "at least 2"),
    ([0.0, float("nan")], "finite"),
    ([0.0, 0.5, 0.5], "distinct"),
    ([[0.0, 1.0], [1.0, 0.0]], "each of 1 number"),
])
def test_bad_menus_are_refused(values, match):
    with pytest.raises(QfinError, match=match):
        DiscreteActions(_env(), values)


def test_out_of_range_index_is_refused():
    env = DiscreteActions(_env(), MENU)
    env.reset(seed=0)
    with pytest.raises(QfinError, match=r"0\.\.4"):
        env.step(5)


def test_preset_actions_key_wraps_the_env(tmp_path):
    path = tmp_path / "menu.toml"
    path.write_text('id = "qfin/Hedging-v0"\nactions = [0.0, 0.5, 1.0]\n[params]\nn_steps = 4\npremium_paths = 1000\n')
    preset = load_preset(path)
    assert preset.actions == [0.0, 0.5, 1.0]
    env = make_env(preset)
    assert isinstance(env, DiscreteActions) and env.action_space == spaces.Discrete(3)
    path.write_text('id = "qfin/Hedging-v0"\naction = [0.0, 1.0]\n')
    with pytest.raises(SpecError, match="unknown key 'action'.*actions"):
        load_preset(path)
