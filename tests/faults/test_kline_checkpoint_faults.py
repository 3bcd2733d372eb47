"""K-line checkpoints under injected faults: SIGKILL of a real training process mid-write, right after the swap and
at random moments, and a torch.save that raises mid-checkpoint. After each fault the folder holds one complete
checkpoint (all files of one step), never an older one than before, and resuming gives exactly the weights of a
run that never stopped."""

from __future__ import annotations

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

from qfin.kline import load_kline, train_kline

from ..kline.conftest import tiny_config

CHILD = Path(__file__).with_name("_training_child.py")
ROOT = Path(__file__).resolve().parents[2]
CFG = tiny_config(tokenizer_steps=12, model_steps=8, checkpoint_every=1)
SAVES_PER_CHECKPOINT = 3  # tokenizer.pt, model.pt, optimizer.pt (config.json and progress.json are text)


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """torch on one thread here, as in the child processes (the same numbers on the same machine)."""


@pytest.fixture(scope="module")
def reference(tmp_path_factory, sp500_corpus):
    out = tmp_path_factory.mktemp("kline_reference")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    result = train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    torch.set_num_threads(n)
    return result


@pytest.fixture(scope="session")
def sp500_corpus():
    from qfin.kline import KlineCorpus

    return KlineCorpus.from_datasets(("sp500_index",))


def _position(out: Path) -> tuple[int, int] | None:
    """(stage index, step) of the checkpoint in ``out``, after checking that its files belong to one step."""
    if not out.exists():
        return None
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "model.pt", "optimizer.pt", "progress.json", "tokenizer.pt"], names
    progress = json.loads((out / "progress.json").read_text())
    opt = torch.load(out / "optimizer.pt", weights_only=True)
    adam_steps = {float(s["step"]) for s in opt.get("state", {}).values()}
    # AdamW counts its own updates: the optimizer file is of the step progress.json names (none at a stage's end)
    assert adam_steps == ({float(progress["step"])} if progress["step"] else set()), (adam_steps, progress)
    load_kline(out, CFG)  # loads, weights_only, finite, of this config
    return ("tokenizer", "model", "done").index(progress["stage"]), progress["step"]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _child(args: Path, out: Path, tmp: Path, no_exchange: bool = False, **pause: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "QFIN_FAULT_MARKER": str(tmp / "marker")}
    env.update({f"QFIN_FAULT_PAUSE_{k.upper()}": str(v) for k, v in pause.items()})
    if no_exchange:
        env["QFIN_FAULT_NO_EXCHANGE"] = "1"
    (tmp / "marker").unlink(missing_ok=True)
    return subprocess.Popen([sys.executable, str(CHILD), "kline", str(args), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_at_marker(proc: subprocess.Popen, marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, f"the child ended before the fault point: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the fault point was never reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _assert_same_weights(a, b) -> None:
    for x, y in [(a.tokenizer, b.tokenizer), (a.model, b.model)]:
        sx, sy = x.state_dict(), y.state_dict()
        assert sx.keys() == sy.keys()
        for k in sx:
            assert torch.equal(sx[k], sy[k]), k


def test_sigkill_mid_write_after_swap_and_at_random_resumes_exactly(tmp_path, reference, sp500_corpus):
    args = tmp_path / "config.json"
    args.write_text(json.dumps(CFG.to_dict()))
    out = tmp_path / "ckpt"
    seen = []

    # 1. inside the 4th checkpoint, after tokenizer.pt and model.pt, before optimizer.pt and progress.json: the
    #    window in which the old one-file-at-a-time rename mixed steps
    _kill_at_marker(_child(args, out, tmp_path, save=3 * SAVES_PER_CHECKPOINT + 3), tmp_path / "marker")
    seen.append(_position(out))
    assert seen[-1] == (0, 3)  # the 3rd checkpoint, whole; the 4th's staging folder is all that is half-written
    assert len(_leftovers(out)) == 1

    # 2. right after the atomic exchange of the 3rd checkpoint of this run, before the old one is deleted
    _kill_at_marker(_child(args, out, tmp_path, rmtree=4), tmp_path / "marker")
    seen.append(_position(out))
    assert seen[-1] == (0, 6)  # resumed at 3, the exchange of step 6 done: the new checkpoint is in place

    # 3. at random moments after the child has written a checkpoint of its own
    rng = np.random.default_rng(17)
    for _ in range(2):
        before = (out / "progress.json").stat().st_mtime_ns
        proc = _child(args, out, tmp_path)
        deadline = time.monotonic() + 60
        while proc.poll() is None and (out / "progress.json").stat().st_mtime_ns == before:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(float(rng.uniform(0.0, 0.05)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.append(_position(out))
    assert seen == sorted(seen) and all(p is not None for p in seen)  # never lost, never went back

    resumed = train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    assert resumed.progress["stage"] == "done"
    _assert_same_weights(resumed, reference)
    assert _position(out) == (2, 0) and _leftovers(out) == []  # stale staging folders were cleared


def test_sigkill_inside_the_rename_aside_swap_puts_the_previous_checkpoint_back(tmp_path, reference, sp500_corpus):
    """Where renameat2 is missing the old checkpoint is renamed aside before the new one is renamed in; killed
    between the two renames, the folder is absent for an instant: the next run puts the previous one back."""
    args = tmp_path / "config.json"
    args.write_text(json.dumps(CFG.to_dict()))
    out = tmp_path / "ckpt"
    # os.replace #1 puts the first checkpoint in place; #2 moves it aside for the second; paused before #3
    proc = _child(args, out, tmp_path, no_exchange=True, replace=3)
    _kill_at_marker(proc, tmp_path / "marker")
    assert not out.exists() and len(_leftovers(out)) == 2  # the old one aside and the complete new one staged
    resumed = train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    _assert_same_weights(resumed, reference)
    assert _leftovers(out) == []


@pytest.mark.parametrize("nth", [1, 5, 9, 36])
def test_a_checkpoint_write_that_raises_keeps_the_previous_one(tmp_path, monkeypatch, reference, sp500_corpus, nth):
    """torch.save raises on its ``nth`` call (1: the very first checkpoint; 5 and 9: model.pt and optimizer.pt
    ... of later ones; 36: the 12th and last tokenizer checkpoint): the error propagates, the previous checkpoint
    stays whole, and a resume equals the uninterrupted run."""
    real, calls = torch.save, []

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    out = tmp_path / "ckpt"
    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    monkeypatch.setattr(torch, "save", real)
    done = (nth - 1) // SAVES_PER_CHECKPOINT  # complete checkpoints before the failing one
    assert _position(out) == (None if done == 0 else (0, done))
    assert _leftovers(out) == []  # the failed staging folder was removed
    resumed = train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    _assert_same_weights(resumed, reference)


def test_files_beside_the_checkpoint_survive_its_swaps(tmp_path, sp500_corpus):
    """``qfin kline evaluate`` writes evaluation.json into the checkpoint folder, a user may keep notes there: every
    later checkpoint (each one a fresh folder swapped in) carries them along."""
    out = tmp_path / "ckpt"
    train_kline(CFG, out, progress=False, corpus=sp500_corpus, stop_after=3)
    (out / "evaluation.json").write_text('{"msft": 1}')
    (out / "notes").mkdir()
    (out / "notes" / "run.txt").write_text("lr sweep, 2nd try")
    train_kline(CFG, out, progress=False, corpus=sp500_corpus)
    assert json.loads((out / "progress.json").read_text())["stage"] == "done"
    assert (out / "evaluation.json").read_text() == '{"msft": 1}'
    assert (out / "notes" / "run.txt").read_text() == "lr sweep, 2nd try"
