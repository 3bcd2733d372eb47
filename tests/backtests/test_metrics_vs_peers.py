"""metrics.json agrees with empyrical/quantstats on the equity curve the same run writes to equity.parquet, and
with vectorbt on where the returns start.

The returns of a run start from its initial cash, as vectorbt's ``Portfolio.returns`` (its first return is the
first bar's value over ``init_cash``, so the opening trade's fees count): for the T values v of equity.parquet
and the spec's initial cash c, r = (v_0 / c - 1, v_1 / v_0 - 1, ...), T returns. Until issue 17 they started at
v_0 and left the first trade's cost out (equal weight below: total return 1.4680875 then, 1.4656219 now).

Peer figures were produced once in a scratch venv with empyrical-reloaded 0.7.1 and quantstats 0.0.86
(pandas 3.1.1, numpy 2.4.6) from the equity.parquet of exactly these two runs: r as above as a
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

from qfin.backtests import equity_metrics, run_backtest, run_signals
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

# empyrical-reloaded 0.7.1 on each run's returns from the initial cash (see the module docstring)
PEER = {
    "buy_and_hold": {"total_return": 1.0854270845191847, "cagr": 0.053979106688712086,
                     "volatility": 0.1874401367901197, "sharpe": 0.3743554792314003, "sortino": 0.5220119818060798,
                     "max_drawdown": -0.5677538775030548, "calmar": 0.09507483581813432,
                     "cvar_95": 0.029345900677362303},
    "equal_weight": {"total_return": 1.4656219004553086, "cagr": 0.13776625582412572,
                     "volatility": 0.1551006866051012, "sharpe": 0.9099232900540843, "sortino": 1.3199310397688842,
                     "max_drawdown": -0.1442776452501691, "calmar": 0.9548690345288557,
                     "cvar_95": 0.02250597180808525},
    "min_variance": {"total_return": 1.355891176986919, "cagr": 0.13038237795143015,
                     "volatility": 0.1335903173797772, "sharpe": 0.9844202324216931, "sortino": 1.4368586654235105,
                     "max_drawdown": -0.13582577287205805, "calmar": 0.959923696324148,
                     "cvar_95": 0.019047882554568178},
}
INITIAL_CASH = 1_000_000.0  # run_backtest's default, which both specs keep
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
    """empyrical-reloaded 0.7.1's definitions (see the module docstring) written out on one equity curve's returns
    from the initial cash."""
    path = np.concatenate(([INITIAL_CASH], equity))
    r = path[1:] / path[:-1] - 1.0
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


# vectorbt 1.2.0 (pandas 3.1.1, numpy 2.4.6), vbt.settings.returns["year_freq"] = "252 days":
# Portfolio.from_signals(GOOG.Close, entries=True at the first bar only, exits=False, fees=0.001, init_cash=10_000,
# freq="1D"): all-in at the first close, so the first return is the fee, -0.000999000999..., one of 2,148 returns.
VECTORBT_BUY_AND_HOLD = {"total_return": 7.0265558639088646, "cagr": 0.27678553752996793,
                         "volatility": 0.343978554313595, "sharpe": 0.8809706043152502,
                         "sortino": 1.3533271196453482, "max_drawdown": -0.65294759972499,
                         "calmar": 0.4239016081023119}


def test_first_trade_fee_counts_from_the_initial_cash_as_in_vectorbt(goog):
    close = goog.Close.to_numpy()
    run = run_signals(close, np.ones(len(close)), execution="close", fee=0.001, initial_cash=10_000.0)
    assert run.equity[0] == pytest.approx(10_000.0 / 1.001, rel=1e-15)  # vectorbt's value()[0]: 9990.00999...
    metrics = equity_metrics(run.equity, float(run.turnover[0]), 252, initial_cash=10_000.0)
    for name, value in VECTORBT_BUY_AND_HOLD.items():
        assert metrics[name] == pytest.approx(value, rel=1e-12), name
