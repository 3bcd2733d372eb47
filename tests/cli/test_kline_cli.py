"""`qfin kline train|forecast|generate|evaluate` run as a user runs them (subprocesses) on a tiny model trained
through the CLI; files are checked against the library called in-process with the same seed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
BARS = ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
TINY = """\
datasets = ["sp500_index"]
lookback = 24
horizon = 8
stride = 8
tokenizer_steps = 40
model_steps = 20
batch_size = 32
lr = 3e-3
checkpoint_every = 20

[tokenizer]
d_model = 16
n_heads = 2
ffn_hidden = 32
enc_layers = 1
dec_layers = 1
coarse_bits = 4
fine_bits = 3

[model]
coarse_bits = 4
fine_bits = 3
d_model = 16
n_heads = 2
ffn_hidden = 32
n_layers = 2
"""


def run(*args: str) -> subprocess.CompletedProcess:
    # wide enough that the one error line is not wrapped by rich
    env = dict(os.environ, COLUMNS="2000", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qfin", "kline", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env, timeout=300)


def assert_clean_failure(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny model trained through `qfin kline train` (a few seconds on one thread)."""
    folder = tmp_path_factory.mktemp("kline_cli")
    (folder / "tiny.toml").write_text(TINY)
    out = folder / "ckpt"
    result = run("train", str(folder / "tiny.toml"), "--out", str(out), "--no-progress", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "tokenizer" in result.stdout and "coarse_ce" in result.stdout  # both stages' validation losses
    return out


def test_train_writes_a_checkpoint_of_the_toml_config(checkpoint):
    from qfin.kline import read_config

    for name in ("config.json", "tokenizer.pt", "model.pt", "progress.json"):
        assert (checkpoint / name).is_file()
    cfg = read_config(checkpoint)
    assert (cfg.lookback, cfg.horizon, cfg.tokenizer.coarse_bits, cfg.model.n_layers) == (24, 8, 4, 2)
    assert json.loads((checkpoint / "progress.json").read_text())["stage"] == "done"


def test_forecast_writes_every_path_and_a_png_and_is_seeded(checkpoint, tmp_path):
    from qfin.data import load_dataset
    from qfin.kline import KlinePredictor

    result = run("forecast", "-c", str(checkpoint), "--dataset", "msft", "--end", "2015-06-30", "--pred-len", "6",
                 "--samples", "5", "--seed", "3", "--threads", "1", "--out", str(tmp_path / "fc.csv"))
    assert result.returncode == 0, result.stderr
    assert "MSFT" in result.stdout and "80% band (raw)" in result.stdout

    frame = pl.read_csv(tmp_path / "fc.csv", try_parse_dates=True)
    assert set(BARS) <= set(frame.columns) and "path" in frame.columns
    assert frame.height == 5 * 6
    assert (tmp_path / "fc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (tmp_path / "fc.html").read_text()
    values = frame.select(BARS[2:]).to_numpy()
    # --end cuts the context: the first forecast bar is the business day after 2015-06-30
    assert str(frame["timestamp"].min())[:10] == "2015-07-01"
    assert frame["timestamp"].n_unique() == 6
    # OHLC repaired
    o, h, lo, c = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
    assert np.all(h >= np.maximum(o, c)) and np.all(lo <= np.minimum(o, c)) and np.all(values[:, 4] >= 0)

    # same seed, same paths: the CLI run equals the library run in this process; another seed differs
    bars = load_dataset("msft").filter(pl.col("timestamp") <= pl.datetime(2015, 6, 30))
    predictor = KlinePredictor.from_checkpoint(checkpoint)
    same = predictor.predict(bars, pred_len=6, samples=5, seed=3).paths.reshape(-1, 5)
    np.testing.assert_allclose(values, same, rtol=1e-12)
    other = predictor.predict(bars, pred_len=6, samples=5, seed=4).paths.reshape(-1, 5)
    assert not np.allclose(values, other)


def test_forecast_with_calibration_labels_the_band_calibrated(checkpoint, tmp_path):
    result = run("forecast", "-c", str(checkpoint), "--dataset", "sp500_index", "--end", "2016-12-30",
                 "--calibrate-start", "2016-01-01", "--pred-len", "4", "--samples", "8", "--threads", "1",
                 "--out", str(tmp_path / "cal.parquet"))
    assert result.returncode == 0, result.stderr
    assert "80% band (calibrated)" in result.stdout
    frame = pl.read_parquet(tmp_path / "cal.parquet")
    assert set(BARS) <= set(frame.columns) and frame.height == 8 * 4
    assert (tmp_path / "cal.png").read_bytes()[:4] == b"\x89PNG"


def test_generate_writes_bars_schema_consistent_seeded_klines(checkpoint, tmp_path):
    from qfin.data import load_dataset, validate_bars
    from qfin.kline import KlinePredictor

    out = tmp_path / "gen.csv"
    result = run("generate", "-c", str(checkpoint), "--path", str(_csv_of_msft(tmp_path)), "--end", "2012-12-31",
                 "--steps", "12", "--paths", "3", "--seed", "5", "--threads", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "excess kurtosis" in result.stdout
    frame = pl.read_csv(out, try_parse_dates=True)
    assert frame.columns == BARS
    assert sorted(frame["symbol"].unique()) == ["MSFT~0", "MSFT~1", "MSFT~2"]
    validate_bars(frame)  # OHLC-consistent, positive prices, increasing timestamps per synthetic symbol
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bars = load_dataset("msft").filter(pl.col("timestamp") <= pl.datetime(2012, 12, 31))
    predictor = KlinePredictor.from_checkpoint(checkpoint)
    same = predictor.generate(bars, n_steps=12, n_paths=3, seed=5)
    np.testing.assert_allclose(frame.select(BARS[2:]).to_numpy(), same.select(BARS[2:]).to_numpy(), rtol=1e-12)
    other = predictor.generate(bars, n_steps=12, n_paths=3, seed=6)
    assert not np.allclose(frame.select(BARS[2:]).to_numpy(), other.select(BARS[2:]).to_numpy())


def _csv_of_msft(folder: Path) -> Path:
    from qfin.data import load_dataset

    path = folder / "msft.csv"
    load_dataset("msft").drop("symbol").write_csv(path)  # read_bars names the symbol after the file
    return path


@pytest.mark.slow
def test_evaluate_prints_the_table_and_writes_json(checkpoint, tmp_path):
    result = run("evaluate", "-c", str(checkpoint), "--samples", "4", "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "90% coverage calibrated" in result.stdout and "discriminative score" in result.stdout
    report = json.loads((tmp_path / "evaluation.json").read_text())["sp500_index"]
    assert report["n_origins"] > 10
    assert 0.0 <= report["coverage"]["0.9"]["calibrated"] <= 1.0
    assert "sp500_index" in (tmp_path / "evaluation.html").read_text()


def test_a_bad_config_key_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "bad.toml").write_text("lookbak = 24\n")
    result = run("train", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "ck"))
    assert_clean_failure(result, "bad.toml", "lookbak", "lookback")
    assert not (tmp_path / "ck").exists()


def test_a_missing_checkpoint_is_one_line(tmp_path):
    result = run("forecast", "-c", str(tmp_path / "nowhere"), "--dataset", "msft", "--out", str(tmp_path / "f.csv"))
    assert_clean_failure(result, "nowhere", "checkpoint")
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.slow
def test_resuming_into_a_checkpoint_of_another_config_is_one_line(checkpoint, tmp_path):
    copy = shutil.copytree(checkpoint, tmp_path / "ckpt")
    (tmp_path / "other.toml").write_text(TINY.replace("lookback = 24", "lookback = 32"))
    result = run("train", str(tmp_path / "other.toml"), "--out", str(copy), "--no-progress")
    assert_clean_failure(result, "another config", "lookback")
