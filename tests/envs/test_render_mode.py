"""Gymnasium's render_mode convention: ``gym.make(id, render_mode=None)`` works, a mode the environment does not
offer is a one-line error naming what is accepted (not a TypeError from the constructor)."""

from __future__ import annotations

import gymnasium
import pytest

import qfin.envs  # noqa: F401  (registers the ids)
from qfin.errors import QfinError

IDS = {"qfin/Portfolio-v0": {"window": 5, "start": "2020-01-01", "end": "2020-06-30"},
       "qfin/Hedging-v0": {"n_steps": 5, "premium_paths": 1000}}


@pytest.mark.parametrize("env_id", sorted(IDS))
def test_render_mode_none_is_accepted_and_recorded(env_id):
    env = gymnasium.make(env_id, render_mode=None, **IDS[env_id])
    assert env.render_mode is None
    assert env.metadata["render_modes"] == []
    env.reset(seed=0)
    env.close()


@pytest.mark.parametrize("env_id", sorted(IDS))
@pytest.mark.parametrize("mode", ["human", "rgb_array"])
def test_an_offered_mode_that_does_not_exist_is_a_clear_error(env_id, mode):
    with pytest.warns(UserWarning, match="render_mode"):  # gymnasium's own notice that the mode is not offered
        with pytest.raises(QfinError, match=rf"has no render modes .*render_mode='{mode}'\. Accepted: None") as info:
            gymnasium.make(env_id, render_mode=mode, **IDS[env_id])
    assert "\n" not in str(info.value)
    assert isinstance(info.value, TypeError)  # what SB3's make_vec_env catches to retry without a render mode
