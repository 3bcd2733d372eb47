"""The skfolio fits of a backtest in worker processes (qfin.backtests._fitting): exactly this process's targets,
the strategies' fallback warnings re-issued here, and a failed fit's one-line error naming strategy and bar."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.backtests._fitting import decide_all
from qfin.backtests._strategies import EqualWeight, HierarchicalRiskParity, MaximumSharpe
from qfin.data import price_panel
from qfin.strategy import StrategyFallbackWarning, StrategyFitError

pytestmark = pytest.mark.solver


def _panel():
    rng = np.random.default_rng(8)
    n, k = 120, 4
    drift = np.where(np.arange(n)[:, None] < 70, 0.004, -0.006)  # rising, then every asset falling
    close = 100.0 * np.cumprod(1.0 + drift + rng.normal(0.0, 0.01, (n, k)), axis=0)
    import polars as pl

    times = (np.datetime64("2021-01-01", "D") + np.arange(n)).astype("datetime64[us]")
    return price_panel(pl.DataFrame({"timestamp": times, **{f"A{j}": close[:, j] for j in range(k)}}))


def test_workers_give_this_process_targets_and_reissue_fallback_warnings(monkeypatch):
    import qfin.backtests._fitting as fitting

    monkeypatch.setattr(fitting, "PARALLEL_MIN_FITS", 1)
    panel = _panel()
    strategies = [MaximumSharpe(name="ms", lookback=30, fallback="previous"), HierarchicalRiskParity(lookback=30),
                  EqualWeight()]
    bars = np.arange(40, 120, 10)
    bars_of = {s.name: bars for s in strategies}
    ticks = []
    with pytest.warns(StrategyFallbackWarning, match=r"strategy 'ms' at decision \d+ .*kept the previous target"):
        got = decide_all(strategies, panel, bars_of, lambda: ticks.append(1), n_workers=2)
    assert len(ticks) == 3 * len(bars)
    with pytest.warns(StrategyFallbackWarning):
        expected = {s.name: s.decide(panel, bars) for s in strategies}
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.slow
def test_a_failed_fit_in_a_worker_is_the_same_one_line_error(monkeypatch):
    import qfin.backtests._fitting as fitting

    monkeypatch.setattr(fitting, "PARALLEL_MIN_FITS", 1)
    strategies = [MaximumSharpe(name="ms", lookback=30), HierarchicalRiskParity(lookback=30)]
    bars = np.arange(40, 120, 10)
    with pytest.raises(StrategyFitError, match=r"strategy 'ms' at decision \d+ \(bar \d+, 2021-0.*fallback") as err:
        decide_all(strategies, _panel(), {s.name: bars for s in strategies}, lambda: None, n_workers=2)
    assert "\n" not in str(err.value)
