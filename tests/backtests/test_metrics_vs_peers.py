"""metrics.json agrees with empyrical/quantstats on the equity curve the same run writes to equity.parquet.

Peer figures were produced once in a scratch venv with empyrical-reloaded 0.7.1 and quantstats 0.0.86
(pandas 3.1.1, numpy 2.4.6) from the equity.parquet of exactly these two runs: returns r = v[1:] / v[:-1] - 1 as a
pd.Series on business days, then ``ep.cum_returns_final(r)``, ``ep.annual_return(r, annualization=252)`` (CAGR),
``ep.annual_volatility``, ``ep.sharpe_ratio``, ``ep.sortino_ratio``, ``ep.max_drawdown``, ``ep.calmar_ratio`` (all
with annualization=252) and ``-ep.conditional_value_at_risk(r, cutoff=0.05)`` (historical CVaR 95 as a positive
loss). quantstats' ``qs.stats.sharpe/sortino/max_drawdown(r, periods=252)`` agreed with empyrical to 1e-15.
quantstats' ``qs.stats.cvar`` is not the historical CVaR (it cuts at a normal-quantile VaR), so it is not used.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from qfin.backtests import run_backtest
from qfin.data import load_dataset

pytestmark = pytest.mark.solver  # min_variance's weights come out of a CLARABEL solve

BUY_AND_HOLD = {"name": "peer_bh", "execution": "close",
                "data": {"dataset": "sp500_index", "start": "2005-01-01", "end": "2018-12-31"},
                "strategies": [{"kind": "buy_and_hold"}], "report": {"plots": False}}
MIXED = {"name": "peer_mix", "execution": "close", "rebalance": "monthly",
         "data": {"dataset": "sp500_stocks", "start": "2010-01-01", "end": "2016-12-31",
                  "assets": ["AAPL", "KO", "XOM", "JPM", "PFE"]},
         "costs": {"fee": 0.001},
         "strategies": [{"kind": "equal_weight"}, {"kind": "min_variance", "lookback": 120}],
         "report": {"plots": False}}

# empyrical-reloaded 0.7.1 on each run's equity.parquet (see the module docstring)
PEER = {
    "buy_and_hold": {"total_return": 1.0854270845191847, "cagr": 0.05399483947237105,
                     "volatility": 0.18746673755355409, "sharpe": 0.3744086352336156, "sortino": 0.5220860838693117,
                     "max_drawdown": -0.5677538775030548, "calmar": 0.09510254638829926,
                     "cvar_95": 0.029345900677362303},
    "equal_weight": {"total_return": 1.4680875223557779, "cagr": 0.13801240499908007,
                     "volatility": 0.15514362080954416, "sharpe": 0.9111094975809557, "sortino": 1.3216506510729684,
                     "max_drawdown": -0.1442776452501687, "calmar": 0.9565751143205513,
                     "cvar_95": 0.022505971808085265},
    "min_variance": {"total_return": 1.3582470681639123, "cagr": 0.13062274940313068,
                     "volatility": 0.13362702388182476, "sharpe": 0.9857785020522478, "sortino": 1.4388403338243816,
                     "max_drawdown": -0.1358257728720579, "calmar": 0.9616934006049923,
                     "cvar_95": 0.019047882554568175},
}
# The equity curves the peer figures were computed on (final value, bars); a change here means the engine moved.
FINAL = {"buy_and_hold": (2085427.0845191597, 3523), "equal_weight": (2465621.900455321, 1762),
         "min_variance": (2355891.1769869234, 1762)}
# How closely a figure recorded on one machine (FINAL, PEER) must be met. buy_and_hold and equal_weight are
# elementwise arithmetic on the prices: 1e-12. min_variance's weights come out of a CLARABEL solve (skfolio
# MeanRisk) stopped at tol 1e-10, which promises weights within ~1e-6 of the optimum (see _CLARABEL_PARAMS in
# qfin/backtests/_strategies.py); where it stops depends on the BLAS kernel's rounding (its equity moves ~2e-11
# relative on AVX-512 kernels and up to ~5e-9 under OPENBLAS_CORETYPE=Nehalem), so its recorded figures get 1e-6.
RECORDED_REL = {"buy_and_hold": 1e-12, "equal_weight": 1e-12, "min_variance": 1e-6}


def _empyrical(equity: np.ndarray, ann: int = 252) -> dict[str, float]:
    """empyrical-reloaded 0.7.1's definitions (see the module docstring) written out on one equity curve."""
    r = equity[1:] / equity[:-1] - 1.0
    total = np.prod(1.0 + r) - 1.0
    cagr = (1.0 + total) ** (ann / len(r)) - 1.0
    std = np.std(r, ddof=1)
    wealth = np.concatenate(([100.0], 100.0 * np.cumprod(1.0 + r)))  # cum_returns(r, starting_value=100)
    peak = np.fmax.accumulate(wealth)
    max_drawdown = np.min((wealth - peak) / peak)
    cut = int((len(r) - 1) * 0.05)  # conditional_value_at_risk(r, cutoff=0.05)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * np.sqrt(ann)
    return {"total_return": total, "cagr": cagr, "volatility": std * np.sqrt(ann),
            "sharpe": np.mean(r) / std * np.sqrt(ann), "sortino": np.mean(r) * ann / downside,
            "max_drawdown": max_drawdown, "calmar": cagr / abs(max_drawdown),
            "cvar_95": -np.mean(np.partition(r, cut)[: cut + 1])}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("peer")
    run_backtest(BUY_AND_HOLD, out_dir=root / "bh", progress=False)
    run_backtest(MIXED, out_dir=root / "mix", progress=False)
    metrics, equity = {}, {}
    for folder in ("bh", "mix"):
        metrics.update(json.loads((root / folder / "metrics.json").read_text()))
        frame = pl.read_parquet(root / folder / "equity.parquet")
        equity.update({name: frame[name].to_numpy() for name in frame.columns[1:]})
    return metrics, equity


@pytest.mark.parametrize("strategy", list(PEER))
def test_metrics_json_matches_empyrical_on_the_written_equity(outputs, strategy):
    metrics, equity = outputs
    final, bars = FINAL[strategy]
    assert len(equity[strategy]) == bars
    assert equity[strategy][-1] == pytest.approx(final, rel=RECORDED_REL[strategy])
    written = _empyrical(equity[strategy])  # empyrical's formulas on the equity this run wrote
    for name, value in PEER[strategy].items():
        assert written[name] == pytest.approx(value, rel=RECORDED_REL[strategy]), name  # recorded on one machine
        assert metrics[strategy][name] == pytest.approx(written[name], rel=1e-12), name  # the same equity


def test_costless_buy_and_hold_equity_is_the_index_rescaled(outputs):
    """Independent of the engine: with no costs, buy-and-hold of one asset is cash * close / first close."""
    _, equity = outputs
    spx = load_dataset("sp500_index").filter(pl.col("timestamp").dt.year().is_between(2005, 2018))["close"]
    close = spx.to_numpy()
    np.testing.assert_allclose(equity["buy_and_hold"], equity["buy_and_hold"][0] * close / close[0], rtol=1e-13)
