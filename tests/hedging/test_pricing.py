"""Black–Scholes and Heston pricing against closed forms, textbook values and QuantLib's AnalyticHestonEngine."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.hedging import (
    FellerWarning,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_vega,
    heston_delta,
    heston_price,
    implied_vol,
)

# Heston parameter sets: S0 = 100 everywhere.
CASES = {
    "ordinary_1y": {"maturity": 1.0, "rate": 0.03, "dividend": 0.01, "v0": 0.04, "kappa": 2.0, "theta": 0.04,
                    "sigma": 0.3, "rho": -0.7},
    # high vol of vol, 30 days: the integrand decays slowly, a short truncation of the integrals fails here
    "volvol_30d": {"maturity": 30 / 365, "rate": 0.02, "dividend": 0.0, "v0": 0.04, "kappa": 1.5, "theta": 0.06,
                   "sigma": 1.5, "rho": -0.8},
    # Andersen (2008) case I, Feller badly violated
    "andersen_10y": {"maturity": 10.0, "rate": 0.0, "dividend": 0.0, "v0": 0.04, "kappa": 0.5, "theta": 0.04,
                     "sigma": 1.0, "rho": -0.9},
}

# QuantLib 1.44 (pip wheel, Python 3.11): AnalyticHestonEngine(HestonModel(HestonProcess(...)), 1e-12, 100000),
# flat Actual365Fixed rate and dividend curves, expiry = today + round(365 T) days. Price = NPV(); delta = the
# Richardson-extrapolated central difference (4 D(0.05) - D(0.1)) / 3 of NPV in the spot quote (the analytic
# engine reports no delta), accurate to ~1e-11. The andersen 100 call matches Andersen's Table 3 (13.0847).
QL = {
    "ordinary_1y|80.0|call": (22.78184453506361, 0.9003690776646837),
    "ordinary_1y|80.0|put": (1.4125038440274618, -0.08968075608425718),
    "ordinary_1y|100.0|call": (8.599588101521698, 0.6301766510975634),
    "ordinary_1y|100.0|put": (6.639158081455715, -0.3598731826514105),
    "ordinary_1y|120.0|call": (1.6040516809081238, 0.22224917118954393),
    "ordinary_1y|120.0|put": (19.0525323318123, -0.7678006625594591),
    "volvol_30d|80.0|call": (20.189147531697504, 0.9915406491440967),
    "volvol_30d|80.0|put": (0.05774871100192831, -0.008459350855986834),
    "volvol_30d|100.0|call": (2.040130751107483, 0.6983394990411839),
    "volvol_30d|100.0|put": (1.8758822252380145, -0.30166050095887464),
    "volvol_30d|120.0|call": (4.3007171924779524e-05, 2.7119160938498645e-05),
    "volvol_30d|120.0|put": (19.802944776128562, -0.9999728808391003),
    "andersen_10y|80.0|call": (27.72492122634653, 0.9103444531235402),
    "andersen_10y|80.0|put": (7.724921226346531, -0.08965554687640302),
    "andersen_10y|100.0|call": (13.084670136992374, 0.7859359926249324),
    "andersen_10y|100.0|put": (13.084670136992374, -0.21406400737501072),
    "andersen_10y|120.0|call": (2.8988273647234966, 0.4012737064433125),
    "andersen_10y|120.0|put": (22.898827364723495, -0.5987262935565832),
}


def test_bs_known_values_hull():
    # Hull, "Options, Futures and Other Derivatives", Example 15.6: S=42, K=40, r=10%, vol=20%, T=0.5
    assert bs_price(42.0, 40.0, 0.5, 0.1, 0.2) == pytest.approx(4.7594, abs=5e-5)
    assert bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "put") == pytest.approx(0.8086, abs=5e-5)


def test_bs_at_the_money_forward_closed_form():
    # K = F, q = 0: C = S (2 N(vol sqrt(T) / 2) - 1), with N from math.erf (independent of scipy)
    s, t, r, v = 100.0, 2.0, 0.05, 0.3
    k = s * math.exp(r * t)
    expected = s * math.erf(v * math.sqrt(t) / 2 / math.sqrt(2))
    assert bs_price(s, k, t, r, v) == pytest.approx(expected, abs=1e-12)


def test_bs_put_call_parity_vectorised():
    k = np.linspace(50.0, 150.0, 11)
    c = bs_price(100.0, k, 0.7, 0.03, 0.25, "call", dividend=0.02)
    p = bs_price(100.0, k, 0.7, 0.03, 0.25, "put", dividend=0.02)
    np.testing.assert_allclose(c - p, 100.0 * math.exp(-0.02 * 0.7) - k * math.exp(-0.03 * 0.7), atol=1e-12)
    assert c.shape == (11,)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_bs_greeks_match_finite_differences(kind):
    s, k, t, r, v, q = 95.0, 100.0, 0.4, 0.02, 0.3, 0.01
    h = 1e-3
    up, mid, dn = (bs_price(x, k, t, r, v, kind, q) for x in (s + h, s, s - h))
    assert bs_delta(s, k, t, r, v, kind, q) == pytest.approx((up - dn) / (2 * h), abs=1e-8)
    assert bs_gamma(s, k, t, r, v, q) == pytest.approx((up - 2 * mid + dn) / h ** 2, abs=1e-5)
    dv = (bs_price(s, k, t, r, v + 1e-5, kind, q) - bs_price(s, k, t, r, v - 1e-5, kind, q)) / 2e-5
    assert bs_vega(s, k, t, r, v, q) == pytest.approx(dv, abs=1e-6)


def test_implied_vol_round_trip():
    k = np.array([60.0, 80.0, 100.0, 120.0, 160.0])
    vols = np.array([0.45, 0.3, 0.2, 0.18, 0.25])
    kinds = np.array(["put", "put", "call", "call", "call"])
    prices = bs_price(100.0, k, 0.5, 0.01, vols, kinds)
    np.testing.assert_allclose(implied_vol(prices, 100.0, k, 0.5, 0.01, kinds), vols, atol=1e-9)


def test_implied_vol_refuses_arbitrage_prices():
    with pytest.raises(QfinError, match="no-arbitrage"):
        implied_vol(0.5, 100.0, 80.0, 1.0, 0.0)  # below the intrinsic value 20
    with pytest.raises(QfinError, match="NaN"):
        implied_vol([5.0, float("nan")], 100.0, 100.0, 1.0, 0.0)


@pytest.mark.solver  # scipy quad_vec against recorded QuantLib figures
@pytest.mark.parametrize("key", sorted(QL))
def test_heston_matches_quantlib(key):
    name, strike, kind = key.split("|")
    ql_price, ql_delta = QL[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerWarning)
        assert heston_price(100.0, float(strike), kind=kind, **CASES[name]) == pytest.approx(ql_price, abs=1e-6)
        assert heston_delta(100.0, float(strike), kind=kind, **CASES[name]) == pytest.approx(ql_delta, abs=1e-6)


@pytest.mark.solver  # scipy quad_vec against recorded QuantLib figures
def test_heston_vectorised_over_strikes_and_upper_limit_matters():
    strikes = np.array([80.0, 100.0, 120.0])
    prices = heston_price(100.0, strikes, **CASES["volvol_30d"], warn=False)
    np.testing.assert_allclose(prices, [QL[f"volvol_30d|{k}|call"][0] for k in strikes], atol=1e-6)
    # a fixed short truncation (u <= 100) is off by cents in this high vol-of-vol short-dated case
    short = heston_price(100.0, 100.0, **CASES["volvol_30d"], max_upper=100.0, warn=False)
    assert abs(short - QL["volvol_30d|100.0|call"][0]) > 1e-3


@pytest.mark.parametrize(("bad", "match"), [
    ({"vol": -0.2}, "vol"),
    ({"maturity": 0.0}, "maturity"),
    ({"spot": float("nan")}, "spot"),
    ({"kind": "straddle"}, "kind"),
])
def test_bs_bad_inputs(bad, match):
    args = {"spot": 100.0, "strike": 100.0, "maturity": 1.0, "rate": 0.0, "vol": 0.2} | bad
    with pytest.raises(QfinError, match=match):
        bs_price(**args)


def test_heston_bad_inputs_and_feller_warning():
    base = dict(CASES["ordinary_1y"])
    with pytest.raises(QfinError, match="rho"):
        heston_price(100.0, 100.0, **(base | {"rho": -1.2}))
    with pytest.raises(QfinError, match="maturity"):
        heston_price(100.0, 100.0, **(base | {"maturity": 0.0}))
    with pytest.raises(QfinError, match="sigma"):
        heston_price(100.0, 100.0, **(base | {"sigma": -0.1}))
    with pytest.raises(QfinError, match="strike"):
        heston_price(100.0, [90.0, float("nan")], **base)
    with pytest.warns(FellerWarning, match="Feller"):
        heston_price(100.0, 100.0, **CASES["andersen_10y"])
