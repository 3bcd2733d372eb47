"""Agent checkpoints under injected faults: SIGKILL of a real PPO training process inside a checkpoint write and
between saving ``best`` and ``last``, a torch.save that raises, and SIGINT followed by a resume. Every complete
checkpoint survives, a resume continues from the newest one and, from a checkpoint at an episode boundary (these
runs: 64-step episodes, 256-step rollouts), ends with the same weights and Adam state as a run that never stopped;
``logs/progress.csv`` is continued (the rows before the resumed step kept as they were, none duplicated).""" 

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from qfin.agents import load_agent, train_agent

from ..agents.conftest import PPO_SMALL, SMALL

CHILD = Path(__file__).with_name("_training_child.py")
ROOT = Path(__file__).resolve().parents[2]
RUN = {"env_config": SMALL, "algo": "ppo", "total_timesteps": 1024, "seed": 5, "algo_kwargs": PPO_SMALL,
       "checkpoint_freq": 256}
EVAL = {"eval_env": {"start": "2007-01-01", "end": "2007-03-30", "episode_length": None}, "eval_freq": 256}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """torch on one thread, as in the child processes."""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """An uninterrupted run: (the steps of the rows it logs, one per rollout plus the last update's losses; its
    final policy and optimizer state)."""
    out = tmp_path_factory.mktemp("agent_reference")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    result = train_agent(out_dir=out, **RUN)
    torch.set_num_threads(n)
    return _steps_logged(out), result.agent.model.get_parameters(), _rows(out)


def _assert_same_parameters(model, reference) -> None:
    """Bit for bit: the policy's weights and Adam's moments (torch.equal, no tolerance)."""
    got = model.get_parameters()
    assert got.keys() == reference.keys()
    for k, v in reference["policy"].items():
        assert torch.equal(got["policy"][k], v), k
    for i, v in reference["policy.optimizer"]["state"].items():
        for name, value in v.items():
            assert torch.equal(got["policy.optimizer"]["state"][i][name], value), (i, name)


def _child(tmp: Path, out: Path, run: dict, **pause: int) -> subprocess.Popen:
    args = tmp / "args.json"
    args.write_text(json.dumps(run))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "QFIN_FAULT_MARKER": str(tmp / "marker")}
    env.update({f"QFIN_FAULT_PAUSE_{k.upper()}": str(v) for k, v in pause.items()})
    (tmp / "marker").unlink(missing_ok=True)
    return subprocess.Popen([sys.executable, str(CHILD), "agent", str(args), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + 90
    while not ready():
        assert proc.poll() is None, f"the child ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.005)


def _step(path: Path) -> int:
    return json.loads((path / "config.json").read_text())["num_timesteps"]


def _steps_logged(out: Path) -> list[int]:
    with open(out / "logs" / "progress.csv", newline="") as f:
        return [int(float(row["time/total_timesteps"])) for row in csv.DictReader(f)]


def _rows(out: Path) -> list[dict[str, str]]:
    """progress.csv's rows without the wall-clock columns (fps, time elapsed), which no two runs share, and SB3's
    ``time/iterations``, which counts the rollouts of one ``learn()`` call (a resumed run counts from 1 again)."""
    with open(out / "logs" / "progress.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("time/fps", "time/time_elapsed", "time/iterations")}
                for row in csv.DictReader(f)]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def test_sigkill_inside_a_checkpoint_write_keeps_the_previous_one(tmp_path, uninterrupted):
    out = tmp_path / "run"
    # torch.save #2 is params.pt of the checkpoint at step 512: killed there, `last` must still be step 256's
    proc = _child(tmp_path, out, RUN, save=2)
    _wait_for(proc, (tmp_path / "marker").exists, "the fault point")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _step(out / "last") == 256
    saved = load_agent(out / "last")  # whole and loadable (weights_only, finite)
    assert saved.num_timesteps == 256 and len(_leftovers(out)) == 1  # the half-written staging folder
    before = (out / "logs" / "progress.csv").read_text().splitlines()

    # then a resumed child killed at a random moment after it wrote a checkpoint of its own
    proc = _child(tmp_path, out, {**RUN, "resume": True})
    _wait_for(proc, lambda: _step(out / "last") > 256, "a new checkpoint")
    time.sleep(float(np.random.default_rng(3).uniform(0.0, 0.3)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at = _step(out / "last")
    assert at in (512, 768, 1024) and load_agent(out / "last").num_timesteps == at  # whole, and never went back

    resumed = train_agent(out_dir=out, resume=True, **RUN)
    assert resumed.agent.num_timesteps == 1024 and resumed.rewards.shape == (1024 - at, 1)
    assert _leftovers(out) == []
    after = (out / "logs" / "progress.csv").read_text().splitlines()
    kept = [line for line in before[1:] if int(float(line.split(",")[before[0].split(",").index(
        "time/total_timesteps")])) <= 256]
    assert kept and all(line in after for line in kept)  # the rows up to the checkpoint survived the resume
    assert _steps_logged(out) == uninterrupted[0] == [256, 512, 768, 1024, 1024]  # as if never stopped
    _assert_same_parameters(resumed.agent.model, uninterrupted[1])  # resumed exactly (from resume.json)
    assert _rows(out) == uninterrupted[2]  # every logged figure too, the losses pending at the checkpoint included


def test_sigkill_between_best_and_last_resumes_from_the_newer_best(tmp_path):
    out = tmp_path / "run"
    run = {**RUN, **EVAL, "total_timesteps": 512}
    # with validation each improving evaluation saves best (torch.save #k) then last (#k + 1); the first one, at
    # step 256, saves best #1 and last #2. Killed before #2, best (256) is newer than last (absent)
    proc = _child(tmp_path, out, run, save=2)
    _wait_for(proc, (tmp_path / "marker").exists, "the fault point")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _step(out / "best") == 256 and not (out / "last").exists()
    resumed = train_agent(out_dir=out, resume=True, **run)
    assert resumed.rewards.shape == (256, 1)  # continued from best at 256, not from step 0
    assert _step(out / "last") == 512 and _step(out / "best") >= 256
    straight = train_agent(out_dir=tmp_path / "straight", **run)
    _assert_same_parameters(resumed.agent.model, straight.agent.model.get_parameters())
    assert _rows(out) == _rows(tmp_path / "straight")
    assert resumed.best_eval_reward == straight.best_eval_reward  # and the validation row at 256 was not lost


def test_a_checkpoint_write_that_raises_keeps_the_previous_one(tmp_path, monkeypatch, uninterrupted):
    real, calls = torch.save, []

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    out = tmp_path / "run"
    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        train_agent(out_dir=out, **RUN)
    monkeypatch.setattr(torch, "save", real)
    assert load_agent(out / "last").num_timesteps == 256 and _leftovers(out) == []
    resumed = train_agent(out_dir=out, resume=True, **RUN)
    assert resumed.agent.num_timesteps == 1024 and resumed.rewards.shape == (768, 1)
    assert _steps_logged(out) == uninterrupted[0]
    _assert_same_parameters(resumed.agent.model, uninterrupted[1])


def test_resume_after_sigint_appends_to_progress_csv(tmp_path, uninterrupted):
    out = tmp_path / "run"
    proc = _child(tmp_path, out, RUN)
    _wait_for(proc, lambda: (out / "last").exists() and _step(out / "last") >= 512, "the checkpoint at 512")
    proc.send_signal(signal.SIGINT)
    proc.wait()
    at = _step(out / "last")
    before = _steps_logged(out)
    assert [s for s in before if s <= at] == list(range(256, at + 1, 256))
    resumed = train_agent(out_dir=out, resume=True, **RUN)
    assert resumed.rewards.shape == (1024 - at, 1)
    assert _steps_logged(out) == uninterrupted[0]  # not truncated to the resumed part, no step twice
    _assert_same_parameters(resumed.agent.model, uninterrupted[1])
    assert _rows(out) == uninterrupted[2]
