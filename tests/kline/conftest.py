"""Tiny K-line configs and one shared, briefly trained checkpoint (a few seconds on CPU)."""

from __future__ import annotations

import pytest
import torch

from qfin.kline import (
    KlineCorpus,
    KlineModelConfig,
    KlinePredictor,
    KlineTokenizerConfig,
    KlineTrainConfig,
    train_kline,
)

TINY_TOK = KlineTokenizerConfig(d_model=16, n_heads=2, ffn_hidden=32, enc_layers=1, dec_layers=1,
                                coarse_bits=4, fine_bits=3)
TINY_MODEL = KlineModelConfig(coarse_bits=4, fine_bits=3, d_model=16, n_heads=2, ffn_hidden=32, n_layers=2)


def tiny_config(**kw) -> KlineTrainConfig:
    base = {"datasets": ("sp500_index",), "tokenizer": TINY_TOK, "model": TINY_MODEL, "lookback": 24, "horizon": 8,
                "stride": 8, "tokenizer_steps": 150, "model_steps": 60, "batch_size": 32, "lr": 3e-3,
                "checkpoint_every": 30}
    base.update(kw)
    return KlineTrainConfig(**base)


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs torch on one thread (the shared fixture of tests/conftest.py)."""


@pytest.fixture(scope="session")
def sp500_corpus() -> KlineCorpus:
    return KlineCorpus.from_datasets(("sp500_index",))


@pytest.fixture(scope="session")
def trained(tmp_path_factory, sp500_corpus):
    """(config, out_dir, TrainResult) of a tiny run on the S&P 500 index bars."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = tiny_config()
    out = tmp_path_factory.mktemp("kline_ckpt")
    res = train_kline(cfg, out, progress=False, corpus=sp500_corpus)
    torch.set_num_threads(n)
    return cfg, out, res


@pytest.fixture(scope="session")
def predictor(trained) -> KlinePredictor:
    return KlinePredictor.from_checkpoint(trained[1])
