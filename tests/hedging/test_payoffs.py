"""Payoffs of whole paths, priced by Monte Carlo with control variates, against QuantLib 1.44's analytic engines
under Black–Scholes (S0 = K = 100, r = 3 %, sigma = 25 %, 360 days, Actual/365): each within 3.5 standard errors.
Discretely monitored barriers and lookbacks are compared with the continuous formula at the Broadie–Glasserman–Kou
shifted barrier (H e^{+-beta sigma sqrt(dt)}, beta = zeta(1/2) / sqrt(2 pi) = 0.5826), an O(dt) approximation."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from qfin.data.simulate import AsianOption, BarrierOption, Digital, LookbackOption, Spread, Vanilla, gbm
from qfin.errors import QfinError
from qfin.hedging import bs_price, mc_price

R, SIGMA, T = 0.03, 0.25, 360 / 365
# QuantLib 1.44, AnalyticEuropeanEngine / AnalyticDiscreteGeometricAveragePriceAsianEngine (12 fixings every 30
# days) / AnalyticBarrierEngine at the shifted barrier / AnalyticContinuousFloatingLookbackEngine (BGK-corrected:
# e^b C - S0 (e^b - 1), b = beta sigma sqrt(dt)), 180 monitoring dates every 2 days for the path-dependent ones.
QUANTLIB = {"call": 11.26207679146987, "digital": 0.4834989776327522, "geometric_asian": 6.472961529571429,
            "down_out_85": 10.276798164841559, "up_out_125": 1.568287860776639, "up_in_120": 10.41490668281223,
            "floating_lookback": 18.683695745499612}


@pytest.fixture(scope="module")
def monthly() -> np.ndarray:
    return gbm(100.0, R, SIGMA, T, 12, 100_000, seed=1)


@pytest.fixture(scope="module")
def daily() -> np.ndarray:
    return gbm(100.0, R, SIGMA, T, 180, 40_000, seed=2)


@pytest.mark.parametrize("name, payoff, grid", [
    ("call", Vanilla(100.0), "monthly"), ("digital", Digital(100.0), "monthly"),
    ("geometric_asian", AsianOption(100.0, average="geometric"), "monthly"),
    ("down_out_85", BarrierOption(100.0, 85.0, "down", "out"), "daily"),
    ("up_out_125", BarrierOption(100.0, 125.0, "up", "out"), "daily"),
    ("up_in_120", BarrierOption(100.0, 120.0, "up", "in"), "daily"),
    ("floating_lookback", LookbackOption(), "daily"),
])
def test_monte_carlo_prices_agree_with_quantlib(request, name, payoff, grid):
    price = mc_price(payoff, request.getfixturevalue(grid), R, T)
    assert abs(price.value - QUANTLIB[name]) < 3.5 * price.std_error, (name, price)
    assert price.std_error < 0.015 * QUANTLIB[name]  # the test can tell a 5 % error from noise


def test_the_call_is_black_scholes_and_in_plus_out_is_vanilla(daily):
    assert QUANTLIB["call"] == pytest.approx(bs_price(100.0, 100.0, T, R, SIGMA), rel=1e-10)
    up_in, up_out = BarrierOption(100.0, 120.0, "up", "in"), BarrierOption(100.0, 120.0, "up", "out")
    np.testing.assert_allclose(up_in(daily) + up_out(daily), Vanilla(100.0)(daily), rtol=0, atol=1e-12)
    spread = Spread(90.0, 110.0)(daily)
    np.testing.assert_allclose(spread, Vanilla(90.0)(daily) - Vanilla(110.0)(daily), atol=1e-12)
    assert np.all((spread >= 0) & (spread <= 20))


def test_the_geometric_asian_control_shrinks_the_arithmetic_asians_error(monthly):
    geometric = AsianOption(100.0, average="geometric")
    plain = mc_price(AsianOption(100.0), monthly, R, T)
    controlled = mc_price(AsianOption(100.0), monthly, R, T,
                          controls=[(math.exp(-R * T) * geometric(monthly), QUANTLIB["geometric_asian"])])
    assert controlled.std_error < plain.std_error / 10
    assert abs(controlled.value - plain.value) < 3.5 * plain.std_error


def test_payoffs_pickle_and_user_callables_are_checked(daily):
    for payoff in (Vanilla(100.0, "put"), BarrierOption(100.0, 80.0, "down", "in", "put", rebate=1.0),
                   LookbackOption(105.0), AsianOption(95.0, "put")):
        assert pickle.loads(pickle.dumps(payoff)) == payoff
    with pytest.raises(QfinError, match=r"returned shape \(40000, 1\); expected \(40000,\)"):
        mc_price(lambda p: p[:, -1:], daily, R, T)
    with pytest.raises(QfinError, match="returned a non-finite value"):
        mc_price(lambda p: np.where(p[:, -1] > 100.0, np.nan, 1.0), daily, R, T)
    assert mc_price(lambda p: np.maximum(p[:, -1] - 100.0, 0.0), daily, R, T).value == \
        mc_price(Vanilla(100.0), daily, R, T).value


@pytest.mark.parametrize("build, match", [
    (lambda: BarrierOption(100.0, 95.0, "up", "out"), r"an up barrier must lie above today's spot 100; got barrier 95"),
    (lambda: BarrierOption(100.0, 105.0, "down", "in"), "a down barrier must lie below today's spot 100"),
    (lambda: Spread(110.0, 90.0), "high must be above low"),
    (lambda: Vanilla(-1.0), "strike must be a number > 0"),
    (lambda: Digital(100.0, kind="straddle"), "kind must be 'call' or 'put'"),
])
def test_bad_payoffs_are_one_line(daily, build, match):
    with pytest.raises(QfinError, match=match):
        build()(daily)
