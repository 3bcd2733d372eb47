"""Non-finite guards: K-line and agent training stop at once on a non-finite loss, gradient or parameter with one
TrainingDivergedError line, keep the last good checkpoint and resume from it; checkpoints holding NaN are refused
at load; the deep hedger's checkpoint holds the parameters it kept; the CLI prints one line and exits 1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qfin.errors import CheckpointError, TrainingDivergedError

from ..agents.conftest import PPO_SMALL, SMALL
from ..kline.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """torch on one thread."""


@pytest.fixture(scope="module")
def corpus():
    from qfin.kline import KlineCorpus

    return KlineCorpus.from_datasets(("sp500_index",))


def test_kline_stops_at_a_nan_loss_keeps_the_last_checkpoint_and_resumes_exactly(tmp_path, monkeypatch, corpus):
    from qfin.kline import KlinePredictor, load_kline, train_kline
    from qfin.kline._tokenizer import KlineTokenizer

    cfg = tiny_config(tokenizer_steps=12, model_steps=6, checkpoint_every=5)
    straight = train_kline(cfg, tmp_path / "straight", progress=False, corpus=corpus)
    real_loss, calls = KlineTokenizer.loss, []

    def loss_going_nan(self, z):  # the 8th update's loss is NaN
        calls.append(1)
        loss, parts = real_loss(self, z)
        return (loss * float("nan"), parts) if len(calls) == 8 else (loss, parts)

    out = tmp_path / "ckpt"
    monkeypatch.setattr(KlineTokenizer, "loss", loss_going_nan)
    with pytest.raises(TrainingDivergedError) as err:
        train_kline(cfg, out, progress=False, corpus=corpus)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("K-line tokenizer training diverged at step 8 of 12: the loss (nan) is not finite")
    assert f"the last good checkpoint (tokenizer stage, step 5) is kept in {out}" in message
    assert json.loads((out / "progress.json").read_text())["step"] == 5
    KlinePredictor.from_checkpoint(out)  # finite and loadable

    monkeypatch.setattr(KlineTokenizer, "loss", real_loss)
    resumed = train_kline(cfg, out, progress=False, corpus=corpus)
    for a, b in [(straight.tokenizer, resumed.tokenizer), (straight.model, resumed.model)]:
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    poisoned = tmp_path / "poisoned"
    shutil.copytree(out, poisoned)
    state = torch.load(poisoned / "model.pt", weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name].view(-1)[0] = float("nan")
    torch.save(state, poisoned / "model.pt")
    with pytest.raises(CheckpointError, match=rf"model.pt: the model weights hold NaN or infinite values \({name}\)"):
        KlinePredictor.from_checkpoint(poisoned)
    with pytest.raises(CheckpointError, match="NaN"):
        load_kline(poisoned)
    (poisoned / "model.pt").write_bytes(b"not a state dict")  # torch's error would say weights_only=False
    with pytest.raises(CheckpointError, match=r"model.pt: not a readable model state dict \(UnpicklingError\)") as err:
        load_kline(poisoned)
    assert "weights_only" not in str(err.value)


def test_kline_train_cli_with_a_huge_lr_exits_1_with_one_line(tmp_path):
    config = tmp_path / "huge_lr.json"
    config.write_text(json.dumps(tiny_config(tokenizer_steps=12, model_steps=6, lr=1e8).to_dict()))
    out = tmp_path / "ckpt"
    run = subprocess.run([sys.executable, "-m", "qfin", "kline", "train", str(config), "--out", str(out),
                          "--no-progress", "--threads", "1"], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
                              "HOME": str(tmp_path)})
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1, run.stderr
    assert len(lines) == 1 and "training diverged at step" in lines[0] and "lr 1e+08" in lines[0], run.stderr
    assert "Traceback" not in run.stderr + run.stdout and "trained" not in run.stdout
    assert not out.exists() or not (out / "model.pt").exists()  # no NaN weights were saved


def test_ppo_with_a_huge_learning_rate_raises_one_qfin_line(tmp_path):
    from qfin.agents import train_agent

    with pytest.raises(TrainingDivergedError) as err:
        train_agent(SMALL, "ppo", 1024, seed=1, out_dir=tmp_path, algo_kwargs={**PPO_SMALL, "learning_rate": 1e8},
                    checkpoint_freq=256)
    assert "\n" not in str(err.value) and str(err.value).startswith("ppo training diverged near step 256")
    assert "learning_rate 100000000.0" in str(err.value)
    assert not (tmp_path / "last").exists()


def test_agent_stops_at_a_nan_gradient_and_keeps_the_last_good_checkpoint(tmp_path):
    from stable_baselines3.common.callbacks import BaseCallback

    from qfin.agents import load_agent, train_agent

    class PoisonAt768(BaseCallback):  # the update after the rollout that ends at step 768 gets NaN gradients
        def _on_rollout_end(self) -> None:
            if self.num_timesteps >= 768 and not getattr(self, "done", False):
                self.done = True
                for p in self.model.policy.parameters():
                    p.register_hook(lambda g: g * float("nan"))

        def _on_step(self) -> bool:
            return True

    with pytest.raises(TrainingDivergedError) as err:
        train_agent(SMALL, "ppo", 1024, seed=1, out_dir=tmp_path, algo_kwargs=PPO_SMALL, checkpoint_freq=256,
                    callbacks=[PoisonAt768()])
    message = str(err.value)
    assert "\n" not in message
    assert "ppo training diverged near step 768: the gradients of policy.optimizer are not finite" in message
    # the checkpoint at 768 would hold that update's parameters: it is never written, the one at 512 stays
    assert f"the last good checkpoint, {tmp_path / 'last'} at step 512, is kept" in message
    kept = load_agent(tmp_path / "last")
    assert kept.num_timesteps == 512
    assert all(bool(torch.isfinite(p).all()) for p in kept.model.policy.parameters())

    poisoned = tmp_path / "poisoned"
    shutil.copytree(tmp_path / "last", poisoned)
    state = torch.load(poisoned / "params.pt", weights_only=True)
    key = next(k for k, v in state["params"]["policy"].items() if v.is_floating_point())
    state["params"]["policy"][key].view(-1)[0] = float("inf")
    torch.save(state, poisoned / "params.pt")
    with pytest.raises(CheckpointError, match=rf"params.pt: policy.{key} holds NaN or infinite values"):
        load_agent(poisoned)
    (poisoned / "params.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="params.pt: not a readable qfin agent parameter file") as err:
        load_agent(poisoned)
    assert "weights_only" not in str(err.value)


def test_hedger_checkpoint_holds_the_parameters_it_kept(tmp_path, monkeypatch):
    import numpy as np

    import qfin.hedging._deep as deep
    from qfin.data.simulate import HestonParams, heston
    from qfin.hedging import HedgerConfig, HedgingMarket, train_hedger

    params = HestonParams(0.04, 3.0, 0.04, 0.6, -0.7)
    s, v = heston(100.0, params=params, maturity=30 / 365, n_steps=6, n_paths=2000, seed=5, return_variance=True)
    market = HedgingMarket(s, v, 100.0, 30 / 365, params)
    assert np.isfinite(s).all()
    real, calls = deep.hedger_loss, []

    def loss_going_nan(pnl, config, threshold=None):  # iteration 57's loss is NaN (the checkpoint is every 50)
        calls.append(1)
        out = real(pnl, config, threshold)
        return out * float("nan") if len(calls) == 58 else out

    monkeypatch.setattr(deep, "hedger_loss", loss_going_nan)
    path = tmp_path / "hedger.pt"
    with pytest.warns(RuntimeWarning, match="non-finite loss at iteration 57"):
        res = train_hedger(market, HedgerConfig(iterations=80, batch_size=64, hidden=4, checkpoint=str(path)))
    saved = torch.load(path, weights_only=True)
    kept = res.model.state_dict()
    assert saved.keys() == kept.keys() and all(torch.equal(saved[k], kept[k]) for k in kept)  # iteration 56's
