"""No look-ahead through the whole `run_backtest` path: prices after bar t change nothing at or before t."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qfin.backtests import run_backtest
from qfin.data import load_dataset

ASSETS = ["AAPL", "KO", "XOM", "JPM", "PFE"]
STRATEGIES = [{"kind": "equal_weight"}, {"kind": "inverse_volatility", "lookback": 60},
              {"kind": "min_variance", "lookback": 120}, {"kind": "max_sharpe", "lookback": 120},
              {"kind": "risk_parity", "lookback": 120}, {"kind": "hrp", "lookback": 120}]


def _spec(path, execution):
    return {"name": "lookahead", "execution": execution, "rebalance": "monthly",
            "data": {"path": str(path), "start": "2014-01-01", "end": "2015-12-31"},
            "costs": {"fee": 0.001}, "strategies": STRATEGIES, "report": {"plots": False}}


def _bars(prices: pl.DataFrame) -> pl.DataFrame:
    """Bars from closes: open = previous close times a wiggle, high/low around them (a consistent OHLC)."""
    long = prices.unpivot(index="timestamp", variable_name="symbol", value_name="close").sort("symbol", "timestamp")
    close = long["close"].to_numpy()
    wiggle = 1 + 0.003 * np.sin(np.arange(len(close)))
    open_ = close * wiggle
    return long.with_columns(open=pl.Series(open_), high=pl.Series(np.maximum(open_, close) * 1.01),
                             low=pl.Series(np.minimum(open_, close) * 0.99), volume=pl.lit(1e6))


@pytest.mark.parametrize("execution", ["close", "next_open"])
def test_perturbing_prices_after_t_changes_nothing_up_to_t(tmp_path, execution):
    prices = load_dataset("sp500_stocks").select("timestamp", *ASSETS)
    prices = prices.filter(pl.col("timestamp") >= pl.datetime(2013, 1, 1)).filter(
        pl.col("timestamp") <= pl.datetime(2015, 12, 31))
    base_path = tmp_path / "base.parquet"
    (_bars(prices) if execution == "next_open" else prices).write_parquet(base_path)
    base = run_backtest(_spec(base_path, execution), progress=False)

    rng = np.random.default_rng(7)
    dates = base.timestamps
    for t in (30, 250, 400):  # bars of the evaluation period; a month-end rebalance falls between them
        cut = np.datetime64(dates[t], "us")
        after = prices["timestamp"].to_numpy() > cut
        shocked = prices.with_columns(
            pl.col(a) * pl.Series(np.where(after, rng.uniform(0.6, 1.6, len(prices)), 1.0)) for a in ASSETS)
        path = tmp_path / f"shocked_{t}.parquet"
        (_bars(shocked) if execution == "next_open" else shocked).write_parquet(path)
        other = run_backtest(_spec(path, execution), progress=False)
        for name, run in base.runs.items():
            np.testing.assert_array_equal(other.runs[name].equity[: t + 1], run.equity[: t + 1], err_msg=name)
            np.testing.assert_array_equal(other.runs[name].weights[: t + 1], run.weights[: t + 1], err_msg=name)
            assert not np.array_equal(other.runs[name].equity, run.equity), f"{name}: the shock did nothing"
