"""Fine-tuning: lowers the validation loss on a short synthetic series, reads no bar after `end`, trains on no
validation bar, and refuses bad input (another config's folder, too few bars, NaN bars, divergence) in one line."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from qfin.data.simulate import simulate_klines
from qfin.errors import CheckpointError, DataValidationError, TrainingDivergedError
from qfin.kline import KlinePredictor, finetune_kline, load_kline

FIELDS = ("open", "high", "low", "close", "volume")


def synthetic_bars(n: int = 420, seed: int = 2) -> pl.DataFrame:
    x = simulate_klines(1, n, "regime", seed=seed)[0]
    ts = pl.datetime_range(pl.datetime(2010, 1, 4), pl.datetime(2030, 1, 1), "1d", eager=True)
    ts = ts.filter(ts.dt.weekday() <= 5)[:n]
    return pl.DataFrame({"timestamp": ts, "symbol": ["syn"] * n, **{k: x[:, j] for j, k in enumerate(FIELDS)}})


def _weights(folder) -> dict:
    _, _, model = load_kline(folder)
    return model.state_dict()


def test_finetuning_lowers_the_validation_loss_and_writes_a_calibrated_checkpoint(trained, tmp_path):
    res = finetune_kline(synthetic_bars(), base=trained[1], out_dir=tmp_path / "ft", steps=60, eval_every=10,
                         lr=3e-3, calibration_samples=16)
    assert res.best_loss < res.initial_loss
    meta = json.loads((tmp_path / "ft" / "finetune.json").read_text())
    assert meta["best_loss"] == pytest.approx(res.best_loss) and meta["split"]["train_bars"] == 336
    loaded = KlinePredictor.from_checkpoint(tmp_path / "ft")
    assert set(loaded.calibration) == {0.8, 0.9} and loaded.calibration_horizon == 8
    for k, v in _weights(tmp_path / "ft").items():
        assert torch.equal(v, res.predictor.model.state_dict()[k])


def test_no_bar_after_end_is_read_and_no_validation_bar_is_trained_on(trained, tmp_path):
    bars = synthetic_bars()
    end = str(bars["timestamp"][379])[:10]
    kw = {"base": trained[1], "steps": 12, "eval_every": 100, "lr": 3e-3, "calibrate": False, "end": end}
    a = finetune_kline(bars, out_dir=tmp_path / "a", **kw)
    later = bars.with_columns([pl.when(pl.int_range(pl.len()) > 379).then(pl.col(c) * 1.5).otherwise(pl.col(c))
                               .alias(c) for c in FIELDS])
    b = finetune_kline(later, out_dir=tmp_path / "b", **kw)
    assert a.split == b.split and a.best_loss == b.best_loss
    # the validation part (after row 304 of the 380 kept) changes the loss it reports, never the updates
    val_moved = later.with_columns([pl.when(pl.int_range(pl.len()) > 310).then(pl.col(c) * 0.7)
                                    .otherwise(pl.col(c)).alias(c) for c in FIELDS])
    c = finetune_kline(val_moved, out_dir=tmp_path / "c", **kw)
    assert c.initial_loss != a.initial_loss
    wa, wc = a.predictor.model.state_dict(), c.predictor.model.state_dict()
    assert all(torch.equal(wa[k], wc[k]) for k in wa)


def test_bad_input_is_one_line(trained, tmp_path):
    base = trained[1]
    cases = [
        (DataValidationError, "more than one window", dict(bars=synthetic_bars(40))),
        (DataValidationError, "NaN", dict(bars=synthetic_bars().with_columns(
            pl.when(pl.int_range(pl.len()) == 50).then(float("nan")).otherwise(pl.col("close")).alias("close")))),
    ]
    for err, match, kw in cases:
        with pytest.raises(err, match=match) as info:
            finetune_kline(base=base, out_dir=tmp_path / "x", steps=2, **kw)
        assert "\n" not in str(info.value)
    other = tmp_path / "other"
    other.mkdir()
    cfg = json.loads((base / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "lookback": 32}))
    with pytest.raises(CheckpointError, match="another config") as info:
        finetune_kline(synthetic_bars(), base=base, out_dir=other, steps=2)
    assert "\n" not in str(info.value)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(trained, tmp_path):
    out = tmp_path / "div"
    with pytest.raises(TrainingDivergedError, match="diverged at step 1 .* last good checkpoint") as info:
        finetune_kline(synthetic_bars(), base=trained[1], out_dir=out, steps=5, lr=float("inf"))
    assert "\n" not in str(info.value)
    base = _weights(trained[1])
    assert all(torch.equal(v, base[k]) and bool(torch.isfinite(v).all()) for k, v in _weights(out).items())
    np.testing.assert_equal(json.loads((out / "finetune.json").read_text())["best_step"], 0)
