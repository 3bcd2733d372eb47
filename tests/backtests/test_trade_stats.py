"""Trade statistics against backtesting.py 0.6.6 on the same SMA run, and one-line errors for bad order keys."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.backtests import run_backtest
from qfin.backtests._order_keys import Orders
from qfin.backtests._orders import run_orders
from qfin.backtests._signals import sma_crossover_exposure
from qfin.backtests._trade_stats import trade_statistics
from qfin.backtests._trades import trades_frame
from qfin.errors import SpecError

# backtesting.py 0.6.6 (tests/backtests/peers/backtesting_trade_stats.py): SMA(10/30) long/flat on GOOG's first
# 2,081 bars (to 2012-11-21, every trade closed), Backtest(cash=10_000, commission=0, trade_on_close=True), whole
# shares.
BACKTESTING = {
    "Exposure Time [%]": 56.55934646804421,
    "Equity Final [$]": 54675.45000000001,
    "# Trades": 32,
    "Win Rate [%]": 62.5,
    "Best Trade [%]": 53.659165978530154,
    "Worst Trade [%]": -9.356650264327648,
    "Avg. Trade [%]": 5.493386118910992,
    "Max. Trade Duration": 183,  # days (Timedelta('183 days'))
    "Avg. Trade Duration": 52,
    "Profit Factor": 3.9772335608934615,
    "Expectancy [%]": 6.426382318712141,
    "SQN": 1.767307171431795,
    "Kelly Criterion": 0.3696100273334101,
}
OURS = {"Exposure Time [%]": "exposure_time_pct", "# Trades": "n_trades", "Win Rate [%]": "win_rate_pct",
        "Best Trade [%]": "best_trade_pct", "Worst Trade [%]": "worst_trade_pct", "Avg. Trade [%]": "avg_trade_pct",
        "Max. Trade Duration": "max_trade_duration_days", "Avg. Trade Duration": "avg_trade_duration_days",
        "Profit Factor": "profit_factor", "Expectancy [%]": "expectancy_pct", "SQN": "sqn",
        "Kelly Criterion": "kelly"}


def test_trade_statistics_agree_with_backtesting_py(goog):
    bars = goog.iloc[:2081]
    close = bars.Close.to_numpy()
    run = run_orders(close, sma_crossover_exposure(close, 10, 30), open_=bars.Open.to_numpy(),
                     high=bars.High.to_numpy(), low=bars.Low.to_numpy(), orders=Orders(fractional=False),
                     initial_cash=10_000.0)
    assert run.equity[-1, 0] == pytest.approx(BACKTESTING["Equity Final [$]"], abs=1e-6)
    trades = trades_frame(run.trades, "sma", ["GOOG"], bars.index.to_numpy())
    assert set(trades["exit_reason"]) == {"signal"}
    stats = trade_statistics(trades, bars.index.to_numpy())
    for peer, ours in OURS.items():
        assert stats[ours] == pytest.approx(BACKTESTING[peer], rel=1e-12), ours


def test_statistics_of_no_trade_and_of_hand_worked_trades():
    import polars as pl

    ts = np.arange("2020-01-01", "2020-01-11", dtype="datetime64[D]")
    none = trade_statistics(trades_frame(np.empty((0, 10)), "s", ["A"], ts), ts)
    assert none["n_trades"] == 0 and none["exposure_time_pct"] == 0.0 and np.isnan(none["sqn"])
    # two trades: +10% (pnl 100) over bars 0..2, -5% (pnl -50) over bars 5..6
    records = np.array([[0, 0, 0, 2, 100, 110, 10, 100, 0.10, 0], [0, 0, 5, 6, 100, 95, 10, -50, -0.05, 0]])
    stats = trade_statistics(trades_frame(records, "s", ["A"], ts), ts)
    assert stats["exposure_time_pct"] == pytest.approx(50.0)  # bars 0, 1, 2, 5, 6 of 10
    assert stats["win_rate_pct"] == 50.0 and stats["profit_factor"] == pytest.approx(2.0)
    assert stats["avg_trade_pct"] == pytest.approx((np.sqrt(1.10 * 0.95) - 1) * 100)
    assert stats["sqn"] == pytest.approx(np.sqrt(2) * 25.0 / np.std([100, -50], ddof=1))
    assert stats["kelly"] == pytest.approx(0.5 - 0.5 / (100 / 50))
    assert stats["max_trade_duration_days"] == 2.0 and stats["avg_trade_duration_days"] == 2.0  # ceil(1.5)
    assert isinstance(pl.DataFrame([stats]), pl.DataFrame)


def _sma(extra: str) -> dict:
    import tomllib

    return tomllib.loads('[data]\ndataset = "sp500_index"\nstart = 2015-01-01\nend = 2015-12-31\n[report]\n'
                         f'plots = false\n[[strategies]]\nkind = "sma_crossover"\nname = "s"\n{extra}\n')


@pytest.mark.parametrize(("extra", "fragment"), [
    ("sl_stop = -0.1", "sl_stop = -0.1 is out of range: a fraction of the entry price, 0 < value < 1"),
    ("tp_stop = 2", "tp_stop = 2 is out of range: a fraction of the entry price, 0 < value < 1"),
    ('tsl_stop = "5%"', "tsl_stop must be a number, a fraction of the entry price, 0 < value < 1"),
    ("limit_entry = 1.5", "limit_entry = 1.5 is out of range: a fraction of the signal bar's close, 0 <= value < 1"),
    ("limit_window = 0", "limit_window must be a whole number of bars >= 1"),
    ('fractional = "no"', "fractional must be true or false"),
])
def test_bad_order_keys_are_one_line_errors(extra, fragment):
    with pytest.raises(SpecError) as err:
        run_backtest(_sma(extra), progress=False)
    message = str(err.value)
    assert fragment in message and "\n" not in message and "strategy 's'" in message


def test_a_stop_on_an_allocation_strategy_or_a_weights_function_is_refused(tmp_path):
    spec = _sma("")
    spec["strategies"] = [{"kind": "equal_weight", "sl_stop": 0.05}]
    with pytest.raises(SpecError, match=r"sl_stop applies to signal strategies .*equal_weight is an allocation"):
        run_backtest(spec, progress=False)
    (tmp_path / "w.py").write_text("def f(window):\n    return [1.0]\n")
    spec["strategies"] = [{"kind": "python", "entry": f"{tmp_path / 'w.py'}:f", "tp_stop": 0.1}]
    with pytest.raises(SpecError, match="tp_stop applies to signal functions"):
        run_backtest(spec, progress=False)
    spec["strategies"] = [{"kind": "signal", "entry": "close > 0", "sl_stop": 1}]
    with pytest.raises(SpecError, match="sl_stop = 1 is out of range"):
        run_backtest(spec, progress=False)
