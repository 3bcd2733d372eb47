"""Orders on signal strategies (qfin.backtests._orders): stops against vectorbt 1.2.0's from_signals to the cent,
the no-order path against the pinned engine, limit entries, whole shares and shared cash by hand-worked bars."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qfin.backtests import run_backtest
from qfin.backtests._engine import run_signals
from qfin.backtests._order_keys import Orders
from qfin.backtests._orders import run_orders
from qfin.backtests._signals import sma_crossover_exposure
from qfin.data import price_panel

# vectorbt 1.2.0 (numpy 2.4.6, pandas 3.1.1), written by tests/backtests/peers/vectorbt_stops.py: SMA(10/30)
# crosses on sp500_index 1999-2018 (5,031 bars), all-in, fee 0.1%, 1,000,000 cash, long/flat and (four cases)
# long/short; per case the trade count, every trade's exit price and the final value.
VECTORBT = json.loads((Path(__file__).parent / "data" / "vectorbt_stops.json").read_text())
assert VECTORBT["peer"] == "vectorbt 1.2.0"


@pytest.fixture(scope="module")
def spx():
    panel = price_panel("sp500_index")
    return {name: getattr(panel, name)[:, 0] for name in ("open", "high", "low", "close")}


@pytest.mark.parametrize("case", VECTORBT["cases"], ids=lambda c: f"{c['execution']}-{'-'.join(c['orders'])}"
                         + ("-long_short" if c["long_short"] else ""))
def test_stops_agree_with_vectorbt_from_signals_to_the_cent(spx, case):
    exposure = sma_crossover_exposure(spx["close"], 10, 30, long_short=case["long_short"])
    run = run_orders(spx["close"], exposure, open_=spx["open"], high=spx["high"], low=spx["low"],
                     orders=Orders(**case["orders"]), execution=case["execution"], fee=0.001, initial_cash=1e6)
    assert len(run.trades) == case["n_trades"]
    if not case["long_short"]:  # vectorbt counts a reversal as one order, qfin as two fills (close, then open)
        assert run.fills[0] == case["n_orders"]
    np.testing.assert_allclose(run.trades[:, 5], case["exit_prices"], rtol=0, atol=1e-6)
    assert run.equity[-1, 0] == pytest.approx(case["final_value"], abs=0.005)
    reasons = set(run.trades[:, 9].astype(int))
    assert len(reasons) > 1  # the stops fired, and so did some signal exits


def _spec(strategy: str, execution: str = "close", data: str = 'dataset = "sp500_index"') -> dict:
    import tomllib

    text = f'execution = "{execution}"\ninitial_cash = 1_000_000\n[data]\n{data}\n[costs]\nfee = 0.001\n' \
           f'[report]\nplots = false\n[[strategies]]\n{textwrap.dedent(strategy).strip()}\n'
    return tomllib.loads(text)


@pytest.mark.parametrize("index", [6, 9])  # sl 3% + tp 6% at the close; trailing 5% + tp 8% at the next open
def test_a_signal_spec_with_stops_is_the_vectorbt_run(index):
    case = VECTORBT["cases"][index]
    keys = "\n".join(f"{k} = {v}" for k, v in case["orders"].items())
    result = run_backtest(_spec(f'''kind = "signal"
        name = "cross"
        entry = "crosses_above(SMA(close, 10), SMA(close, 30))"
        exit = "crosses_below(SMA(close, 10), SMA(close, 30))"
        {keys}''', case["execution"]), progress=False)
    assert result.runs["cross"].equity[-1] == pytest.approx(case["final_value"], abs=0.005)
    trades = result.trades
    assert trades.height == case["n_trades"]
    np.testing.assert_allclose(trades["exit_price"].to_numpy(), case["exit_prices"], rtol=0, atol=1e-6)
    assert set(trades["exit_reason"]) >= {"signal", "take_profit"}
    assert result.metrics["cross"]["n_trades"] == case["n_trades"]


@pytest.mark.parametrize("execution", ["close", "next_open"])
@pytest.mark.parametrize("long_short", [False, True])
@pytest.mark.parametrize(("fee", "fractional"), [(0.0, True), (0.001, True), (0.001, False)])
def test_without_orders_the_simulator_fills_as_the_pinned_engine(goog, execution, long_short, fee, fractional):
    close, open_ = goog.Close.to_numpy(), goog.Open.to_numpy()
    exposure = sma_crossover_exposure(close, [10, 5, 20], [30, 25, 50], long_short=long_short)
    pinned = run_signals(close, exposure, open_=open_, execution=execution, fee=fee, integer_shares=not fractional,
                         initial_cash=10_000.0)
    run = run_orders(close, exposure, open_=open_, high=goog.High.to_numpy(), low=goog.Low.to_numpy(),
                     orders=Orders(fractional=fractional), execution=execution, fee=fee, initial_cash=10_000.0)
    np.testing.assert_allclose(run.equity, pinned.equity, rtol=1e-12)
    np.testing.assert_array_equal(run.fills, pinned.trades)
    np.testing.assert_allclose(run.costs, pinned.costs, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(run.turnover, pinned.turnover, rtol=1e-12)
    # every round trip's pnl adds up to the final value (the open one at the end is valued without an exit fee)
    for k in range(3):
        pnl = run.trades[run.trades[:, 0] == k, 7].sum()
        assert pnl == pytest.approx(pinned.equity[-1, k] - 10_000.0, abs=1e-6)


@pytest.mark.parametrize("execution", ["close", "next_open"])
def test_the_plain_paths_trades_are_the_simulators(goog, execution):
    """sma_crossover without orders reads its trades from run_signals' shares (no JIT): the same round trips as
    the order simulator records, reversals and fees included."""
    from qfin.backtests._signal_runs import signals_trades

    close, open_ = goog.Close.to_numpy(), goog.Open.to_numpy()
    exposure = sma_crossover_exposure(close, 10, 30, long_short=True)[:, 0]
    pinned = run_signals(close, exposure, open_=open_, execution=execution, fee=0.001, initial_cash=10_000.0)
    frame = signals_trades("s", pinned.position, close, open_, execution, 0.001, "GOOG", goog.index.to_numpy())
    run = run_orders(close, exposure, open_=open_, high=goog.High.to_numpy(), low=goog.Low.to_numpy(),
                     execution=execution, fee=0.001, initial_cash=10_000.0)
    records = run.trades[np.lexsort((run.trades[:, 2], run.trades[:, 1]))]
    assert frame.height == len(records) > 50
    for k, column in enumerate(("entry_price", "exit_price", "size", "pnl", "return"), start=4):
        np.testing.assert_allclose(frame[column].to_numpy(), records[:, k], rtol=1e-9, atol=1e-9)
    assert frame["duration_bars"].to_list() == (records[:, 3] - records[:, 2]).astype(int).tolist()
    assert frame["exit_reason"].to_list()[:-1] == ["signal"] * (frame.height - 1)


def _bars(rows):
    """open, high, low, close arrays from (o, h, l, c) rows."""
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return o, h, lo, c


def test_a_stop_fills_at_its_price_inside_the_bar_and_at_the_open_through_a_gap():
    o, h, lo, c = _bars([(100, 100, 100, 100), (100, 101, 96, 99), (99, 99, 94, 95), (95, 96, 95, 96)])
    state = np.array([1, 1, 1, 1.0])
    inside = run_orders(c, state, open_=o, high=h, low=lo, orders=Orders(sl_stop=0.05), initial_cash=1000.0)
    assert inside.trades[0, 5] == 95.0 and inside.trades[0, 3] == 2 and inside.trades[0, 9] == 1  # 100 x 0.95
    gap = run_orders(c, state, open_=o, high=h, low=lo, orders=Orders(sl_stop=0.02), initial_cash=1000.0)
    assert gap.trades[0, 5] == 98.0 and gap.trades[0, 3] == 1  # bar 1: low 96 reaches 98
    o2 = o.copy()
    o2[1] = 97.0  # opens below the 98 stop: out at the open
    gapped = run_orders(c, state, open_=o2, high=h, low=np.minimum(lo, 97.0), orders=Orders(sl_stop=0.02),
                        initial_cash=1000.0)
    assert gapped.trades[0, 5] == 97.0
    assert gapped.equity[-1, 0] == pytest.approx(1000.0 * 97.0 / 100.0)  # flat after the stop, never re-entered


def test_a_trailing_stop_follows_the_highest_high_and_a_short_stop_sits_above():
    o, h, lo, c = _bars([(100, 100, 100, 100), (100, 110, 100, 108), (108, 109, 103, 104), (104, 105, 98, 99)])
    trail = run_orders(c, np.ones(4), open_=o, high=h, low=lo, orders=Orders(tsl_stop=0.05), initial_cash=1000.0)
    assert trail.trades[0, 5] == pytest.approx(110 * 0.95) and trail.trades[0, 9] == 3  # 104.5 at bar 2
    short = run_orders(c, -np.ones(4), open_=o, high=h, low=lo, orders=Orders(sl_stop=0.05, tp_stop=0.5),
                       initial_cash=1000.0)
    assert short.trades[0, 5] == 105.0 and short.trades[0, 3] == 1  # 100 x 1.05, reached by the 110 high
    assert short.trades[0, 7] == pytest.approx(-10.0 * 5.0)  # 10 shares short, 5 lost on each


def test_a_limit_entry_fills_at_its_price_or_the_open_within_its_window():
    # signal at bar 0 (close 100): limit 2% below = 98; bar 1 stays above, bar 2 reaches 98
    o, h, lo, c = _bars([(100, 100, 100, 100), (100, 101, 99, 100), (99, 100, 97, 99), (99, 100, 98, 100)])
    state = np.ones(4)
    run = run_orders(c, state, open_=o, high=h, low=lo, orders=Orders(limit_entry=0.02, limit_window=3),
                     initial_cash=980.0)
    assert run.trades[0, 2] == 2 and run.trades[0, 4] == 98.0 and run.trades[0, 6] == pytest.approx(10.0)
    assert run.equity[1, 0] == 980.0 and run.equity[-1, 0] == pytest.approx(1000.0)
    expired = run_orders(c, state, open_=o, high=h, low=lo, orders=Orders(limit_entry=0.02, limit_window=1),
                         initial_cash=980.0)
    assert len(expired.trades) == 0 and expired.equity[-1, 0] == 980.0  # only bar 1 was in its window
    o2 = o.copy()
    lo2 = lo.copy()
    o2[2] = lo2[2] = 96.0
    through = run_orders(c, state, open_=o2, high=h, low=lo2, orders=Orders(limit_entry=0.02), initial_cash=960.0)
    assert through.trades[0, 2] == 2 and through.trades[0, 4] == 96.0  # opened through the limit: at the open
    cancelled = run_orders(c, np.array([1, 0, 0, 0.0]), open_=o, high=h, low=lo, orders=Orders(limit_entry=0.02),
                           initial_cash=980.0)
    assert len(cancelled.trades) == 0  # the exit signal at bar 1 cancelled it


def test_whole_shares_and_cash_that_runs_out_on_a_shared_account():
    close = np.array([[10.0, 30.0], [10.0, 30.0], [11.0, 33.0]])
    state = np.array([[1, 0], [1, 1], [1, 1.0]])
    weight = np.full((3, 2), 0.8)  # 80% each: the second entry gets only what the first left
    run = run_orders(close, state, weight, orders=Orders(sl_stop=0.5, fractional=False), initial_cash=100.0,
                     shared=True)
    assert run.shares[0].tolist() == [8.0, 0.0]  # floor(80 / 10)
    assert run.shares[1].tolist() == [8.0, 0.0]  # 20 of free cash buys no 30 share: not filled
    fractional = run_orders(close, state, weight, orders=Orders(sl_stop=0.5), initial_cash=100.0, shared=True)
    assert fractional.shares[1, 1] == pytest.approx(20.0 / 30.0)  # cut to the free cash, cash never below 0
    cash = fractional.equity[:, 0] - (fractional.shares * close).sum(axis=1)
    assert cash.min() >= -1e-12


def test_allocation_strategies_write_no_trades_and_signal_strategies_write_theirs(tmp_path):
    import polars as pl

    spec = _spec('kind = "sma_crossover"\nname = "sma"\nsl_stop = 0.05\nfractional = false',
                 data='dataset = "sp500_index"\nstart = 2010-01-01\nend = 2012-12-31')
    spec["strategies"].append({"kind": "buy_and_hold"})
    result = run_backtest(spec, tmp_path / "out", progress=False)
    written = pl.read_parquet(tmp_path / "out" / "trades.parquet")
    assert written.columns == ["strategy", "asset", "entry_time", "exit_time", "entry_price", "exit_price", "size",
                               "pnl", "return", "duration_bars", "exit_reason"]
    assert set(written["strategy"]) == {"sma"} and written.height == result.metrics["sma"]["n_trades"]
    assert "stop_loss" in set(written["exit_reason"]) and (written["size"] % 1 == 0).all()
    assert written["pnl"].sum() == pytest.approx(result.runs["sma"].equity[-1] - 1_000_000, abs=1e-6)
    assert "n_trades" not in result.metrics["buy_and_hold"]
    only = run_backtest({**spec, "strategies": [{"kind": "buy_and_hold"}]}, tmp_path / "b", progress=False)
    assert only.trades.height == 0 and pl.read_parquet(tmp_path / "b" / "trades.parquet").height == 0


def test_a_python_signal_function_with_stops_trades_as_the_same_rule(tmp_path):
    (tmp_path / "sma.py").write_text(textwrap.dedent('''
        import numpy as np

        def above(window, fast=10, slow=30):
            close = window.close[:, 0]
            return [1 if close[-fast:].mean() > close[-slow:].mean() else 0]
    '''))
    data = 'dataset = "sp500_index"\nstart = 2015-01-01\nend = 2018-12-31'
    stops = "sl_stop = 0.03\ntsl_stop = 0.05\ntp_stop = 0.08"
    python = run_backtest({**_spec(f'kind = "python"\nname = "p"\nentry = "{tmp_path / "sma.py"}:above"\n'
                                   f'signal = true\n{stops}', data=data), "rebalance": "daily"}, progress=False)
    rules = run_backtest(_spec(f'kind = "signal"\nname = "p"\nentry = "SMA(close, 10) > SMA(close, 30)"\n'
                               f'exit = "SMA(close, 10) <= SMA(close, 30)"\n{stops}', data=data), progress=False)
    np.testing.assert_allclose(python.runs["p"].equity, rules.runs["p"].equity, rtol=1e-12)
    assert python.trades.equals(rules.trades) and python.trades.height > 10
    assert {"stop_loss", "trailing_stop", "take_profit"} <= set(python.trades["exit_reason"])


def test_plain_signal_rules_trades_are_the_builtin_crossovers(tmp_path):
    spec = _spec('kind = "signal"\nname = "rules"\nentry = "SMA(close, 50) > SMA(close, 200)"\n'
                 'exit = "SMA(close, 50) <= SMA(close, 200)"', data='dataset = "sp500_index"\nstart = 2005-01-01')
    spec["strategies"].append({"kind": "sma_crossover", "name": "builtin", "fast": 50, "slow": 200})
    result = run_backtest(spec, progress=False)
    rules = result.trades.filter(strategy="rules").drop("strategy")
    builtin = result.trades.filter(strategy="builtin").drop("strategy")
    assert rules.height == builtin.height > 5
    for column in ("entry_time", "exit_time", "exit_reason", "duration_bars"):
        assert rules[column].to_list() == builtin[column].to_list()
    for column in ("entry_price", "exit_price", "size", "pnl", "return"):
        np.testing.assert_allclose(rules[column].to_numpy(), builtin[column].to_numpy(), rtol=1e-9)


def test_many_assets_with_stops_share_one_cash_account():
    spec = _spec('''kind = "signal"
        name = "rsi"
        entry = "RSI(close, 14) < 35"
        exit = "RSI(close, 14) > 60"
        sl_stop = 0.04
        tp_stop = 0.06''', data='dataset = "sp500_stocks"\nstart = 2019-01-01\nend = 2020-12-31\n'
                                'assets = ["AAPL", "MSFT", "JPM", "XOM"]')
    result = run_backtest(spec, progress=False)
    trades = result.trades
    assert set(trades["asset"]) == {"AAPL", "MSFT", "JPM", "XOM"}
    assert {"stop_loss", "take_profit"} <= set(trades["exit_reason"])
    # every entry buys at most a quarter of the book's value at that bar (less when the free cash is short)
    value = dict(zip(result.timestamps.astype("datetime64[us]").tolist(), result.runs["rsi"].equity, strict=True))
    book = np.array([value[t] for t in trades["entry_time"].to_list()])
    assert np.all(trades["size"].to_numpy() * trades["entry_price"].to_numpy() <= 0.25 * book * (1 + 1e-9) + 1e-6)
    assert trades["pnl"].sum() == pytest.approx(result.runs["rsi"].equity[-1] - 1_000_000, abs=1e-4)


def test_the_cli_prints_the_trade_statistics_and_writes_trades_parquet(tmp_path):
    import os
    import subprocess
    import sys

    import polars as pl

    spec = tmp_path / "s.toml"
    spec.write_text('[data]\ndataset = "sp500_index"\nstart = 2012-01-01\nend = 2014-12-31\n[report]\nplots = false\n'
                    '[[strategies]]\nkind = "sma_crossover"\nname = "sma"\nsl_stop = 0.02\ntp_stop = 0.04\n'
                    '[[strategies]]\nkind = "buy_and_hold"\n')
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(spec), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=300)
    assert done.returncode == 0, done.stderr
    trades = pl.read_parquet(out / "trades.parquet")
    line = next(row for row in done.stdout.splitlines() if row.strip().startswith("sma ") and "%" in row
                and "win" not in row and row.split()[2] == str(trades.height))
    assert "trade statistics" in done.stdout and "SQN" in done.stdout and line
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sma"]["n_trades"] == trades.height and "n_trades" not in metrics["buy_and_hold"]


@pytest.mark.parametrize("execution", ["close", "next_open"])
def test_nothing_up_to_a_bar_moves_when_later_bars_change(spx, execution):
    """Stops, trailing levels and limits read bars up to the current one only: scramble every bar after t and the
    value path, the shares and the trades closed by t stay as they were."""
    n, t = 1500, 900
    bars = {k: v[:n].copy() for k, v in spx.items()}
    orders = Orders(sl_stop=0.03, tsl_stop=0.05, tp_stop=0.06, limit_entry=0.005, limit_window=3)

    def run(b):
        exposure = sma_crossover_exposure(b["close"], 10, 30)
        return run_orders(b["close"], exposure, open_=b["open"], high=b["high"], low=b["low"], orders=orders,
                          execution=execution, fee=0.001, initial_cash=1e6)

    base = run(bars)
    rng = np.random.default_rng(7)
    scale = np.exp(rng.normal(0.0, 0.05, n - t - 1)).cumprod()
    moved = {k: v.copy() for k, v in bars.items()}
    for k in moved:
        moved[k][t + 1:] *= scale
    other = run(moved)
    np.testing.assert_array_equal(base.equity[: t + 1], other.equity[: t + 1])
    np.testing.assert_array_equal(base.shares[: t + 1], other.shares[: t + 1])
    closed = base.trades[(base.trades[:, 3] <= t) & (base.trades[:, 9] != 4)]
    np.testing.assert_array_equal(closed, other.trades[: len(closed)])
    assert not np.array_equal(base.equity[t + 1:], other.equity[t + 1:])


def test_a_fast_slow_sweep_keeps_the_stops_and_fractional_false_is_whole_shares():
    from qfin.backtests import parse_spec, run_sweep

    data = 'dataset = "sp500_index"\nstart = 2008-01-01\nend = 2012-12-31'
    raw = _spec('kind = "sma_crossover"\nname = "s"\nsl_stop = 0.03\ntp_stop = 0.05', data=data)
    sweep = run_sweep(parse_spec(raw), {"fast": [5, 10], "slow": [30, 40]}, progress=False)
    assert sweep.vectorised
    for row in sweep.rows:
        point = dict(raw, strategies=[{**raw["strategies"][0], "fast": row["fast"], "slow": row["slow"]}])
        alone = run_backtest(point, progress=False).metrics["s"]
        assert row["total_return"] == pytest.approx(alone["total_return"], rel=1e-12)
    plain = _spec('kind = "sma_crossover"\nname = "s"\nfractional = false', data=data)
    whole = _spec('kind = "sma_crossover"\nname = "s"\ninteger_shares = true', data=data)
    assert run_backtest(plain, progress=False).runs["s"].equity[-1] == \
        run_backtest(whole, progress=False).runs["s"].equity[-1]
    assert (run_backtest(plain, progress=False).trades["size"] % 1 == 0).all()
