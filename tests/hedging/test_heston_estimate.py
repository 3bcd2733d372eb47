"""Heston from index + VIX: spot variance backed out of VIX^2, joint MLE with sandwich standard errors.

Recovery is checked on paths simulated with known parameters (qfin.data.simulate.heston, QE scheme, daily steps,
20 years) with VIX computed from the simulated variance by the same Heston relation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from qfin.data.simulate import HestonParams, heston
from qfin.errors import QfinError
from qfin.hedging import estimate_heston, heston_from_history, implied_spot_variance, vix_from_variance

NAMES = ("kappa", "theta", "sigma", "rho")


def _market(truth: HestonParams, seed: int, years: float = 20.0):
    s, v = heston(100.0, params=truth, rate=0.02, maturity=years, n_steps=int(252 * years), n_paths=1, seed=seed,
                  return_variance=True)
    return s[0], vix_from_variance(v[0], truth.kappa, truth.theta), v[0]


def test_vix_relation_round_trips_and_matches_the_integrated_cir_mean():
    v = np.array([0.01, 0.04, 0.2])
    kappa, theta, tau = 3.0, 0.05, 30 / 365
    vix = vix_from_variance(v, kappa, theta)
    # E[(1/tau) int_0^tau v dt] by the trapezoid on the CIR conditional mean theta + (v - theta) e^{-kappa t}
    t = np.linspace(0.0, tau, 200001)
    mean = theta + (v[:, None] - theta) * np.exp(-kappa * t[None, :])
    direct = np.trapezoid(mean, t, axis=1) / tau
    np.testing.assert_allclose((vix / 100.0) ** 2, direct, rtol=1e-10)
    np.testing.assert_allclose(implied_spot_variance(vix, kappa, theta), v, rtol=1e-13)


@pytest.mark.parametrize(("truth", "seed"), [
    (HestonParams(0.04, 1.5, 0.05, 0.3, -0.6), 0),
    (HestonParams(0.04, 3.0, 0.04, 0.4, -0.7), 0),
    (HestonParams(0.03, 5.0, 0.03, 0.5, -0.8), 0),
])
def test_recovers_simulated_parameters_within_10_percent_or_2_standard_errors(truth, seed):
    s, vix, v = _market(truth, seed)
    est = estimate_heston(s, vix)
    for name in NAMES:
        got, want, se = getattr(est.params, name), getattr(truth, name), est.std_errors[name]
        assert abs(got - want) <= max(0.1 * abs(want), 2.0 * se), (name, got, want, se)
        assert 0.0 < se < 0.5 * abs(want)  # an informative standard error
    assert est.mu == pytest.approx(0.02, abs=2.0 * est.std_errors["mu"])
    assert est.params.v0 == pytest.approx(v[-1], rel=0.1)
    assert est.feller_ratio == pytest.approx(2 * est.params.kappa * est.params.theta / est.params.sigma ** 2)


def test_variance_premium_is_estimated_near_zero_when_there_is_none():
    truth = HestonParams(0.04, 3.0, 0.04, 0.4, -0.7)
    s, vix, _ = _market(truth, 1)
    est = estimate_heston(s, vix, variance_premium=True)
    assert abs(est.variance_premium) <= 2.0 * est.std_errors["lambda"]
    for name in NAMES:
        got, want, se = getattr(est.params, name), getattr(truth, name), est.std_errors[name]
        assert abs(got - want) <= max(0.1 * abs(want), 2.0 * se), (name, got, want, se)


def test_shipped_sp500_and_vix_estimate():
    from qfin.data import load_dataset
    joined = load_dataset("sp500_index").select("timestamp", "close").join(load_dataset("vix"), on="timestamp")
    est = estimate_heston(joined["close"].to_numpy(), joined["VIX"].to_numpy())
    p = est.params
    # 2014-2018: kappa 3.5 +- 1.1 (the old estimator said 25), sigma 0.64 +- 0.03, rho -0.77 +- 0.03
    assert 1.0 < p.kappa < 8.0 and est.std_errors["kappa"] < p.kappa
    assert 0.4 < p.sigma < 0.9 and -0.9 < p.rho < -0.6
    assert 0.8 < est.realised_to_implied < 1.2  # the backed-out variance has the realised variance's level
    assert heston_from_history(joined["close"].to_numpy(), joined["VIX"].to_numpy()) == p


@pytest.mark.slow  # 16 simulated histories
def test_standard_errors_are_calibrated_across_histories():
    truth = HestonParams(0.04, 3.0, 0.04, 0.4, -0.7)
    z = []
    for seed in range(16):
        s, vix, _ = _market(truth, 100 + seed)
        est = estimate_heston(s, vix)
        z.append([(getattr(est.params, n) - getattr(truth, n)) / est.std_errors[n] for n in NAMES])
    z = np.array(z)
    assert (np.abs(z.mean(axis=0)) < 0.8).all()
    assert ((z.std(axis=0) > 0.4) & (z.std(axis=0) < 1.6)).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"vix": np.full(20, 15.0), "prices": np.full(20, 100.0)}, "length >= 30"),
    ({"vix": np.full(40, 15.0), "prices": np.full(41, 100.0)}, "one length"),
    ({"vix": np.r_[np.full(39, 15.0), np.nan], "prices": np.full(40, 100.0)}, "vix.*NaN"),
    ({"vix": np.full(40, 15.0), "prices": np.r_[np.full(39, 100.0), -1.0]}, "prices.*> 0"),
    ({"x0": (0.0, 1.0, 0.04, 0.3, -1.5)}, "x0"),
    ({"x0": (0.0, 1.0, 0.04)}, "x0.*5 numbers"),
])
def test_bad_inputs_are_one_line_errors(kwargs, match):
    rng = np.random.default_rng(0)
    base = {"prices": 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))),
            "vix": 15.0 + np.cumsum(rng.normal(0, 0.1, 300)).clip(-5, 5)}
    with warnings.catch_warnings(), pytest.raises(QfinError, match=match) as info:
        warnings.simplefilter("ignore")
        estimate_heston(**(base | kwargs))
    assert "\n" not in str(info.value)
