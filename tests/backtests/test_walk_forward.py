"""Walk-forward sweeps: each fold's winner is the best point of a sweep run on its training window alone, the
out-of-sample curve compounds the winners' test-window backtests, and no fold's choice moves when every bar after
its training window is changed (the look-ahead test)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from qfin.backtests import parse_spec, run_backtest, run_sweep
from qfin.backtests._walk_forward import run_walk_forward
from qfin.data import load_dataset
from qfin.errors import SpecError

GRID = {"fast": [10, 20, 40], "slow": [100, 150]}
FOLDS = {"train": 500, "test": 250, "purge": 3, "embargo": 2}


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _spec(path) -> object:
    return parse_spec({"name": "wf", "initial_cash": 10_000.0, "costs": {"fee": 0.001},
                       "data": {"path": str(path), "start": "2000-01-03", "end": "2009-12-31"},
                       "strategies": [{"kind": "sma_crossover", "name": "sma", "fast": 10, "slow": 100}]})


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    path = tmp_path_factory.mktemp("wf") / "spx.parquet"
    load_dataset("sp500_index").write_parquet(path)
    return path


def test_each_winner_is_the_training_sweeps_best_and_the_curve_compounds_the_test_runs(bars):
    spec = _spec(bars)
    result = run_walk_forward(spec, GRID, progress=False, **FOLDS)
    assert len(result.folds) >= 5
    for fold in (result.folds[0], result.folds[3]):
        window = spec.model_copy(update={"data": spec.data.model_copy(update={"start": _date(fold["train_start"]),
                                                                              "end": _date(fold["train_end"])})})
        best = run_sweep(window, GRID, progress=False).rows[0]  # the sweep on the training window alone
        assert {key: best[key] for key in GRID} == fold["winner"]
        assert best["sharpe"] == pytest.approx(fold["train_sharpe"], rel=1e-12)
    frame = result.equity_frame()
    value = spec.initial_cash
    for fold in result.folds:  # brute force: the winner's own backtest on each test window, compounded
        test = spec.model_copy(update={
            "data": spec.data.model_copy(update={"start": _date(fold["test_start"]), "end": _date(fold["test_end"])}),
            "strategies": [spec.strategies[0].model_copy(update={"fast": fold["winner"]["fast"],
                                                                 "slow": fold["winner"]["slow"]})]})
        run = run_backtest(test.model_dump(mode="json"), progress=False)
        assert {key: run.spec.strategies[0].params[key] for key in GRID} == fold["winner"]
        equity = frame.filter(pl.col("fold") == fold["fold"])["oos_equity"].to_numpy()
        np.testing.assert_allclose(equity, value * run.runs["sma"].equity / spec.initial_cash, rtol=1e-12)
        assert fold["test"]["total_return"] == pytest.approx(run.metrics["sma"]["total_return"], rel=1e-12)
        value = equity[-1]
    assert result.metrics["total_return"] == pytest.approx(value / spec.initial_cash - 1.0, rel=1e-12)
    gaps = [np.busday_count(f["train_end"], f["test_start"]) for f in result.folds]
    assert min(gaps) >= FOLDS["purge"] + FOLDS["embargo"]  # the purged and embargoed bars are in neither window


def test_no_fold_choice_changes_when_the_bars_after_its_training_window_change(bars, tmp_path):
    spec = _spec(bars)
    before = run_walk_forward(spec, GRID, progress=False, **FOLDS)
    k = 3
    cut = np.datetime64(before.folds[k]["train_end"]) + np.timedelta64(1, "D")
    frame = pl.read_parquet(bars)
    rng = np.random.default_rng(1)
    later = (frame["timestamp"] >= cut.astype("datetime64[us]").item()).to_numpy()
    scale = np.where(later, np.exp(np.cumsum(rng.normal(0.0, 0.02, frame.height) * later)), 1.0)
    perturbed = frame.with_columns([pl.col(c) * scale for c in ("open", "high", "low", "close")])
    path = tmp_path / "perturbed.parquet"
    perturbed.write_parquet(path)
    after = run_walk_forward(_spec(path), GRID, progress=False, **FOLDS)
    for old, new in zip(before.folds[: k + 1], after.folds[: k + 1], strict=True):
        assert (old["winner"], old["train_sharpe"]) == (new["winner"], new["train_sharpe"])
    assert before.folds[k]["test"] != after.folds[k]["test"]  # the perturbation reached the test window
    assert any(old["train_sharpe"] != new["train_sharpe"] for old, new in zip(before.folds[k + 1:],
                                                                              after.folds[k + 1:], strict=True))


@pytest.mark.parametrize(("options", "message"), [
    ({"sort_by": "turnover"}, "--sort 'turnover' with --walk-forward: choose one of total_return"),
    ({"purge": -1}, "--purge must be a whole number of bars >= 0, got -1"),
    ({"train": 3, "purge": 3}, "--train must be a whole number of bars > purge"),
    ({"test": 1}, "--test must be a whole number of bars >= 2"),
    ({"train": 2000, "test": 1000}, "--walk-forward: 2515 bars are too few for one fold"),
])
def test_bad_settings_are_one_line_errors(bars, options, message):
    settings = {**FOLDS, **options}
    with pytest.raises(SpecError, match=message.replace("(", r"\(")) as err:
        run_walk_forward(_spec(bars), GRID, progress=False, **settings)
    assert "\n" not in str(err.value)


def test_cli_writes_walk_forward_json_and_oos_equity(bars, tmp_path):
    spec = tmp_path / "wf.toml"
    spec.write_text(f'name = "wf"\ninitial_cash = 10_000\n[data]\npath = "{bars}"\nstart = 2000-01-03\n'
                    'end = 2009-12-31\n[[strategies]]\nkind = "sma_crossover"\nfast = 10\nslow = 100\n')
    args = [sys.executable, "-m", "qfin", "sweep", str(spec), "--grid", "fast=10,20", "--grid", "slow=100,150",
            "--walk-forward", "--train", "500", "--test", "250", "--expanding", "--out", str(tmp_path / "out")]
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, COLUMNS="120"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "out of sample (test windows stitched)" in done.stdout
    written = json.loads((tmp_path / "out" / "walk_forward.json").read_text())
    assert written["settings"]["expanding"] and all(f["train_start"] == "2000-01-03" for f in written["folds"])
    assert pl.read_parquet(tmp_path / "out" / "oos_equity.parquet").columns == ["timestamp", "oos_equity", "fold"]
    bad = subprocess.run([*args[:-2], "--sort", "turnover"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr + bad.stdout


def test_a_weight_strategy_grid_runs_one_backtest_per_window_and_point():
    spec = parse_spec({"name": "wf", "rebalance": "quarterly",
                       "data": {"dataset": "sp500_stocks", "assets": ["KO", "PEP", "XOM"], "start": "2012-01-03",
                                "end": "2015-12-31"},
                       "strategies": [{"kind": "inverse_volatility", "lookback": 20}]})
    grid = {"lookback": [20, 120]}
    result = run_walk_forward(spec, grid, train=300, test=200, n_workers=1, progress=False)
    first = result.folds[0]
    window = spec.model_copy(update={"data": spec.data.model_copy(update={"start": _date(first["train_start"]),
                                                                          "end": _date(first["train_end"])})})
    best = run_sweep(window, grid, n_workers=1, progress=False).rows[0]
    assert first["winner"] == {"lookback": best["lookback"]}
    assert first["train_sharpe"] == pytest.approx(best["sharpe"], rel=1e-12)
