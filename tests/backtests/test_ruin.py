"""Ruin: a strategy whose value falls to zero or below ends there (backtesting.py's convention), flagged.

backtesting.py 0.6.6 (``_Broker.next``): when equity <= 0 it closes every trade, sets cash to 0, sets equity to 0
from that bar on and stops the run. qfin does the same per strategy: value 0 from the ruin bar on, no trade after
it, metrics on the path up to the ruin bar (so a total loss, -100%), and ``ruined`` / ``ruin_date`` in
metrics.json, the report and the command-line table. Before issue 17 the engine let the value run negative and
the metrics compounded returns through the sign change: for the two accounts below, +98011% and Sharpe 1.23 for
equal weight on the 20 stocks 2005-2022 with fixed = 1e12 (value -2e13 from the first bar), and -6891% with
Sharpe 1.17 for the 1,000-cash retail account, whose fixed fees took it below zero on its fifth day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qfin.backtests import run_backtest
from qfin.backtests._engine import Fees, run_signals, run_weights
from qfin.data import load_dataset

RETAIL = {"name": "retail", "rebalance": "daily", "initial_cash": 1_000,
          "data": {"dataset": "sp500_stocks", "start": "2005-01-01", "end": "2005-12-31"},
          "costs": {"fixed": 10.0}, "strategies": [{"kind": "equal_weight"}], "report": {"plots": False}}


def _retail_reference() -> np.ndarray:
    """The retail account bar by bar, from the cost rule alone: each daily rebalance to 1/20 pays 10 per stock (200)
    from cash, so cash stays at -200 and the stock book H compounds at the equal-weight return then loses 200:
    H_0 = 1000, H_t = H_{t-1} * mean_i(p_i,t / p_i,t-1) - 200, value E_t = H_t - 200."""
    prices = load_dataset("sp500_stocks")
    prices = prices.filter(prices["timestamp"].dt.year() == 2005).drop("timestamp").to_numpy()
    growth = (prices[1:] / prices[:-1]).mean(axis=1)
    book = [1000.0]
    for g in growth:
        book.append(book[-1] * g - 200.0)
    return np.array(book) - 200.0


def test_retail_account_is_ruined_when_fixed_fees_eat_it():
    result = run_backtest(RETAIL, progress=False)
    equity = result.runs["equal_weight"].equity
    reference = _retail_reference()
    ruin = int(np.argmax(reference <= 0.0))
    assert ruin == 4  # the fifth bar, 2005-01-07: value -8.62 by the reference
    np.testing.assert_allclose(equity[:ruin], reference[:ruin], rtol=1e-12)
    assert np.all(equity[ruin:] == 0.0)
    metrics = result.metrics["equal_weight"]
    assert metrics["ruined"] is True
    assert metrics["ruin_date"] == str(result.timestamps[ruin].astype("M8[D]")) == "2005-01-07"
    assert metrics["total_return"] == -1.0 and metrics["cagr"] == -1.0 and metrics["max_drawdown"] == -1.0
    path = np.concatenate(([1000.0], reference[:ruin], [0.0]))  # from the initial cash to 0 at the ruin bar
    returns = path[1:] / path[:-1] - 1.0
    assert metrics["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert result.runs["equal_weight"].ruin_bar == ruin


def test_fixed_cost_beyond_the_account_is_ruin_at_the_first_bar():
    close = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 21.0]])
    run = run_weights(close, np.array([0, 1, 2]), np.tile([0.0, 0.5, 0.5], (3, 1)), fees=Fees(fixed=1e12),
                      initial_cash=1_000.0)
    assert run.ruin_bar == 0
    np.testing.assert_array_equal(run.equity, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(run.weights, np.tile([1.0, 0.0, 0.0], (3, 1)))  # nothing held after ruin
    assert len(run.trade_bars) == 1 and run.costs[0] == 2e12  # the fixed cost of two assets; no trade after it


def test_a_short_that_loses_more_than_the_book_is_ruined_and_trades_no_more():
    close = 100.0 * 1.04 ** np.arange(41)  # +4% a bar
    exposure = np.zeros(41)
    exposure[1:30] = -1.0  # short n = 10,000 / 104 shares at 104: cash 20,000, value 20,000 - n p, <= 0 from p = 208
    exposure[30:] = 1.0  # a later switch to long must not fill: the account is gone
    run = run_signals(close, exposure, execution="close", initial_cash=10_000.0)
    ruin = int(np.argmax(close >= 208.0))
    assert run.ruin_bar == ruin == 19
    expected = np.where(np.arange(ruin) >= 1, 20_000.0 - 10_000.0 / 104.0 * close[:ruin], 10_000.0)
    np.testing.assert_allclose(run.equity[:ruin], expected, rtol=1e-12)
    assert np.all(run.equity[ruin:] == 0.0) and np.all(run.position[ruin:] == 0.0)
    assert run.trades[0] == 1


def test_cli_flags_ruin_in_the_table_metrics_json_and_report(tmp_path):
    spec = tmp_path / "ruin.toml"
    spec.write_text("""
name = "ruin"
[data]
dataset = "sp500_stocks"
start = 2015-01-01
end = 2015-12-31
assets = ["AAPL", "KO"]
[costs]
fixed = 1e12
[[strategies]]
kind = "equal_weight"
[[strategies]]
kind = "buy_and_hold"
""")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(spec), "--out", str(out), "--no-progress"],
                            capture_output=True, text=True, env=dict(os.environ, COLUMNS="250"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "RUINED: equal_weight on 2015-01-02" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "Sharpe" in line)
    assert header.split()[-1] == "ruined"  # the table's ruin column, last
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("equal_weight", "buy_and_hold"):
        row = metrics[name]
        assert row["ruined"] is True and row["ruin_date"] == "2015-01-02"
        assert row["total_return"] == -1.0
        assert row["sharpe"] is None  # one return (-100%): no standard deviation, so no Sharpe ratio
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Ruined: equal_weight on 2015-01-02" in page and "Ruined on" in page
