"""kind = "signal": indicator rules (TA-Lib) to positions. Checked against vectorbt 1.2.0's from_signals on the
shipped S&P 500 index, against the built-in SMA crossover, and against direct numpy statements of the sizing;
bad rules are one line naming what is wrong; the rules never look ahead."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from qfin.backtests import check_lookahead, run_backtest
from qfin.backtests._rules import compile_rule, crosses_above, crosses_below
from qfin.errors import SpecError


def _spec(*strategies: str, data: str = 'dataset = "sp500_index"', extra: str = "") -> dict:
    import tomllib

    text = f'execution = "close"\ninitial_cash = 1_000_000\n{extra}\n[data]\n{data}\n[costs]\nfee = 0.001\n' \
           '[report]\nplots = false\n'
    for body in strategies:
        text += "[[strategies]]\n" + textwrap.dedent(body).strip() + "\n"
    return tomllib.loads(text)


def test_crosses_follow_vectorbt_through_ties_and_gaps():
    """vectorbt 1.2.0 crossed_above_1d_nb on the same arrays: [0 1 0 1 0 0 1 0 0 0 0 0 1] (a tie then a rise
    crosses again; a NaN forgets the past)."""
    a = np.array([1, 3, 2, 3, 2, 1, 3, np.nan, 3, 1, 2, 2, 3.0])
    b = np.full(13, 2.0)
    assert crosses_above(a, b).astype(int).tolist() == [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert crosses_below(a, b).astype(int).tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]


def test_an_sma_cross_rule_equals_vectorbt_from_signals_to_the_cent():
    """vectorbt 1.2.0: MA.run(close, 10/30), entries = fast.vbt.crossed_above(slow), exits = crossed_below,
    Portfolio.from_signals(close, entries, exits, fees=0.001, init_cash=1e6) on sp500_index 1999-2018 (5,031
    closes): final value 1,311,241.4344898728 from 176 orders, 88 closed trades."""
    run = run_backtest(_spec('''kind = "signal"
        name = "cross"
        entry = "crosses_above(SMA(close, 10), SMA(close, 30))"
        exit = "crosses_below(SMA(close, 10), SMA(close, 30))"'''), progress=False).runs["cross"]
    assert run.equity[-1] == pytest.approx(1_311_241.4344898728, abs=0.005)
    assert run.traded_fraction == pytest.approx(176, abs=1e-9)  # 176 orders, each of the whole portfolio


def test_a_state_rule_trades_like_the_built_in_sma_crossover():
    spec = _spec('''kind = "signal"
        name = "rules"
        entry = "SMA(close, 50) > SMA(close, 200)"
        exit = "SMA(close, 50) <= SMA(close, 200)"''',
                 'kind = "sma_crossover"\nname = "builtin"\nfast = 50\nslow = 200',
                 data='dataset = "sp500_index"\nstart = 2005-01-01')
    runs = run_backtest(spec, progress=False).runs
    np.testing.assert_allclose(runs["rules"].equity, runs["builtin"].equity, rtol=1e-12)
    assert runs["rules"].n_trades == runs["builtin"].n_trades


def test_many_assets_long_short_with_volatility_sizing():
    spec = _spec('''kind = "signal"
        name = "rsi"
        entry = "RSI(close, 14) < 35"
        exit = "RSI(close, 14) > 50"
        short_entry = "RSI(close, 14) > 70"
        short_exit = "RSI(close, 14) < 55"
        sizing = "volatility"
        vol_window = 40''', data='dataset = "sp500_stocks"\nstart = 2019-01-01\nend = 2019-12-31\n'
                                 'assets = ["AAPL", "MSFT", "JPM", "XOM", "KO", "PFE"]')
    result = run_backtest(spec, progress=False)
    from qfin.backtests import backtest_plan

    plan = backtest_plan(spec)
    strategy = plan.strategies[0]
    bars = plan.bars_of(strategy)
    assert len(bars) > 20  # trades only where a position changes
    k = len(bars) // 2
    window = plan.panel.window(int(bars[k]))
    close = window.close[-41:]
    inverse = 1.0 / np.std(close[1:] / close[:-1] - 1.0, axis=0, ddof=1)
    target = strategy.weights_at(window)
    held = target[1:] != 0
    assert held.any() and np.all(np.isin(np.sign(target[1:][held]), (-1.0, 1.0)))
    np.testing.assert_allclose(np.abs(target[1:][held]), (inverse / inverse.sum())[held], rtol=1e-12)
    assert target.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.isfinite(result.runs["rsi"].equity).all()
    assert check_lookahead(spec, progress=False).ok


@pytest.mark.parametrize("rule, match", [
    ("RSX(close, 14) < 30", "unknown indicator 'RSX'; TA-Lib's functions include RSI"),
    ("rsi < 30", r"unknown name 'rsi' \(a function needs parentheses\); the bar fields are open, high, low"),
    ("RSI(close, 14) <", "is not a rule expression"),
    ("RSI(close, 14)", "gives numbers, not true/false"),
    ("ATR(close, 14) > 1", r"ATR takes the price arrays high, low, close first: ATR\(high, low, close, timeperiod\)"),
    ("BBANDS(close, 20) > close", "BBANDS has outputs upperband, middleband, lowerband; pick one"),
    ("close > prev(close, -1)", "n must be a whole number of bars >= 1"),
    ("close[1] > close", "subscript is not part of a rule"),
    ("close.base > 1", "only an indicator's output can be picked by name"),
    ("close > 'high'", "'high' is not a number"),
    ("__import__('os') > 1", "unknown indicator '__import__'"),
])
def test_bad_rules_are_one_line(rule, match):
    with pytest.raises(SpecError, match=match) as err:
        run_backtest(_spec(f'kind = "signal"\nentry = "{rule}"' if '"' not in rule else
                           f"kind = \"signal\"\nentry = '{rule}'"), progress=False)
    assert "\n" not in str(err.value)


def test_a_signal_needs_an_entry_rule():
    with pytest.raises(SpecError, match="give entry .* and/or short_entry"):
        run_backtest(_spec('kind = "signal"\nexit = "close > 1"'), progress=False)
    assert compile_rule("MACD(close).macdsignal < 0 and not close < 1", "t")  # picks and not compile
