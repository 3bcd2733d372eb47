"""Heston simulation against closed-form moments and QuantLib's semi-analytic prices."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qfin.data.simulate import HestonParams, heston
from qfin.errors import DataValidationError, QfinError

N_PATHS = 200_000

# Andersen (2008) test case I: Feller badly violated (2 kappa theta = 0.04 < sigma^2 = 1), rho = -0.9, T = 10.
ANDERSEN = dict(v0=0.04, kappa=0.5, theta=0.04, sigma=1.0, rho=-0.9, rate=0.0, maturity=10.0)
# An ordinary equity-like case that satisfies Feller, with a dividend yield.
ORDINARY = dict(v0=0.04, kappa=2.0, theta=0.04, sigma=0.3, rho=-0.7, rate=0.03, dividend=0.01, maturity=1.0)

# European call prices from QuantLib 1.44 (pip wheel, Python 3.11), AnalyticHestonEngine(HestonModel(process),
# 1e-12, 100000) on a HestonProcess with flat Actual365Fixed curves, S0 = 100, expiry = today + 365 * T days
# (year fraction exactly T). The Andersen figures match his Table 3 (35.8498, 13.0847, 0.2958).
QL_ANDERSEN_CALLS = {70.0: 35.84976970383796, 100.0: 13.084670136992374, 140.0: 0.29577443579801965}
QL_ORDINARY_CALLS = {90.0: 14.945071995560557, 100.0: 8.599588101521698, 110.0: 4.148343529818524}


def _z(sample: np.ndarray, expected: float) -> float:
    """Distance of the sample mean from ``expected`` in standard errors."""
    return float((sample.mean() - expected) / (sample.std(ddof=1) / math.sqrt(sample.size)))


def _cir_moments(v0: float, kappa: float, theta: float, sigma: float, t: float) -> tuple[float, float]:
    """Mean and variance of the CIR variance v_t given v_0 (Cox, Ingersoll & Ross 1985, eq. 19)."""
    e = math.exp(-kappa * t)
    mean = theta + (v0 - theta) * e
    var = v0 * sigma ** 2 * e / kappa * (1 - e) + theta * sigma ** 2 / (2 * kappa) * (1 - e) ** 2
    return mean, var


@pytest.fixture(scope="module")
def andersen_qe():
    return heston(100.0, **ANDERSEN, n_steps=40, n_paths=N_PATHS, seed=11, return_variance=True)


@pytest.fixture(scope="module")
def ordinary_qe():
    return heston(100.0, **ORDINARY, n_steps=20, n_paths=N_PATHS, seed=12, return_variance=True)


def test_shapes_start_values_and_dtype(andersen_qe):
    prices, variances = andersen_qe
    assert prices.shape == variances.shape == (N_PATHS, 41)
    assert prices.dtype == variances.dtype == np.float64
    assert np.all(prices[:, 0] == 100.0) and np.all(variances[:, 0] == 0.04)
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)


@pytest.mark.parametrize("case", ["andersen", "ordinary"])
def test_qe_martingale(case, andersen_qe, ordinary_qe):
    prices, _ = andersen_qe if case == "andersen" else ordinary_qe
    p = ANDERSEN if case == "andersen" else ORDINARY
    forward = 100.0 * math.exp((p["rate"] - p.get("dividend", 0.0)) * p["maturity"])
    assert abs(_z(prices[:, -1], forward)) < 3.0
    # The discounted price is a martingale at every date, not only at maturity.
    mid = prices.shape[1] // 2
    t_mid = p["maturity"] * mid / (prices.shape[1] - 1)
    assert abs(_z(prices[:, mid], 100.0 * math.exp((p["rate"] - p.get("dividend", 0.0)) * t_mid))) < 3.0


def test_qe_martingale_correction_with_coarse_steps():
    # dt = 2 years on Andersen's case: without the §4.3 correction (plain K0 of eq. 33) the same run gives
    # E[S_T] = 101.68, about 21 standard errors above 100; with it the mean stays within noise.
    prices = heston(100.0, **ANDERSEN, n_steps=5, n_paths=N_PATHS, seed=13)
    assert abs(_z(prices[:, -1], 100.0)) < 3.0


@pytest.mark.parametrize("case", ["andersen", "ordinary"])
def test_qe_variance_moments_match_cir(case, andersen_qe, ordinary_qe):
    _, variances = andersen_qe if case == "andersen" else ordinary_qe
    p = ANDERSEN if case == "andersen" else ORDINARY
    assert variances.min() >= 0.0
    v_t = variances[:, -1]
    mean, var = _cir_moments(p["v0"], p["kappa"], p["theta"], p["sigma"], p["maturity"])
    assert abs(_z(v_t, mean)) < 3.0
    # QE matches the first two conditional moments of each step, so Var[v_T] is exact as well.
    assert abs(_z((v_t - v_t.mean()) ** 2, var)) < 3.5


@pytest.mark.parametrize(("case", "references"), [("andersen", QL_ANDERSEN_CALLS), ("ordinary", QL_ORDINARY_CALLS)])
def test_qe_call_prices_match_quantlib(case, references, andersen_qe, ordinary_qe):
    prices, _ = andersen_qe if case == "andersen" else ordinary_qe
    p = ANDERSEN if case == "andersen" else ORDINARY
    s_t = prices[:, -1]
    for strike, reference in references.items():
        payoff = math.exp(-p["rate"] * p["maturity"]) * np.maximum(s_t - strike, 0.0)
        assert abs(_z(payoff, reference)) < 3.0, strike


def test_euler_full_truncation_moments():
    prices, variances = heston(100.0, **ORDINARY, n_steps=100, n_paths=N_PATHS, seed=14, scheme="euler",
                               return_variance=True)
    assert abs(_z(prices[:, -1], 100.0 * math.exp(0.02))) < 3.0
    assert variances.min() >= 0.0
    mean, _ = _cir_moments(0.04, 2.0, 0.04, 0.3, 1.0)
    assert abs(_z(variances[:, -1], mean)) < 3.0
    payoff = math.exp(-0.03) * np.maximum(prices[:, -1] - 100.0, 0.0)
    assert abs(_z(payoff, QL_ORDINARY_CALLS[100.0])) < 3.0


def test_same_seed_same_paths_and_params_object():
    p = HestonParams(v0=0.04, kappa=2.0, theta=0.04, sigma=0.3, rho=-0.7)
    a = heston(100.0, params=p, rate=0.01, maturity=1.0, n_steps=5, n_paths=100, seed=3)
    b = heston(100.0, 0.04, 2.0, 0.04, 0.3, -0.7, 0.01, 1.0, 5, 100, seed=3)
    c = heston(100.0, params=p, rate=0.01, maturity=1.0, n_steps=5, n_paths=100, seed=4)
    gen = heston(100.0, params=p, rate=0.01, maturity=1.0, n_steps=5, n_paths=100, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, gen)
    assert not np.allclose(a[:, 1:], c[:, 1:])


def test_feller_property():
    assert not HestonParams(0.04, 0.5, 0.04, 1.0, -0.9).feller  # 2 * 0.5 * 0.04 = 0.04 < 1.0
    assert HestonParams(0.04, 2.0, 0.04, 0.3, -0.7).feller  # 0.16 > 0.09
    assert not HestonParams(0.04, 1.0, 0.045, 0.3, 0.0).feller  # 0.09 = 0.09: not strictly greater


def test_failed_martingale_correction_warns_and_falls_back():
    # sigma = 2, rho = 0.9, dt = 2 years: A = K2 + K4/2 = 0.9 on the exponential branch exceeds beta on some
    # paths. For rho <= 0, A <= 0 and the correction always exists (checked below on Andersen's case).
    with pytest.warns(RuntimeWarning, match="martingale correction"):
        prices = heston(1.0, 1.0, 1.0, 1.0, 2.0, 0.9, 0.0, 4.0, 2, 2000, seed=1)
    assert np.all(np.isfinite(prices))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        heston(100.0, **ANDERSEN, n_steps=4, n_paths=1000, seed=1)


@pytest.mark.parametrize(("change", "name", "accepted"), [
    (dict(rho=1.2), "rho", "[-1, 1]"),
    (dict(rho=float("nan")), "rho", "finite"),
    (dict(v0=-0.01), "v0", ">= 0"),
    (dict(sigma=0.0), "sigma", "> 0"),
    (dict(kappa=-1.0), "kappa", "> 0"),
    (dict(theta=0.0), "theta", "> 0"),
    (dict(maturity=0.0), "maturity", "> 0"),
    (dict(n_steps=0), "n_steps", ">= 1"),
    (dict(n_paths=2.5), "n_paths", "integer"),
    (dict(scheme="milstein"), "scheme", "'qe' or 'euler'"),
    (dict(maturity=None), "maturity", "must be given"),
    (dict(v0=None), "v0", "must be given"),
    (dict(seed="abc"), "seed", "Generator"),
    (dict(s0=-1.0), "s0", "> 0"),
])
def test_bad_arguments_are_named(change, name, accepted):
    args = dict(s0=100.0, v0=0.04, kappa=2.0, theta=0.04, sigma=0.3, rho=-0.7, rate=0.0, maturity=1.0,
                n_steps=4, n_paths=10)
    args.update(change)
    with pytest.raises(DataValidationError) as info:
        heston(**args)
    assert info.value.column == name
    assert name in str(info.value) and accepted in str(info.value)
    assert isinstance(info.value, (QfinError, ValueError))


def test_params_and_explicit_values_conflict():
    p = HestonParams(0.04, 2.0, 0.04, 0.3, -0.7)
    with pytest.raises(DataValidationError, match="either params= or"):
        heston(100.0, v0=0.04, maturity=1.0, n_steps=2, n_paths=2, params=p)
    with pytest.raises(DataValidationError, match="rho"):
        HestonParams(0.04, 2.0, 0.04, 0.3, -1.5)
