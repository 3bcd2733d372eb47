"""Training: checkpoint round trip (weights_only), exact resume, other-config and damaged checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from qfin.errors import CheckpointError, SpecError
from qfin.kline import KlineTrainConfig, load_kline, read_config, train_kline

from .conftest import TINY_MODEL, TINY_TOK, tiny_config


def test_checkpoint_round_trip(trained):
    cfg, out, res = trained
    for name in ("tokenizer.pt", "model.pt", "optimizer.pt"):
        torch.load(out / name, weights_only=True)  # plain tensors and containers only
    assert json.loads((out / "config.json").read_text())["tokenizer"]["coarse_bits"] == 4
    assert read_config(out) == cfg
    _cfg2, tok, model = load_kline(out, cfg)
    for a, b in [(tok, res.tokenizer), (model, res.model)]:
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert res.progress["stage"] == "done"


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, sp500_corpus):
    cfg = tiny_config(tokenizer_steps=12, model_steps=8, checkpoint_every=5)
    straight = train_kline(cfg, tmp_path / "a", progress=False, corpus=sp500_corpus)
    part = train_kline(cfg, tmp_path / "b", progress=False, corpus=sp500_corpus, stop_after=7)
    assert part.progress == {**part.progress, "stage": "tokenizer", "step": 7}
    part = train_kline(cfg, tmp_path / "b", progress=False, corpus=sp500_corpus, stop_after=9)
    assert part.progress["stage"] == "model"
    resumed = train_kline(cfg, tmp_path / "b", progress=False, corpus=sp500_corpus)
    for a, b in [(straight.tokenizer, resumed.tokenizer), (straight.model, resumed.model)]:
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_of_another_config_is_refused(trained, tmp_path):
    _cfg, out, _ = trained
    other = tiny_config(lookback=32)
    with pytest.raises(CheckpointError, match="another config"):
        load_kline(out, other)
    with pytest.raises(CheckpointError, match="another config"):
        train_kline(other, out, progress=False)
    # weights of another shape behind a config.json that claims this one
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    wide = tiny_config(model=TINY_MODEL.__class__(coarse_bits=4, fine_bits=3, d_model=32, n_heads=2,
                                                  ffn_hidden=32, n_layers=2))
    (bad / "config.json").write_text(json.dumps(wide.to_dict()))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_kline(bad)
    (bad / "model.pt").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_kline(bad)
    with pytest.raises(CheckpointError, match="not a K-line checkpoint"):
        load_kline(tmp_path / "nothing")


def test_config_validation_and_json_round_trip():
    cfg = tiny_config()
    assert KlineTrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(SpecError, match="unknown key 'lr_typo'; accepted: datasets, .*, lr, "):
        KlineTrainConfig.from_dict({**cfg.to_dict(), "lr_typo": 1})
    with pytest.raises(SpecError, match="must equal the tokenizer"):
        KlineTrainConfig(tokenizer=TINY_TOK)
    with pytest.raises(SpecError, match="lookback"):
        tiny_config(lookback=3)


def test_shipped_configs_are_consistent():
    from qfin.kline import KlineModel, KlineTokenizer, cpu_config, gpu_config

    for cfg in (cpu_config(), gpu_config()):
        assert cfg.tokenizer.n_bits == cfg.model.coarse_bits + cfg.model.fine_bits
        assert KlineTrainConfig.from_dict(cfg.to_dict()) == cfg
    cpu = cpu_config()
    n = sum(p.numel() for p in KlineTokenizer(cpu.tokenizer).parameters()) + sum(
        p.numel() for p in KlineModel(cpu.model).parameters())
    assert n < 250_000  # small enough to pre-train on 2 CPU cores in minutes
