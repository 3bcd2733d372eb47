"""qfin.risk performance measures and returns helpers against empyrical/quantstats figures, closed forms and
hand calculations.

Peer figures: produced once with empyrical-reloaded 0.7.1 and quantstats 0.0.86 (numpy 2.4.6, pandas 3.1.1)
in a scratch venv, on the very series built in ``SERIES`` below, e.g.
``empyrical.sharpe_ratio(r, annualization=252)``, ``empyrical.sortino_ratio(r, annualization=252)``,
``empyrical.max_drawdown(r)``, ``empyrical.annual_return(r, annualization=252)``,
``empyrical.annual_volatility(r, annualization=252)``, ``empyrical.calmar_ratio(r, annualization=252)``,
``empyrical.cum_returns_final(r)``, ``empyrical.sharpe_ratio(r, risk_free=0.0001, annualization=252)``,
``empyrical.sortino_ratio(r, required_return=0.0002, annualization=252)``,
``empyrical.sharpe_ratio(r, annualization=12)``; quantstats' ``qs.stats.sharpe/sortino/max_drawdown/cagr/
volatility/calmar`` on ``pd.Series(r, index=pd.bdate_range("2020-01-01", periods=len(r)))`` agreed with
empyrical to <= 3e-16 relative on every figure below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats

from qfin.errors import DataValidationError, QfinError
from qfin.risk import (
    annual_volatility,
    cagr,
    calmar_ratio,
    cumulative_returns,
    drawdown_series,
    equity_curve,
    log_returns,
    max_drawdown,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
    simple_returns,
    sortino_ratio,
    total_return,
)

SERIES = {
    "rng7": np.random.default_rng(7).normal(0.0004, 0.012, 1000),
    "hand": np.array([-0.02, 0.01, 0.03, -0.01, 0.02, -0.05, 0.015, 0.0, -0.03, 0.04, 0.005, -0.012]),
    # opens with losses: the worst drawdown is measured from the starting value 1.0
    "hand2": np.array([-0.05, -0.03, 0.02, 0.01, -0.01, 0.04, 0.06, 0.01]),
}

# empyrical-reloaded 0.7.1 (see the module docstring)
PEER = {
    "rng7": dict(sharpe=-0.6564649647062945, sortino=-0.9018633417047923, max_drawdown=-0.5835711868151603,
                 cagr=-0.12531765088176228, volatility=0.17940551937791202, calmar=-0.21474269757162506,
                 total=-0.4121757873091746, sharpe_rf=-0.7969288706517809, sortino_req=-1.2701611704136986,
                 sharpe_12=-0.14325239961205277),
    "hand": dict(sharpe=-0.1027477704726294, sortino=-0.1441232575024439, max_drawdown=-0.06467750000000017,
                 cagr=-0.1122449985279117, volatility=0.40876799376574574, calmar=-1.7354566661963033,
                 total=-0.005653457450322308, sharpe_rf=-0.16439643275620705, sortino_req=-0.3151659779412464,
                 sharpe_12=-0.022421401698989176),
    "hand2": dict(sharpe=2.768916479436922, sortino=4.74341649025257, max_drawdown=-0.07849999999999994,
                  cagr=3.177810416341976, volatility=0.5688145567757562, calmar=40.481661354674884,
                  total=0.046435966257968087, sharpe_rf=2.7246138157659305, sortino_req=4.568116185670706,
                  sharpe_12=0.6042271123823967),
}

REL = 1e-10


@pytest.mark.parametrize("name", sorted(SERIES))
def test_matches_empyrical_figures(name):
    r, peer = SERIES[name], PEER[name]
    assert sharpe_ratio(r) == pytest.approx(peer["sharpe"], rel=REL)
    assert sortino_ratio(r) == pytest.approx(peer["sortino"], rel=REL)
    assert max_drawdown(r) == pytest.approx(peer["max_drawdown"], rel=REL)
    assert cagr(r) == pytest.approx(peer["cagr"], rel=REL)
    assert annual_volatility(r) == pytest.approx(peer["volatility"], rel=REL)
    assert calmar_ratio(r) == pytest.approx(peer["calmar"], rel=REL)
    assert total_return(r) == pytest.approx(peer["total"], rel=REL)
    assert sharpe_ratio(r, risk_free=0.0001) == pytest.approx(peer["sharpe_rf"], rel=REL)
    assert sortino_ratio(r, required_return=0.0002) == pytest.approx(peer["sortino_req"], rel=REL)
    assert sharpe_ratio(r, periods_per_year=12) == pytest.approx(peer["sharpe_12"], rel=REL)


def test_hand_series_by_hand():
    r = SERIES["hand2"]
    # value path 1, .95, .9215, .93993, ...: the trough .9215 is 7.85% below the starting value
    assert max_drawdown(r) == pytest.approx(0.95 * 0.97 - 1.0, rel=1e-12)
    mean, std = r.mean(), np.sqrt(((r - r.mean()) ** 2).sum() / (len(r) - 1))
    assert sharpe_ratio(r) == pytest.approx(mean / std * np.sqrt(252), rel=1e-12)
    downside = np.sqrt((0.05 ** 2 + 0.03 ** 2 + 0.01 ** 2) / len(r))
    assert sortino_ratio(r) == pytest.approx(mean * 252 / (downside * np.sqrt(252)), rel=1e-12)
    wealth = np.prod(1 + r)
    assert cagr(r) == pytest.approx(wealth ** (252 / len(r)) - 1, rel=1e-12)


def test_two_dimensional_input_is_column_wise():
    a, b = SERIES["rng7"][:8], SERIES["hand2"]
    both = np.column_stack([a, b])
    for fn in (sharpe_ratio, sortino_ratio, max_drawdown, cagr, annual_volatility, calmar_ratio, total_return):
        out = fn(both)
        assert isinstance(out, np.ndarray) and out.shape == (2,)
        assert out[1] == pytest.approx(fn(b), rel=1e-14)
        assert out[0] == pytest.approx(fn(a), rel=1e-14)
    assert sharpe_ratio(both)[1] == pytest.approx(PEER["hand2"]["sharpe"], rel=REL)


def test_series_and_list_inputs():
    r = SERIES["hand"]
    for value in (list(r), pd.Series(r), pl.Series("r", r)):
        assert sharpe_ratio(value) == pytest.approx(PEER["hand"]["sharpe"], rel=REL)
    frame = pl.DataFrame({"a": r, "b": 2 * r})
    assert sharpe_ratio(frame) == pytest.approx([PEER["hand"]["sharpe"]] * 2, rel=REL)


def test_degenerate_cases_follow_empyrical():
    assert np.isnan(sharpe_ratio([0.01]))
    assert np.isnan(annual_volatility([0.01]))
    assert np.isnan(sortino_ratio([0.01]))
    assert np.isnan(sharpe_ratio([0.0, 0.0, 0.0]))            # 0 / 0
    assert sharpe_ratio([0.001] * 5) == np.inf               # constant positive excess: no dispersion
    assert sortino_ratio([0.01, 0.02]) == np.inf             # no downside
    assert max_drawdown([0.01, 0.02]) == 0.0
    assert np.isnan(calmar_ratio([0.01, 0.02]))              # no drawdown, as empyrical
    assert cagr([-1.0, 0.5]) == -1.0                          # total loss
    assert np.isnan(cagr([-1.5, 0.1]))                       # negative value: no real growth rate


@pytest.mark.parametrize("fn", [sharpe_ratio, sortino_ratio, max_drawdown, cagr, annual_volatility, calmar_ratio,
                                total_return, drawdown_series, cumulative_returns, probabilistic_sharpe_ratio])
def test_nan_input_is_named(fn):
    r = SERIES["hand"].copy()
    r[[3, 7]] = np.nan
    with pytest.raises(DataValidationError, match="returns contains NaN") as info:
        fn(r)
    assert info.value.column == "returns" and info.value.rows == [3, 7] and info.value.rule == "non_finite"


def test_bad_inputs_raise_qfin_errors():
    with pytest.raises(DataValidationError, match="at least 1 row"):
        sharpe_ratio([])
    with pytest.raises(DataValidationError, match="float64"):
        sharpe_ratio(["a", "b"])
    with pytest.raises(DataValidationError, match="1-D or 2-D"):
        sharpe_ratio(np.zeros((3, 2, 2)))
    with pytest.raises(QfinError, match="periods_per_year"):
        sharpe_ratio(SERIES["hand"], periods_per_year=0)
    with pytest.raises(QfinError, match="risk_free"):
        sharpe_ratio(SERIES["hand"], risk_free=float("nan"))
    with pytest.raises(DataValidationError, match="at least 3"):
        probabilistic_sharpe_ratio([0.1, 0.2])


def test_returns_helpers_closed_forms():
    prices = np.array([100.0, 110.0, 99.0, 108.9])
    np.testing.assert_allclose(simple_returns(prices), [0.1, -0.1, 0.1], rtol=1e-14)
    np.testing.assert_allclose(log_returns(prices), np.log([1.1, 0.9, 1.1]), rtol=1e-14)
    r = simple_returns(prices)
    np.testing.assert_allclose(cumulative_returns(r), [0.1, -0.01, 0.089], rtol=1e-13)
    np.testing.assert_allclose(equity_curve(r, initial=100.0), prices, rtol=1e-14)
    np.testing.assert_allclose(drawdown_series(r), [0.0, -0.1, 108.9 / 110 - 1], rtol=1e-13)
    assert total_return(r) == pytest.approx(0.089, rel=1e-13)
    # the start value counts as a peak: a first loss is a drawdown
    np.testing.assert_allclose(drawdown_series([-0.1, 0.05]), [-0.1, 0.9 * 1.05 - 1], rtol=1e-13)
    panel = np.column_stack([prices, prices[::-1]])
    np.testing.assert_allclose(simple_returns(panel)[:, 1], prices[-2::-1] / prices[:0:-1] - 1, rtol=1e-14)
    assert equity_curve(np.zeros((5, 3))).shape == (6, 3)


def test_price_validation():
    with pytest.raises(DataValidationError, match="at least 2"):
        simple_returns([100.0])
    with pytest.raises(DataValidationError, match="zero at rows \\[1\\]") as info:
        simple_returns([100.0, 0.0, 5.0])
    assert info.value.rule == "zero_price"
    assert simple_returns([100.0, 50.0, 0.0])[-1] == -1.0  # a last value of 0 is a total loss, not an error
    with pytest.raises(DataValidationError, match="positive for log returns") as info:
        log_returns([100.0, -1.0])
    assert info.value.rows == [1]


def _psr_reference(r, sr_star):
    """Bailey & López de Prado (2012) PSR written out with scipy's moment estimators."""
    sr = r.mean() / r.std(ddof=1)
    g3 = stats.skew(r)
    g4 = stats.kurtosis(r, fisher=False)
    z = (sr - sr_star) * np.sqrt(len(r) - 1) / np.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2)
    return stats.norm.cdf(z)


@pytest.mark.parametrize("name", sorted(SERIES))
@pytest.mark.parametrize("sr_star", [0.0, 0.05, -0.1])
def test_probabilistic_sharpe_ratio_matches_direct_formula(name, sr_star):
    r = SERIES[name]
    assert probabilistic_sharpe_ratio(r, benchmark_sharpe=sr_star) == pytest.approx(_psr_reference(r, sr_star),
                                                                                    rel=1e-10, abs=1e-15)


def test_probabilistic_sharpe_ratio_properties():
    r = SERIES["rng7"] + 0.002  # a clearly positive Sharpe
    psr = probabilistic_sharpe_ratio(r)
    assert 0.99 < psr < 1.0
    assert probabilistic_sharpe_ratio(r, benchmark_sharpe=r.mean() / r.std(ddof=1)) == pytest.approx(0.5)
    both = probabilistic_sharpe_ratio(np.column_stack([r, SERIES["rng7"]]))
    assert both == pytest.approx([psr, _psr_reference(SERIES["rng7"], 0.0)], rel=1e-10)
