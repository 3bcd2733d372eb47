"""Off-policy replay buffers in checkpoints: a killed SAC run resumes with the transitions it had collected.

Why the resumed run is not bit-identical to an uninterrupted one: the checkpoint holds no pickled objects, so
the live environments (mid-episode portfolio state), SB3's last observation and the global/env random generators
are not saved; the resumed run resets its environments and re-seeds. What is exact, and tested: the buffer
(equal to what the uninterrupted run with the same seed collected up to the checkpoint), its write position, the
step and update counters and the optimizers' step counts.
"""

import json

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback

from qfin.agents import train_agent
from qfin.agents._replay import load_replay_buffer, save_replay_buffer
from qfin.errors import CheckpointError

from .conftest import SMALL

SAC_SMALL = {"learning_starts": 50, "batch_size": 32, "buffer_size": 1000}
NET = {"net_arch": [16]}
KEYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class _Killed(Exception):
    pass


class _Kill(BaseCallback):
    def __init__(self, at):
        super().__init__()
        self.at, self.buffer = at, None

    def _on_step(self):
        if self.num_timesteps > self.at:
            self.buffer = self.model.replay_buffer
            raise _Killed
        return True


class _AtStart(BaseCallback):
    """Copies the replay buffer as the resumed run starts learning."""

    def _on_training_start(self):
        buffer = self.model.replay_buffer
        self.pos, self.full = buffer.pos, buffer.full
        self.arrays = {key: getattr(buffer, key)[:buffer.pos].copy() for key in KEYS}

    def _on_step(self):
        return True


def _sac(out, callbacks=None, **kwargs):
    return train_agent(SMALL, "sac", 300, seed=2, out_dir=out, algo_kwargs=SAC_SMALL, policy_kwargs=NET,
                       checkpoint_freq=100, callbacks=callbacks, **kwargs)


def test_killed_sac_run_resumes_with_its_replay_buffer(tmp_path):
    kill = _Kill(250)
    with pytest.raises(_Killed):
        _sac(tmp_path / "run", [kill])
    last = tmp_path / "run" / "last"
    step = json.loads((last / "config.json").read_text())["num_timesteps"]
    assert step == 200  # the checkpoint at the start of step 201 (checkpoint_freq = 100)
    with np.load(last / "replay_buffer.npz", allow_pickle=False) as saved:
        saved = {key: saved[key] for key in saved.files}
    assert int(saved["pos"]) == 200 and not saved["full"] and int(saved["buffer_size"]) == 1000
    for key in KEYS:  # the checkpoint holds exactly the first 200 transitions the live run had collected
        assert saved[key].shape[0] == 200
        np.testing.assert_array_equal(saved[key], getattr(kill.buffer, key)[:200])

    start = _AtStart()
    resumed = _sac(tmp_path / "run", [start], resume=True)
    assert (start.pos, start.full) == (200, False)
    for key in KEYS:
        np.testing.assert_array_equal(start.arrays[key], saved[key])
    model = resumed.agent.model
    assert model.num_timesteps == 300 and resumed.rewards.shape == (100, 1)  # only the remainder ran
    assert model.replay_buffer.pos == 300  # the buffer grew from 200, not from 0

    uninterrupted = _sac(tmp_path / "full").agent.model
    for key in KEYS:  # same seed: the restored transitions are the ones an uninterrupted run collects
        np.testing.assert_array_equal(getattr(model.replay_buffer, key)[:200],
                                      getattr(uninterrupted.replay_buffer, key)[:200])
    # SAC takes one gradient step per env step after learning_starts: 300 - 50 in both runs, and the restored
    # Adam states carried on counting (a fresh optimizer would count only the resumed run's 100 steps)
    assert model._n_updates == uninterrupted._n_updates == 250
    for optimizer in (model.actor.optimizer, model.critic.optimizer):
        assert {float(s["step"]) for s in optimizer.state_dict()["state"].values()} == {250.0}
    with np.load(tmp_path / "run" / "last" / "replay_buffer.npz", allow_pickle=False) as final:
        assert int(final["pos"]) == 300
        np.testing.assert_array_equal(final["actions"], model.replay_buffer.actions[:300])


def test_resume_without_a_saved_buffer_warns(tmp_path):
    train_agent(SMALL, "sac", 60, seed=0, out_dir=tmp_path, algo_kwargs=SAC_SMALL, policy_kwargs=NET,
                save_replay_buffer=False)
    assert not (tmp_path / "last" / "replay_buffer.npz").exists()
    with pytest.warns(UserWarning, match="holds no replay buffer.*empty one"):
        result = train_agent(SMALL, "sac", 70, seed=0, out_dir=tmp_path, algo_kwargs=SAC_SMALL,
                             policy_kwargs=NET, resume=True)
    assert result.agent.model.replay_buffer.pos == 10


def _fill(buffer, n, rng):
    for i in range(n):
        obs = {key: rng.random((1, *s.shape), dtype=np.float32) for key, s in buffer.observation_space.spaces.items()}
        nxt = {key: rng.random((1, *s.shape), dtype=np.float32) for key, s in buffer.observation_space.spaces.items()}
        buffer.add(obs, nxt, rng.uniform(-1, 1, (1, 2)).astype(np.float32), rng.normal(size=1),
                   np.array([i % 3 == 2]), [{"TimeLimit.truncated": i % 2 == 1}])


DICT_OBS = spaces.Dict({"prices": spaces.Box(0, 1, (3, 4), np.float32), "weights": spaces.Box(0, 1, (4,), np.float32)})
ACTIONS = spaces.Box(-1, 1, (2,), np.float32)


@pytest.mark.parametrize("n", [5, 11])  # part-filled, and wrapped past the 8-row capacity
def test_dict_buffer_round_trip(tmp_path, n):
    rng = np.random.default_rng(n)
    buffer = DictReplayBuffer(8, DICT_OBS, ACTIONS)
    _fill(buffer, n, rng)
    save_replay_buffer(buffer, tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz", allow_pickle=False) as saved:
        assert "observations.prices" in saved.files and saved["observations.prices"].shape[0] == min(n, 8)
    again = DictReplayBuffer(8, DICT_OBS, ACTIONS)
    load_replay_buffer(again, tmp_path / "b.npz")
    assert (again.pos, again.full) == (buffer.pos, buffer.full) == (n % 8, n >= 8)
    for name in ("observations", "next_observations"):
        for key in DICT_OBS.spaces:
            np.testing.assert_array_equal(getattr(again, name)[key], getattr(buffer, name)[key])
    for name in ("actions", "rewards", "dones", "timeouts"):
        np.testing.assert_array_equal(getattr(again, name), getattr(buffer, name))
    assert again.timeouts.any() and again.dones.any()  # the random fill exercised both flags


def test_mismatched_buffers_are_refused(tmp_path):
    buffer = DictReplayBuffer(8, DICT_OBS, ACTIONS)
    _fill(buffer, 3, np.random.default_rng(0))
    save_replay_buffer(buffer, tmp_path / "b.npz")
    with pytest.raises(CheckpointError, match="buffer_size 8, this model's has 16"):
        load_replay_buffer(DictReplayBuffer(16, DICT_OBS, ACTIONS), tmp_path / "b.npz")
    with pytest.raises(CheckpointError, match=r"holds \[.*'observations.prices'.*needs \[.*'observations'"):
        load_replay_buffer(ReplayBuffer(8, DICT_OBS["prices"], ACTIONS), tmp_path / "b.npz")
    wider = spaces.Dict({"prices": spaces.Box(0, 1, (3, 5), np.float32), "weights": DICT_OBS["weights"]})
    with pytest.raises(CheckpointError, match=r"'observations.prices' is float32\[3, 1, 3, 4\]; expected "
                                              r"float32\[3, 1, 3, 5\]"):
        load_replay_buffer(DictReplayBuffer(8, wider, ACTIONS), tmp_path / "b.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="unreadable replay buffer"):
        load_replay_buffer(buffer, tmp_path / "bad.npz")


def test_memory_optimized_buffer_truncates_the_cut_trajectory(tmp_path):
    """With one observation array, the last transition's next observation would be overwritten by the resumed
    run's reset; it is marked done, as SB3 does when a loaded buffer meets a fresh learn()."""
    space = spaces.Box(0, 1, (3,), np.float32)
    buffer = ReplayBuffer(8, space, ACTIONS, optimize_memory_usage=True, handle_timeout_termination=False)
    rng = np.random.default_rng(1)
    for _ in range(4):
        buffer.add(rng.random((1, 3)), rng.random((1, 3)), rng.random((1, 2)), np.zeros(1), np.zeros(1), [{}])
    save_replay_buffer(buffer, tmp_path / "m.npz")
    again = ReplayBuffer(8, space, ACTIONS, optimize_memory_usage=True, handle_timeout_termination=False)
    load_replay_buffer(again, tmp_path / "m.npz")
    assert getattr(again, "next_observations", None) is None and again.pos == 4
    np.testing.assert_array_equal(again.observations[:4], buffer.observations[:4])
    np.testing.assert_array_equal(again.dones[:, 0], [0, 0, 0, 1, 0, 0, 0, 0])
