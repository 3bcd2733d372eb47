"""Sweeps: grid parsing, vectorised SMA columns equal single runs, local and Ray backends give the same table."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qfin.backtests import METRIC_NAMES, parse_spec, run_backtest
from qfin.backtests._sweep import parse_grid, run_sweep
from qfin.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]

SMA_SPEC = {
    "name": "sma",
    "execution": "next_open",
    "initial_cash": 10_000,
    "data": {"dataset": "sp500_index", "start": "2003-01-01", "end": "2008-12-31"},
    "costs": {"fee": 0.001},
    "strategies": [{"kind": "sma_crossover", "fast": 10, "slow": 30}],
}

WEIGHTS_SPEC = {
    "name": "ivol",
    "data": {"dataset": "sp500_stocks", "start": "2012-01-01", "end": "2013-12-31",
             "assets": ["AAPL", "KO", "XOM", "JPM"]},
    "costs": {"fee": 0.001},
    "strategies": [{"kind": "inverse_volatility", "lookback": 60}],
}


def test_parse_grid_ranges_exclude_stop_and_lists():
    grid = parse_grid(["fast=5:15", "slow=20:70:5", "long_short=0,1"])
    assert grid["fast"] == list(range(5, 15))
    assert grid["slow"] == [20, 25, 30, 35, 40, 45, 50, 55, 60, 65]
    assert grid["long_short"] == [0, 1]
    assert len(grid["fast"]) * len(grid["slow"]) == 100


@pytest.mark.parametrize("bad", ["fast", "fast=", "fast=5:1", "fast=1:10:0", "fast=a:b"])
def test_parse_grid_rejects_malformed_items(bad):
    with pytest.raises(SpecError, match="--grid"):
        parse_grid([bad])


def test_vectorised_sma_sweep_equals_one_backtest_per_point():
    spec = parse_spec(SMA_SPEC)
    result = run_sweep(spec, parse_grid(["fast=5:15:4", "slow=20:40:10"]), progress=False)
    assert result.vectorised
    assert len(result.rows) == 3 * 2
    for row in result.rows:
        single = dict(SMA_SPEC, strategies=[{"kind": "sma_crossover", "fast": row["fast"], "slow": row["slow"]}])
        metrics = next(iter(run_backtest(single, progress=False).metrics.values()))
        for key in METRIC_NAMES:
            assert row[key] == pytest.approx(metrics[key], rel=1e-12, abs=1e-15)
        assert (row["ruined"], row["ruin_date"]) == (metrics["ruined"], metrics["ruin_date"]) == (False, None)
    sharpes = [row["sharpe"] for row in result.rows]
    assert sharpes == sorted(sharpes, reverse=True)


def test_a_point_with_no_sharpe_ranks_last():
    """SMA points flat through the whole of Oct-Nov 2008 (slow 40: fast never crosses above) have a flat curve and
    no Sharpe ratio (NaN). Before issue 17 NaN compared false with everything and broke the sort: the table read
    -0.863, nan, -2.226, nan, -1.143, nan and highlighted its first row whatever the grid held."""
    spec = parse_spec(dict(SMA_SPEC, data={"dataset": "sp500_index", "start": "2008-10-01", "end": "2008-11-28"}))
    result = run_sweep(spec, parse_grid(["fast=3,5,10", "slow=20,40"]), progress=False)
    sharpes = [row["sharpe"] for row in result.rows]
    defined = [value for value in sharpes if not math.isnan(value)]
    assert len(defined) == 3 and all(math.isnan(value) for value in sharpes[3:])
    assert sharpes[:3] == sorted(defined, reverse=True)
    assert {row["slow"] for row in result.rows[3:]} == {40}
    by_volatility = run_sweep(spec, parse_grid(["fast=3,5,10", "slow=20,40"]), sort_by="volatility", progress=False)
    assert [row["volatility"] for row in by_volatility.rows] == sorted(row["volatility"] for row in result.rows)


@pytest.mark.parametrize(("item", "expected"), [
    ("fast=5.5,5.9", "--grid fast=5.5: fast: must be a whole number of bars >= 1 (an integer such as 10), got 5.5"),
    ("long_short=0,2", "--grid long_short=2: long_short: must be true or false (or 0 / 1), got 2"),
    ("long_short=no,yes", "long_short: must be true or false (or 0 / 1), got 'no'"),
])
def test_grid_values_are_checked_against_the_strategy_not_coerced(item, expected):
    """Before issue 17 fast=5.5,5.9 ran as fast 5 twice (two rows, identical numbers)."""
    with pytest.raises(SpecError) as info:
        run_sweep(parse_spec(SMA_SPEC), parse_grid([item]), progress=False)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_grid_switch_takes_zero_one_and_true_false_as_booleans():
    spec = parse_spec(SMA_SPEC)
    numbers = run_sweep(spec, parse_grid(["long_short=0,1"]), n_workers=1, progress=False)
    words = run_sweep(spec, parse_grid(["long_short=true,false"]), n_workers=1, progress=False)
    assert sorted(row["long_short"] for row in numbers.rows) == [False, True]
    assert all(isinstance(row["long_short"], bool) for row in numbers.rows)
    key = {row["long_short"]: row["total_return"] for row in numbers.rows}
    assert key == {row["long_short"]: row["total_return"] for row in words.rows}
    assert key[True] != key[False]


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for every test that needs it (started once per session)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


def test_ray_backend_gives_the_same_table_as_local(local_ray):
    spec = parse_spec(WEIGHTS_SPEC)
    grid = parse_grid(["lookback=20:80:20"])
    local = run_sweep(spec, grid, backend="local", n_workers=2, progress=False)
    on_ray = run_sweep(spec, grid, backend="ray", progress=False)
    assert not local.vectorised
    assert local.rows == on_ray.rows
    assert [r["lookback"] for r in local.rows] != [] and len(local.rows) == 3


def test_cli_sweep_prints_ranked_table_and_writes_heatmap(tmp_path):
    spec = tmp_path / "sma.toml"
    spec.write_text("""
name = "sma"
execution = "next_open"
initial_cash = 10000
[data]
dataset = "sp500_index"
start = 2003-01-01
end = 2008-12-31
[costs]
fee = 0.001
[[strategies]]
kind = "sma_crossover"
""")
    out = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "qfin", "sweep", str(spec), "--grid", "fast=5:15",
                             "--grid", "slow=20:70:5", "--out", str(out)], capture_output=True, text=True,
                            env=dict(os.environ, COLUMNS="250"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "100 grid points" in result.stdout
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "sweep.csv").read_text().splitlines()) == 101


def test_a_sweep_reports_whether_its_winner_is_luck(tmp_path):
    """The best point's deflated Sharpe ratio and the PBO of the grid, recomputed here from each point's own
    backtest with qfin.risk's definitions."""
    import math

    from qfin.backtests import load_spec
    from qfin.backtests._metrics import path_returns
    from qfin.risk import deflated_sharpe_ratio, probability_of_backtest_overfitting

    spec = load_spec(ROOT / "backtests" / "sma_spx.toml")
    spec = spec.model_copy(update={"strategies": [spec.strategies[0]]})
    result = run_sweep(spec, parse_grid(["fast=10,20,40", "slow=60,120"]), progress=False)
    luck = result.overfitting
    assert luck["n_trials"] == 6 and 0.0 <= luck["deflated_sharpe"] <= 1.0 and 0.0 <= luck["pbo"] <= 1.0
    columns = []
    for fast in (10, 20, 40):
        for slow in (60, 120):
            item = spec.strategies[0].model_dump()
            one = spec.model_copy(update={"strategies": [type(spec.strategies[0]).model_validate(
                {**item, "fast": fast, "slow": slow})]})
            columns.append(path_returns(next(iter(run_backtest(one, progress=False).runs.values())).equity,
                                        spec.initial_cash))
    r = np.column_stack(columns)
    sharpes = r.mean(axis=0) / r.std(axis=0, ddof=1)
    best = result.rows[0]
    k = [(f, s) for f in (10, 20, 40) for s in (60, 120)].index((best["fast"], best["slow"]))
    c = r[:, k] - r[:, k].mean()
    skew, kurt = np.mean(c ** 3) / np.mean(c ** 2) ** 1.5, np.mean(c ** 4) / np.mean(c ** 2) ** 2
    assert luck["deflated_sharpe"] == pytest.approx(deflated_sharpe_ratio(
        sharpes[k], r.shape[0], n_trials=6, sharpe_variance=sharpes.var(ddof=1), skew=skew, kurtosis=kurt), rel=1e-9)
    assert luck["best_sharpe"] == pytest.approx(sharpes[k] * math.sqrt(252), rel=1e-9)
    assert luck["pbo"] == probability_of_backtest_overfitting(r, n_blocks=16).pbo
    result.write(tmp_path / "out")
    import json

    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["overfitting"]["n_trials"] == 6


def test_a_grid_too_large_for_memory_is_refused_before_any_work(monkeypatch):
    from qfin.backtests import load_spec
    from qfin.errors import MemoryLimitError

    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "0.5")
    spec = load_spec(ROOT / "backtests" / "sma_spx.toml")
    monkeypatch.setattr("qfin.backtests._sweep._sma_columns", lambda *a: pytest.fail("the grid ran"))
    with pytest.raises(MemoryLimitError, match=r"needs ~[\d.]+ GiB for a sweep of 39,601 points over 5,031 bars, "
                                                r"limit 0.5 GiB"):
        run_sweep(spec, parse_grid(["fast=1:200", "slow=2:300"]), strategy="sma_50_200", progress=False)
