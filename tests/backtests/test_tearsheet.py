"""The tearsheet: its series against brute force and qfin.risk's one definitions, its tables (drawdowns, capped
trade list, monthly heatmap), and a backtest with a ``benchmark`` key end to end (metrics.json, the report)."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from qfin.backtests import run_backtest
from qfin.backtests._report import write_report
from qfin.backtests._tearsheet_stats import period_returns, rolling_beta, rolling_volatility
from qfin.backtests._tearsheet_tables import MAX_TRADE_ROWS, trades_table
from qfin.errors import SpecError
from qfin.risk import BENCHMARK_STATISTICS, annual_volatility, benchmark_statistics, drawdown_periods


def _days(n: int, start: str = "2019-11-25") -> np.ndarray:
    return (np.datetime64(start, "D") + np.arange(n)).astype("datetime64[us]")


def test_period_returns_compound_each_calendar_month_and_year():
    rng = np.random.default_rng(3)
    times, r = _days(500), rng.normal(0.0005, 0.01, 500)
    for unit, width in (("M", 7), ("Y", 4)):
        starts, got = period_returns(times, r, unit)
        keys = [str(t)[:width] for t in times.astype("datetime64[D]")]
        expected = {}
        for key, value in zip(keys, r, strict=True):  # brute force: one product per period
            expected[key] = expected.get(key, 1.0) * (1.0 + value)
        assert [str(s) for s in starts] == list(expected)
        np.testing.assert_allclose(got, np.array(list(expected.values())) - 1.0, rtol=1e-12)


def test_rolling_volatility_and_beta_are_the_one_definitions_on_each_window():
    rng = np.random.default_rng(5)
    b = rng.normal(0.0, 0.01, 80)
    r = 0.5 * b + rng.normal(0.0, 0.005, 80)
    window = 20
    vol, beta = rolling_volatility(r, window), rolling_beta(r, b, window)
    assert np.isnan(vol[: window - 1]).all() and np.isnan(beta[: window - 1]).all()
    for end in (window - 1, 40, 79):
        chunk = slice(end - window + 1, end + 1)
        assert vol[end] == pytest.approx(annual_volatility(r[chunk]), rel=1e-12)
        assert beta[end] == pytest.approx(benchmark_statistics(r[chunk], b[chunk])["beta"], rel=1e-10)
    assert np.isnan(rolling_beta(r, np.zeros(80), window)[window:]).all()  # a flat benchmark has no beta


def _trades(n: int) -> pl.DataFrame:
    times = _days(n + 1)
    return pl.DataFrame({"strategy": ["<s>"] * n, "asset": ["A"] * n, "entry_time": times[:-1], "exit_time": times[1:],
                         "entry_price": np.full(n, 10.0), "exit_price": np.full(n, 11.0), "size": np.ones(n),
                         "pnl": np.ones(n), "return": np.full(n, 0.1), "duration_bars": np.ones(n, dtype=np.int64),
                         "exit_reason": ["signal"] * n})


def test_trade_list_is_capped_and_says_how_many_it_hides():
    table, sentence = trades_table(_trades(MAX_TRADE_ROWS + 50))
    assert table.count("<tr>") == MAX_TRADE_ROWS + 1  # and the header row
    assert f"The first {MAX_TRADE_ROWS} of {MAX_TRADE_ROWS + 50} trades; 50 more" in sentence
    assert "&lt;s&gt;" in table and "<s>" not in table
    assert trades_table(_trades(3))[1] == "All 3 trades."


def test_report_with_benchmark_trades_and_drawdowns(tmp_path):
    rng = np.random.default_rng(11)
    n = 300
    times = _days(n)
    market = 1e6 * np.cumprod(1.0 + rng.normal(3e-4, 0.01, n))
    equity = {"s": 1e6 * np.cumprod(1.0 + rng.normal(3e-4, 0.012, n))}
    values = np.concatenate(([1e6], equity["s"]))
    returns = values[1:] / values[:-1] - 1.0  # from the initial cash, as the metrics
    periods = drawdown_periods(returns)
    day = times.astype("datetime64[D]").astype(str)
    metrics = {"s": {"sharpe": 1.0, "beta": None,
                     "drawdowns": [{"start": day[p.start], "trough": day[p.trough], "recovery": None,
                                    "length_bars": p.length, "depth": p.depth} for p in periods]}}
    page = write_report(tmp_path, title="t", timestamps=times, equity=equity, weights={}, assets=[], metrics=metrics,
                        notes={}, rolling_window=20, benchmark=("MKT", market), trades=_trades(5),
                        initial_cash=1e6).read_text(encoding="utf-8")
    assert (tmp_path / "rolling_beta.png").exists()
    assert "Worst drawdowns" in page and f"{periods[0].depth:.2%}" in page and "not recovered" in page
    assert "All 5 trades." in page and "MKT (benchmark)" in page
    # the heatmap's first month is the compounded return of the first bars from the initial cash
    first_month = np.prod(1.0 + returns[day < "2019-12-01"]) - 1.0
    heatmap = page[page.index("Monthly returns: s"):]
    assert re.search(r">([-\d.]+%)</span>", heatmap).group(1) == f"{first_month:.1%}"


SPEC = {"name": "bench", "data": {"dataset": "sp500_stocks", "start": "2016-01-01", "end": "2017-12-31",
                                  "assets": ["KO", "PEP", "XOM"]},
        "strategies": [{"kind": "equal_weight"}, {"kind": "buy_and_hold"}], "costs": {"fee": 0.001}}


def test_benchmark_asset_statistics_in_metrics_json(tmp_path):
    result = run_backtest({**SPEC, "benchmark": "KO", "report": {"plots": False}}, out_dir=tmp_path / "o",
                          progress=False)
    written = json.loads((tmp_path / "o" / "metrics.json").read_text())
    ko = result.benchmark.returns
    assert ko[0] == 0.0 and result.benchmark.kind == "asset"
    for name in ("equal_weight", "buy_and_hold"):
        expected = benchmark_statistics(result.returns(name), ko)
        for key in BENCHMARK_STATISTICS:
            assert written[name][key] == pytest.approx(expected[key], rel=1e-12)
        assert len(written[name]["drawdowns"]) == 5
        worst = written[name]["drawdowns"][0]
        assert worst["depth"] == pytest.approx(written[name]["max_drawdown"], rel=1e-12)
    assert "KO" in result.notes["benchmark"]


def test_benchmark_strategy_has_null_statistics_for_itself():
    result = run_backtest({**SPEC, "benchmark": "equal_weight", "report": {"plots": False}}, progress=False)
    assert all(result.metrics["equal_weight"][key] is None for key in BENCHMARK_STATISTICS)
    expected = benchmark_statistics(result.returns("buy_and_hold"), result.returns("equal_weight"))
    assert result.metrics["buy_and_hold"]["beta"] == pytest.approx(expected["beta"], rel=1e-12)


def test_unknown_benchmark_is_one_line_naming_what_is_accepted():
    with pytest.raises(SpecError, match=r"benchmark 'SPY' is neither a strategy of the spec \(equal_weight, "
                                        r"buy_and_hold\) nor an asset of sp500_stocks \(KO, PEP, XOM\)"):
        run_backtest({**SPEC, "benchmark": "SPY"}, progress=False)
