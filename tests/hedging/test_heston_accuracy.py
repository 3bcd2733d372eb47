"""heston_price against 30-digit reference integrals on the hard cases, beside QuantLib's own errors there;
put-call parity, no-arbitrage bounds, many maturities in one call, the moment-explosion time and the delta."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qfin.hedging import heston_delta, heston_price
from qfin.hedging._heston_fourier import explosion_time

# S0 = 100; maturities are whole days / 365 so QuantLib's Actual365Fixed expiry dates are exact.
CASES = {
    "one_day": {"maturity": 1 / 365, "rate": 0.02, "dividend": 0.0,
                "v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 1.0, "rho": -0.7,
                "strikes": [90.0, 95.0, 98.0, 100.0, 102.0, 105.0, 110.0]},
    "one_day_volvol2_rho95": {"maturity": 1 / 365, "rate": 0.0, "dividend": 0.0,
                              "v0": 0.04, "kappa": 1.0, "theta": 0.04, "sigma": 2.0, "rho": -0.95,
                              "strikes": [90.0, 97.0, 100.0, 103.0, 110.0]},
    "volvol2_30d": {"maturity": 30 / 365, "rate": 0.02, "dividend": 0.0,
                    "v0": 0.04, "kappa": 1.5, "theta": 0.06, "sigma": 2.0, "rho": -0.8,
                    "strikes": [50.0, 70.0, 90.0, 100.0, 110.0, 130.0, 160.0]},
    "rho95_6m": {"maturity": 183 / 365, "rate": 0.01, "dividend": 0.0,
                 "v0": 0.04, "kappa": 1.0, "theta": 0.04, "sigma": 1.0, "rho": -0.95,
                 "strikes": [40.0, 70.0, 100.0, 130.0, 200.0]},
    "deep_otm_1m": {"maturity": 30 / 365, "rate": 0.03, "dividend": 0.01,
                    "v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 0.3, "rho": -0.7,
                    "strikes": [50.0, 70.0, 130.0, 150.0, 200.0]},
    "feller_10y": {"maturity": 3650 / 365, "rate": 0.0, "dividend": 0.0,
                   "v0": 0.04, "kappa": 0.5, "theta": 0.04, "sigma": 1.0, "rho": -0.9,
                   "strikes": [10.0, 50.0, 100.0, 200.0, 400.0]},
}

# (reference, QuantLib) price of each option. Reference: the Lewis (2001) integral
# S e^{-qT} - sqrt(S K) e^{-(r+q)T/2} / pi int_0^inf Re[e^{iu log(F/K)} phi(u - i/2)] / (u^2 + 1/4) du in mpmath 1.3
# at 32 digits, composite Gauss-Legendre (20 nodes per panel, then 28 nodes on panels 1.5x narrower and a 1.2x
# longer range: the two agree to < 1e-16 on every option), puts by parity in the same precision.
# QuantLib 1.44 (pip wheel): AnalyticHestonEngine(HestonModel(...), 1e-12, 100000).NPV(), flat Actual365Fixed
# curves, expiry today + 365 T days.
FIGURES = {
    'one_day|90.0|call': (10.00493137174203, 10.004931371742025),
    'one_day|90.0|put': (2.319035908660664e-14, 2.3091373596792367e-14),
    'one_day|95.0|call': (5.005211393392638, 5.005211393392639),
    'one_day|95.0|put': (6.056553853416482e-06, 6.056553860126603e-06),
    'one_day|98.0|call': (2.021938938836574, 2.0219389388365703),
    'one_day|98.0|put': (0.016569222939722687, 0.016569222939724362),
    'one_day|100.0|call': (0.4193191957125923, 0.4193191957125979),
    'one_day|100.0|put': (0.41383989377702995, 0.4138398937770406),
    'one_day|102.0|call': (0.006690814452567735, 0.0066908144525691365),
    'one_day|102.0|put': (2.0011019264782943, 2.0011019264783005),
    'one_day|105.0|call': (6.092793058954318e-10, 6.092798554076673e-10),
    'one_day|105.0|put': (4.994246733576939, 4.9942467335769445),
    'one_day|110.0|call': (6.0160658858812964e-27, 3.455348930581538e-16),
    'one_day|110.0|put': (9.993972767870881, 9.993972767870886),
    'one_day_volvol2_rho95|90.0|call': (10.00000000082643, 10.00000000082643),
    'one_day_volvol2_rho95|90.0|put': (8.264313598644363e-10, 8.264304796057331e-10),
    'one_day_volvol2_rho95|97.0|call': (3.0051465068465815, 3.0051465068465877),
    'one_day_volvol2_rho95|97.0|put': (0.005146506846581459, 0.005146506846587684),
    'one_day_volvol2_rho95|100.0|call': (0.41362101712708155, 0.4136210171270843),
    'one_day_volvol2_rho95|100.0|put': (0.41362101712708155, 0.4136210171270843),
    'one_day_volvol2_rho95|103.0|call': (4.482533732353291e-10, 4.482529952689468e-10),
    'one_day_volvol2_rho95|103.0|put': (3.0000000004482534, 3.000000000448253),
    'one_day_volvol2_rho95|110.0|call': (-8.251235776239782e-24, 7.850601617398442e-17),
    'one_day_volvol2_rho95|110.0|put': (10.0, 10.0),
    'volvol2_30d|50.0|call': (50.082354073473326, 50.08235407347332),
    'volvol2_30d|50.0|put': (0.00022981053858462874, 0.00022981053858649829),
    'volvol2_30d|70.0|call': (30.13181354363889, 30.131813543638877),
    'volvol2_30d|70.0|put': (0.016839575530254773, 0.01683957553024862),
    'volvol2_30d|90.0|call': (10.554881400792125, 10.554881400792109),
    'volvol2_30d|90.0|put': (0.40705772750959085, 0.407057727509587),
    'volvol2_30d|100.0|call': (1.8406852298306535, 1.8406852298306418),
    'volvol2_30d|100.0|put': (1.6764367039611716, 1.6764367039611734),
    'volvol2_30d|110.0|call': (0.011630945355463397, 0.01163094535546427),
    'volvol2_30d|110.0|put': (9.830957566899034, 9.83095756689905),
    'volvol2_30d|130.0|call': (3.2948172023198626e-06, 3.2948171998215e-06),
    'volvol2_30d|130.0|put': (29.786480211186877, 29.78648021118689),
    'volvol2_30d|160.0|call': (1.1063426924965858e-10, 1.1063356390901219e-10),
    'volvol2_30d|160.0|put': (59.737202358719465, 59.737202358719486),
    'rho95_6m|40.0|call': (60.23804787081387, 60.238047872918884),
    'rho95_6m|40.0|put': (0.03800182993811168, 0.038001832043129596),
    'rho95_6m|70.0|call': (30.92406806716668, 30.924068067176176),
    'rho95_6m|70.0|put': (0.5739874956340992, 0.5739874956435981),
    'rho95_6m|100.0|call': (4.168809106944548, 4.168809106938112),
    'rho95_6m|100.0|put': (3.6686940047551495, 3.6686940047487133),
    'rho95_6m|130.0|call': (5.6463604472878735e-06, 5.646360910606609e-06),
    'rho95_6m|130.0|put': (29.34985601351423, 29.34985601351469),
    'rho95_6m|200.0|call': (9.767311450290981e-16, 2.1870711032887662e-11),
    'rho95_6m|200.0|put': (98.9997697956212, 98.99976979564308),
    'deep_otm_1m|50.0|call': (50.04097778495749, 50.04097778495748),
    'deep_otm_1m|50.0|put': (3.173099349635761e-14, 2.835171483321381e-14),
    'deep_otm_1m|70.0|call': (30.090235144269172, 30.09023514426916),
    'deep_otm_1m|70.0|put': (3.040276754907275e-06, 3.0402767546546655e-06),
    'deep_otm_1m|130.0|call': (1.5712304722334631e-09, 1.5712272601788964e-09),
    'deep_otm_1m|130.0|put': (29.76200494047394, 29.76200494047395),
    'deep_otm_1m|150.0|call': (1.1156746914469177e-19, -3.044092632462051e-16),
    'deep_otm_1m|150.0|put': (49.71275061986775, 49.71275061986777),
    'deep_otm_1m|200.0|call': (-4.15659089941981e-30, 6.077878361404984e-16),
    'deep_otm_1m|200.0|put': (99.58961482228035, 99.58961482228038),
    'feller_10y|10.0|call': (90.23535091670475, 90.23535091670473),
    'feller_10y|10.0|put': (0.23535091670474292, 0.23535091670473207),
    'feller_10y|50.0|call': (53.09292286929237, 53.092922869292366),
    'feller_10y|50.0|put': (3.092922869292371, 3.092922869292366),
    'feller_10y|100.0|call': (13.084670136992361, 13.084670136992374),
    'feller_10y|100.0|put': (13.084670136992361, 13.084670136992374),
    'feller_10y|200.0|call': (0.0029849623983516666, 0.0029849623983535523),
    'feller_10y|200.0|put': (100.00298496239836, 100.00298496239836),
    'feller_10y|400.0|call': (1.5729295705254428e-06, 1.5729296022337635e-06),
    'feller_10y|400.0|put': (300.0000015729296, 300.0000015729296),
}


def _options(name):
    case = CASES[name]
    params = {k: v for k, v in case.items() if k != "strikes"}
    return np.array(case["strikes"]), params


@pytest.mark.solver  # adaptive quadrature: the error sits at the last bits of each price
@pytest.mark.parametrize("name", sorted(CASES))
def test_worst_error_against_30_digit_integrals_is_at_or_below_quantlib(name):
    strikes, params = _options(name)
    ours, quantlib = [], []
    for kind in ("call", "put"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = heston_price(100.0, strikes, kind=kind, **params)
        for k, g in zip(strikes, got, strict=True):
            ref, ql = FIGURES[f"{name}|{k}|{kind}"]
            ours.append(abs(g - ref))
            quantlib.append(abs(ql - ref))
    assert max(ours) <= max(quantlib)
    assert max(ours) < 2e-14  # a few units in the last place of prices up to 300


def test_put_call_parity_is_exact_and_prices_respect_no_arbitrage():
    strikes = np.geomspace(1.0, 1000.0, 61)
    maturities = np.array([1.0, 7.0, 365.0, 3650.0]) / 365.0
    k, t = np.meshgrid(strikes, maturities)
    s, r, q = 100.0, 0.03, 0.01
    params = {"v0": 0.04, "kappa": 0.5, "theta": 0.04, "sigma": 2.0, "rho": -0.95}  # Feller badly violated
    call = heston_price(s, k, t, r, **params, kind="call", dividend=q, warn=False)
    put = heston_price(s, k, t, r, **params, kind="put", dividend=q, warn=False)
    fs, dk = s * np.exp(-q * t), k * np.exp(-r * t)
    ulp = 4.0 * np.finfo(float).eps * np.maximum(fs, dk)  # the bounds themselves carry a rounding
    assert (np.abs((call - put) - (fs - dk)) <= ulp).all()
    assert (call >= np.maximum(fs - dk, 0.0) - ulp).all() and (call <= fs + ulp).all()
    assert (put >= np.maximum(dk - fs, 0.0) - ulp).all() and (put <= dk + ulp).all()
    assert (call >= 0.0).all() and (put >= 0.0).all()
    # calls fall and are convex in the strike (no butterfly arbitrage), up to rounding
    slope = np.diff(call, axis=1) / np.diff(k, axis=1)
    assert (slope <= 1e-12).all()
    assert (np.diff(slope, axis=1) >= -1e-12).all()


def test_many_maturities_and_variances_in_one_call_equal_one_at_a_time():
    strikes = np.array([60.0, 95.0, 100.0, 104.0, 150.0])[None, :]
    maturities = np.array([2.0, 30.0, 365.0])[:, None] / 365.0
    v0 = np.array([0.01, 0.04, 0.09])[:, None]
    grid = heston_price(100.0, strikes, maturities, 0.02, v0, 1.5, 0.06, 1.5, -0.8, warn=False)
    assert grid.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            one = heston_price(100.0, float(strikes[0, j]), float(maturities[i, 0]), 0.02, float(v0[i, 0]), 1.5,
                               0.06, 1.5, -0.8, warn=False)
            assert grid[i, j] == pytest.approx(one, abs=1e-13)


@pytest.mark.parametrize("omega", [-20.0, -3.0, 3.0, 8.0, 40.0])
def test_moment_explosion_time_matches_the_riccati_ode(omega):
    from scipy.integrate import solve_ivp
    kappa, sigma, rho = 1.5, 2.0, -0.8
    xi = kappa - sigma * rho * omega

    def riccati(_, b):
        return [0.5 * omega * (omega - 1.0) - xi * b[0] + 0.5 * sigma ** 2 * b[0] ** 2]

    def blown(_, b):
        return b[0] - 1e8
    blown.terminal = True
    sol = solve_ivp(riccati, (0.0, 50.0), [0.0], events=blown, rtol=1e-12, atol=1e-12)
    t_star = float(explosion_time(omega, kappa, sigma, rho))
    if sol.t_events[0].size == 0:
        assert math.isinf(t_star)
    else:  # B reaches 1e8 within ~2 / (sigma^2 1e8) of the pole
        assert t_star == pytest.approx(sol.t_events[0][0], abs=1e-7)


@pytest.mark.parametrize("name", ["volvol2_30d", "one_day", "rho95_6m"])
def test_delta_is_the_derivative_of_the_price(name):
    strikes, params = _options(name)

    def price(s):
        return heston_price(s, strikes, **params, warn=False)
    h = 0.01
    d = [(price(100.0 + x) - price(100.0 - x)) / (2.0 * x) for x in (h / 2.0, h)]
    richardson = (4.0 * d[0] - d[1]) / 3.0
    np.testing.assert_allclose(heston_delta(100.0, strikes, **params, warn=False), richardson, atol=2e-8)
