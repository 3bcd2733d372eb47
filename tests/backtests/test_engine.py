"""The backtest engine against golden values from independent engines, closed forms and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from qfin.backtests._engine import Fees, run_signals, run_weights
from qfin.backtests._signals import moving_average, sma_crossover_exposure
from qfin.costs import transaction_remainder

# Golden final equities of SMA(10/30) long/flat, all-in, 10,000 cash. backtesting.py 0.6.6, vectorbt 1.2.0 and a
# reference loop agree on them (issue 3).
GOLDEN = [
    (0.0, "next_open", True, 57_752.99),
    (0.0, "next_open", False, 58_278.85),
    (0.0, "close", True, 63_328.77),
    (0.0, "close", False, 64_195.39),
    (0.001, "next_open", True, 54_101.37),
    (0.001, "close", False, 60_155.44),
]


@pytest.mark.parametrize(("fee", "execution", "integer", "final"), GOLDEN)
def test_sma_crossover_matches_independent_engines_to_the_cent(goog, fee, execution, integer, final):
    exposure = sma_crossover_exposure(goog.Close.to_numpy(), 10, 30)[:, 0]
    run = run_signals(goog.Close.to_numpy(), exposure, open_=goog.Open.to_numpy(), execution=execution, fee=fee,
                      integer_shares=integer, initial_cash=10_000.0)
    assert round(run.equity[-1], 2) == final


# SMA(5) and SMA(25) of GOOG's closes tie exactly at 2010-08-17 (both 489.242 in float64, in pandas' rolling mean
# and qfin's alike), between fast above (08-16) and fast below (08-18): the fast SMA crosses below through a tie.
# Long/flat, all-in with fractional shares, 10,000 cash; final equity and fills recorded (issue 17) with
# - vectorbt 1.2.0 (pandas 3.1.1, numpy 2.4.6): MA.run + ma_crossed_above/below (its crossed_above_1d_nb: above
#   after having been strictly below, ties in between keep that state), Portfolio.from_signals(close, entries,
#   exits, fees=fee, init_cash=10_000), with signals fshift(1) and price=open for next_open; 89 fills, the exit on
#   2010-08-18;
# - backtesting.py 0.6.6: a Strategy with lib.crossover, FractionalBacktest(commission=fee, trade_on_close=
#   execution == "close", finalize_trades=False); 44 closed trades, the exit on 2010-08-18. Its crossover is strict
#   on both bars (series1[-2] < series2[-2]); it sees this cross because FractionalBacktest's price scaling (1e-8)
#   leaves SMA(5) 8.5e-22 above SMA(25) at the tie. Plain Backtest (whole shares) keeps the exact tie and holds
#   until 2010-11-16, as qfin did before issue 17: vectorbt's rule is the one with a reason, and qfin follows it.
TIE_PEERS = [  # fee, execution, vectorbt final, backtesting.py final
    (0.0, "next_open", 69_464.25044543936, 69_464.2504382855),
    (0.0, "close", 79_071.02521294185, 79_071.02520359252),
    (0.001, "next_open", 63_549.09193094162, 63_549.091918015336),
    (0.001, "close", 72_337.81143694682, 72_337.81143000243),
]


@pytest.mark.parametrize(("fee", "execution", "vectorbt", "backtesting"), TIE_PEERS)
def test_sma_cross_through_an_exact_tie_follows_vectorbt_and_backtesting(goog, fee, execution, vectorbt,
                                                                         backtesting):
    close = goog.Close.to_numpy()
    tie = goog.index.get_loc(pd.Timestamp("2010-08-17"))
    sma = moving_average(close, [5, 25])
    assert sma[tie, 0] == sma[tie, 1] and sma[tie - 1, 0] > sma[tie - 1, 1] and sma[tie + 1, 0] < sma[tie + 1, 1]
    exposure = sma_crossover_exposure(close, 5, 25)[:, 0]
    assert exposure[tie] == 1.0 and exposure[tie + 1] == 0.0  # out on 2010-08-18, the bar after the tie
    run = run_signals(close, exposure, open_=goog.Open.to_numpy(), execution=execution, fee=fee,
                      initial_cash=10_000.0)
    assert run.trades[0] == 89
    assert run.equity[-1] == pytest.approx(vectorbt, rel=1e-12)
    assert abs(run.equity[-1] - backtesting) < 0.01  # its 1e-8-share units: to the cent


@pytest.mark.parametrize(("close", "expected"), [
    ([2.0, 1.0, 2.0, 2.0, 1.0], [0, 0, 1, 1, 0]),  # below, above (in), tie, below: out at the "below" bar
    ([2.0, 1.0, 1.0, 2.0, 2.0], [0, 0, 0, 1, 1]),  # below, tie, above: in at the "above" bar
    ([1.0, 2.0, 2.0, 1.0, 1.0], [0, 0, 0, 0, 0]),  # never below first: no entry, the exit has nothing to close
    ([2.0, 2.0, 2.0, 3.0, 2.0], [0, 0, 0, 0, 0]),  # ties from the first full window, then above: never below
])
def test_ties_are_no_side_of_the_cross(close, expected):
    """SMA(1) against SMA(2) in exact binary arithmetic (halves): SMA(1) - SMA(2) = (c_t - c_{t-1}) / 2, so equal
    closes are an exact tie; the expected exposures follow vectorbt 1.2.0's crossed_above/below rule."""
    np.testing.assert_array_equal(sma_crossover_exposure(np.array(close), 1, 2)[:, 0], expected)


def test_grid_columns_equal_single_runs(goog):
    close, open_ = goog.Close.to_numpy(), goog.Open.to_numpy()
    fast, slow = np.meshgrid(np.arange(5, 15), np.arange(20, 70, 5), indexing="ij")
    grid = sma_crossover_exposure(close, fast.ravel(), slow.ravel())
    run = run_signals(close, grid, open_=open_, execution="next_open", fee=0.001)
    for k in (0, 37, 99):
        single = run_signals(close, sma_crossover_exposure(close, fast.ravel()[k], slow.ravel()[k])[:, 0],
                             open_=open_, execution="next_open", fee=0.001)
        np.testing.assert_allclose(run.equity[:, k], single.equity, rtol=0, atol=1e-9)


def test_moving_average_matches_pandas_rolling(goog):
    close = goog.Close.to_numpy()
    ours = moving_average(close, [3, 30])
    for j, window in enumerate([3, 30]):
        ref = goog.Close.rolling(window).mean().to_numpy()
        np.testing.assert_allclose(ours[:, j], ref, rtol=1e-12, equal_nan=True)


def test_long_short_reference_loop():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 400)))
    open_ = close * np.exp(rng.normal(0, 0.005, 400))
    exposure = sma_crossover_exposure(close, 5, 20, long_short=True)[:, 0]
    fee = 0.002
    run = run_signals(close, exposure, open_=open_, execution="next_open", fee=fee)
    cash, shares = 10_000.0, 0.0  # reference loop written from the rule, bar by bar
    equity = np.empty(400)
    for t in range(400):
        if t >= 1 and exposure[t - 1] != (exposure[t - 2] if t >= 2 else 0.0):
            px = open_[t]
            cash += shares * px - abs(shares) * px * fee
            shares = 0.0
            target = exposure[t - 1]
            if target != 0:
                n = cash / (px * (1 + fee))
                cash += -target * n * px - n * px * fee
                shares = target * n
        equity[t] = cash + shares * close[t]
    np.testing.assert_allclose(run.equity, equity, rtol=1e-12)
    assert (exposure == -1).any() and (exposure == 1).any()


def test_no_look_ahead_in_signals_and_values(goog):
    close, open_ = goog.Close.to_numpy().copy(), goog.Open.to_numpy().copy()
    base_exposure = sma_crossover_exposure(close, 10, 30)[:, 0]
    base = run_signals(close, base_exposure, open_=open_, execution="next_open", fee=0.001)
    rng = np.random.default_rng(0)
    for t in (100, 700, 1500):
        close2, open2 = close.copy(), open_.copy()
        close2[t + 1:] *= rng.uniform(0.5, 1.5, len(close) - t - 1)
        open2[t + 1:] *= rng.uniform(0.5, 1.5, len(close) - t - 1)
        exposure = sma_crossover_exposure(close2, 10, 30)[:, 0]
        run = run_signals(close2, exposure, open_=open2, execution="next_open", fee=0.001)
        np.testing.assert_array_equal(exposure[: t + 1], base_exposure[: t + 1])
        np.testing.assert_array_equal(run.equity[: t + 1], base.equity[: t + 1])


def brute_force_remainder(w_prev, w_target, c_buy, c_sell):
    """Solve the cash balance in money terms with a root finder: costs paid from cash, fees on traded value."""
    def cash_gap(m):
        sells = np.clip(w_prev[1:] - m * w_target[1:], 0, None).sum()
        buys = np.clip(m * w_target[1:] - w_prev[1:], 0, None).sum()
        return w_prev[0] + (1 - c_sell) * sells - (1 + c_buy) * buys - m * w_target[0]
    return brentq(cash_gap, 0.5, 1.0 + 1e-9, xtol=1e-15)


@pytest.mark.solver  # against scipy brentq
def test_exact_cost_fixed_point_matches_root_finder():
    rng = np.random.default_rng(1)
    for _ in range(50):
        w_prev, w_target = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
        c_buy, c_sell = rng.uniform(0, 0.01, 2)
        mu = transaction_remainder(w_prev, w_target, c_buy, c_sell)
        assert mu == pytest.approx(brute_force_remainder(w_prev, w_target, c_buy, c_sell), abs=1e-13)
        l1 = transaction_remainder(w_prev, w_target, c_buy, c_sell, method="l1")
        assert abs(l1 - mu) < 2 * max(c_buy, c_sell) ** 2 + 1e-15


def test_weights_zero_cost_buy_and_hold_is_closed_form():
    rng = np.random.default_rng(2)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 4)), axis=0))
    w = np.array([[0.1, 0.3, 0.2, 0.2, 0.2]])
    run = run_weights(close, np.array([0]), w, initial_cash=1_000.0)
    expected = 1_000.0 * (0.1 + (w[0, 1:] * close / close[0]).sum(axis=1))
    np.testing.assert_allclose(run.equity, expected, rtol=1e-13)


def test_weights_daily_rebalance_zero_cost_is_product_of_weighted_returns():
    rng = np.random.default_rng(4)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (250, 3)), axis=0))
    w = np.full(4, 0.25)
    run = run_weights(close, np.arange(250), np.tile(w, (250, 1)))
    growth = 0.25 + (0.25 * close[1:] / close[:-1]).sum(axis=1)
    np.testing.assert_allclose(run.equity[1:], np.cumprod(growth), rtol=1e-12)


def test_weights_all_in_one_asset_equals_signal_engine_fractional():
    rng = np.random.default_rng(5)
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, 200)))
    open_ = close * np.exp(rng.normal(0, 0.003, 200))
    exposure = sma_crossover_exposure(close, 5, 15)[:, 0]
    signals = run_signals(close, exposure, open_=open_, execution="next_open", fee=0.001, initial_cash=10_000.0)
    decisions = np.flatnonzero(np.diff(exposure, prepend=0.0) != 0)
    weights = np.stack([1 - exposure[decisions], exposure[decisions]], axis=1)
    run = run_weights(close[:, None], decisions, weights, open_=open_[:, None], execution="next_open",
                      fees=Fees(buy=0.001), initial_cash=10_000.0)
    np.testing.assert_allclose(run.equity, signals.equity, rtol=1e-12)


def test_next_open_fill_ignores_a_decision_on_the_last_bar():
    close = np.array([[10.0], [11.0], [12.0]])
    run = run_weights(close, np.array([2]), np.array([[0.0, 1.0]]), open_=close, execution="next_open")
    assert len(run.trade_bars) == 0
    np.testing.assert_array_equal(run.equity, [1.0, 1.0, 1.0])


def test_slippage_and_fixed_costs_are_charged():
    close = np.array([[10.0, 20.0], [10.0, 20.0]])
    target = np.array([[0.0, 0.5, 0.5]])
    run = run_weights(close, np.array([0]), target, fees=Fees(buy=0.001, slippage=0.0005, fixed=1.0),
                      initial_cash=10_000.0)
    mu = 1 / ((1.0005) * (1.001))  # all-in buy from cash at an effective rate (1+s)(1+c) - 1
    assert run.equity[0] == pytest.approx(10_000 * mu - 2.0, rel=1e-13)
    assert run.costs[0] == pytest.approx(10_000 * (1 - mu) + 2.0, rel=1e-12)
    assert run.turnover[0] == pytest.approx(1.0)
