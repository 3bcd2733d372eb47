"""GBM, GARCH(1,1), Merton jump-diffusion and regime-switching simulators against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from qfin.data.simulate import garch, gbm, merton_jump, regime_switching, stationary_distribution
from qfin.errors import DataValidationError


def _z(sample: np.ndarray, expected: float) -> float:
    """Distance of the sample mean from ``expected`` in standard errors (i.i.d. entries of ``sample``)."""
    return float((sample.mean() - expected) / (sample.std(ddof=1) / math.sqrt(sample.size)))


def _z_var(sample: np.ndarray, expected: float) -> float:
    """Distance of the sample variance from ``expected`` in standard errors, SE = sqrt(Var[(x - mean)^2] / n)."""
    return _z((sample - sample.mean()) ** 2, expected)


# ---------------------------------------------------------------------------------------------------- GBM

S0, MU, SIGMA, T = 100.0, 0.08, 0.25, 2.0


@pytest.fixture(scope="module")
def gbm_paths():
    return gbm(S0, MU, SIGMA, T, n_steps=8, n_paths=200_000, seed=21)


def test_gbm_shape_and_start(gbm_paths):
    assert gbm_paths.shape == (200_000, 9) and gbm_paths.dtype == np.float64
    assert np.all(gbm_paths[:, 0] == S0) and np.all(gbm_paths > 0)


def test_gbm_terminal_moments_match_lognormal(gbm_paths):
    s_t = gbm_paths[:, -1]
    log_s = np.log(s_t)
    assert abs(_z(s_t, S0 * math.exp(MU * T))) < 3.5
    assert abs(_z_var(s_t, S0 ** 2 * math.exp(2 * MU * T) * math.expm1(SIGMA ** 2 * T))) < 3.5
    assert abs(_z(log_s, math.log(S0) + (MU - 0.5 * SIGMA ** 2) * T)) < 3.5
    assert abs(_z_var(log_s, SIGMA ** 2 * T)) < 3.5


def test_gbm_increments_are_independent_with_the_right_variance(gbm_paths):
    steps = np.diff(np.log(gbm_paths), axis=1)
    dt = T / 8
    assert abs(_z_var(steps[:, 3], SIGMA ** 2 * dt)) < 3.5
    corr = np.corrcoef(steps[:, 2], steps[:, 5])[0, 1]
    assert abs(corr) < 3.5 / math.sqrt(steps.shape[0])


def test_gbm_seeds():
    a = gbm(1.0, 0.0, 0.2, 1.0, 10, 50, seed=5)
    np.testing.assert_array_equal(a, gbm(1.0, 0.0, 0.2, 1.0, 10, 50, seed=5))
    np.testing.assert_array_equal(a, gbm(1.0, 0.0, 0.2, 1.0, 10, 50, seed=np.random.default_rng(5)))
    assert not np.allclose(a[:, 1:], gbm(1.0, 0.0, 0.2, 1.0, 10, 50, seed=6)[:, 1:])


def test_gbm_zero_volatility_is_deterministic():
    paths = gbm(50.0, 0.1, 0.0, 1.0, 4, 3, seed=0)
    np.testing.assert_allclose(paths, np.tile(50.0 * np.exp(0.1 * np.arange(5) / 4), (3, 1)), rtol=1e-14)


@pytest.mark.parametrize(("change", "name"), [
    (dict(s0=0.0), "s0"), (dict(sigma=-0.1), "sigma"), (dict(maturity=-1.0), "maturity"),
    (dict(n_steps=0), "n_steps"), (dict(n_paths=True), "n_paths"), (dict(mu=float("inf")), "mu"),
    (dict(seed=-3), "seed"),
])
def test_gbm_bad_arguments(change, name):
    args = dict(s0=1.0, mu=0.0, sigma=0.2, maturity=1.0, n_steps=2, n_paths=2)
    args.update(change)
    with pytest.raises(DataValidationError) as info:
        gbm(**args)
    assert info.value.column == name and name in str(info.value)


# ---------------------------------------------------------------------------------------------------- GARCH

OMEGA, ALPHA, BETA = 1e-5, 0.1, 0.85


def _garch_fourth_moment(kurt_z: float) -> float:
    """Stationary E[(r - mu)^4] of GARCH(1,1): kz s2^2 (1 - s^2) / (1 - s^2 - (kz - 1) alpha^2), s = alpha + beta.

    From E[h^2] = (omega^2 + 2 omega s E[h]) / (1 - E[(alpha z^2 + beta)^2]) (Bollerslev 1986, Theorem 2;
    He & Teräsvirta 1999 for non-normal z); kz = E[z^4].
    """
    s2 = OMEGA / (1 - ALPHA - BETA)
    s = ALPHA + BETA
    return kurt_z * s2 ** 2 * (1 - s ** 2) / (1 - s ** 2 - (kurt_z - 1) * ALPHA ** 2)


@pytest.mark.parametrize(("innovations", "nu", "kurt_z"), [("normal", None, 3.0), ("t", 12.0, 3 * 10 / 8)])
def test_garch_unconditional_moments(innovations, nu, kurt_z):
    mu = 5e-4
    prices, h = garch(2000, 1000, OMEGA, ALPHA, BETA, mu=mu, s0=10.0, seed=31, return_variance=True,
                      innovations=innovations, nu=nu)
    assert prices.shape == h.shape == (2000, 1001)
    assert np.all(prices[:, 0] == 10.0)
    eps = np.diff(np.log(prices), axis=1) - mu
    # Paths are independent, squared returns within a path are not: the SE comes from per-path averages.
    assert abs(_z((eps ** 2).mean(axis=1), OMEGA / (1 - ALPHA - BETA))) < 3.0
    # The fourth moment pins alpha apart from beta; skip 200 bars for E[h^2] to reach its stationary value.
    assert abs(_z((eps[:, 200:] ** 4).mean(axis=1), _garch_fourth_moment(kurt_z))) < 3.0


def test_garch_variance_follows_the_recursion():
    prices, h = garch(5, 50, OMEGA, ALPHA, BETA, mu=0.001, seed=32, return_variance=True)
    eps = np.diff(np.log(prices), axis=1) - 0.001
    assert np.allclose(h[:, 0], OMEGA / (1 - ALPHA - BETA))
    np.testing.assert_allclose(h[:, 1:], OMEGA + ALPHA * eps ** 2 + BETA * h[:, :-1], rtol=1e-9)


@pytest.mark.parametrize(("change", "name", "text"), [
    (dict(alpha=0.2, beta=0.8), "alpha", "alpha + beta must be < 1"),
    (dict(alpha=0.3, beta=0.75), "alpha", "alpha + beta must be < 1"),
    (dict(omega=0.0), "omega", "> 0"),
    (dict(beta=-0.1), "beta", ">= 0"),
    (dict(innovations="t"), "nu", "nu > 2"),
    (dict(innovations="t", nu=2.0), "nu", "> 2"),
    (dict(nu=5.0), "nu", "only used with innovations='t'"),
    (dict(innovations="laplace"), "innovations", "'normal' or 't'"),
])
def test_garch_bad_arguments(change, name, text):
    args = dict(n_paths=2, n_steps=3, omega=1e-5, alpha=0.1, beta=0.8)
    args.update(change)
    with pytest.raises(DataValidationError) as info:
        garch(**args)
    assert info.value.column == name and text in str(info.value)


# ---------------------------------------------------------------------------------------------------- Merton

M_ARGS = dict(s0=100.0, mu=0.05, sigma=0.2, jump_intensity=1.0, jump_mean=-0.1, jump_std=0.15, maturity=1.0)


def _merton_call(s0, strike, rate, sigma, lam, m, delta, t, terms=60):
    """Merton (1976) eq. 16: a Poisson mixture of Black-Scholes prices, lambda' = lambda (1 + k)."""
    k = math.exp(m + 0.5 * delta ** 2) - 1
    lam_p = lam * (1 + k)
    total = 0.0
    for n in range(terms):
        vol = math.sqrt(sigma ** 2 + n * delta ** 2 / t)
        r_n = rate - lam * k + n * math.log(1 + k) / t
        d1 = (math.log(s0 / strike) + (r_n + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
        bs = s0 * norm.cdf(d1) - strike * math.exp(-r_n * t) * norm.cdf(d1 - vol * math.sqrt(t))
        total += math.exp(-lam_p * t) * (lam_p * t) ** n / math.factorial(n) * bs
    return total


@pytest.fixture(scope="module")
def merton_paths():
    return merton_jump(**M_ARGS, n_steps=10, n_paths=200_000, seed=41)


def test_merton_moments(merton_paths):
    s_t = merton_paths[:, -1]
    assert merton_paths.shape == (200_000, 11) and np.all(merton_paths[:, 0] == 100.0)
    assert abs(_z(s_t, 100.0 * math.exp(0.05))) < 3.0
    var_log = 0.2 ** 2 + 1.0 * ((-0.1) ** 2 + 0.15 ** 2)
    assert abs(_z_var(np.log(s_t), var_log)) < 3.0


def test_merton_call_matches_series_formula(merton_paths):
    # With mu = r the simulated measure is Merton's pricing measure (jump risk not priced).
    s_t = merton_paths[:, -1]
    for strike in (80.0, 100.0, 120.0):
        reference = _merton_call(100.0, strike, 0.05, 0.2, 1.0, -0.1, 0.15, 1.0)
        payoff = math.exp(-0.05) * np.maximum(s_t - strike, 0.0)
        assert abs(_z(payoff, reference)) < 3.0, strike


def test_merton_without_jumps_is_gbm():
    a = merton_jump(1.0, 0.03, 0.2, 0.0, -0.1, 0.15, 1.0, 12, 20_000, seed=42)
    log_s = np.log(a[:, -1])
    assert abs(_z(log_s, 0.03 - 0.02)) < 3.5 and abs(_z_var(log_s, 0.04)) < 3.5


@pytest.mark.parametrize(("change", "name"), [(dict(jump_intensity=-1.0), "jump_intensity"),
                                              (dict(jump_std=-0.1), "jump_std"),
                                              (dict(n_paths=0), "n_paths")])
def test_merton_bad_arguments(change, name):
    args = dict(M_ARGS, n_steps=2, n_paths=2)
    args.update(change)
    with pytest.raises(DataValidationError) as info:
        merton_jump(**args)
    assert info.value.column == name


# ---------------------------------------------------------------------------------------------------- regimes

P2 = np.array([[0.98, 0.02], [0.05, 0.95]])
PI2 = np.array([0.05 / 0.07, 0.02 / 0.07])  # closed form for two states: (q, p) / (p + q)


@pytest.fixture(scope="module")
def regime_run():
    return regime_switching(100.0, [0.10, -0.20], [0.12, 0.35], P2, maturity=1.0, n_steps=250, n_paths=4000,
                            seed=51, return_regimes=True)


def test_regime_occupancy_matches_stationary_distribution(regime_run):
    prices, regimes = regime_run
    assert prices.shape == regimes.shape == (4000, 251)
    assert regimes.dtype == np.int64 and set(np.unique(regimes)) == {0, 1}
    # Each path's share of time in regime 1; paths are independent, bars within a path are not.
    assert abs(_z((regimes == 1).mean(axis=1), PI2[1])) < 3.0
    # Started from the stationary law, every date has it as marginal.
    assert abs(_z((regimes[:, 0] == 1).astype(float), PI2[1])) < 3.0


def test_regime_transition_frequencies(regime_run):
    _, regimes = regime_run
    frm, to = regimes[:, :-1].ravel(), regimes[:, 1:].ravel()
    for i in (0, 1):
        leaving = (to[frm == i] != i).astype(float)
        # Transitions out of one regime are Bernoulli(P[i, 1 - i]) draws given the current regime.
        p = P2[i, 1 - i]
        assert abs(leaving.mean() - p) < 3.5 * math.sqrt(p * (1 - p) / leaving.size)


def test_regime_returns_follow_the_regime(regime_run):
    prices, regimes = regime_run
    steps = np.diff(np.log(prices), axis=1).ravel()
    current = regimes[:, :-1].ravel()
    dt = 1.0 / 250
    for k, (mu, sigma) in enumerate([(0.10, 0.12), (-0.20, 0.35)]):
        x = steps[current == k]
        assert abs(_z(x, (mu - 0.5 * sigma ** 2) * dt)) < 3.5
        assert abs(_z_var(x, sigma ** 2 * dt)) < 3.5


def test_regime_fixed_start_marginals_follow_matrix_powers():
    _, regimes = regime_switching(1.0, [0.0, 0.0], [0.1, 0.2], P2, 1.0, 20, 20_000, seed=52, initial_regime=1,
                                  return_regimes=True)
    assert np.all(regimes[:, 0] == 1)
    expected = np.linalg.matrix_power(P2, 10)[1, 1]  # brute force: P^10 from regime 1
    observed = (regimes[:, 10] == 1).astype(float)
    assert abs(_z(observed, expected)) < 3.5


def test_stationary_distribution_three_states():
    p = np.array([[0.90, 0.08, 0.02], [0.10, 0.80, 0.10], [0.05, 0.25, 0.70]])
    brute = np.linalg.matrix_power(p, 2000)[0]  # every row of P^n converges to pi for an ergodic chain
    np.testing.assert_allclose(stationary_distribution(p), brute, atol=1e-12)
    np.testing.assert_allclose(stationary_distribution(P2), PI2, atol=1e-14)


@pytest.mark.parametrize(("matrix", "text"), [
    ([[0.9, 0.2], [0.1, 0.9]], "row 0 sums to"),
    ([[0.9, 0.1], [0.5, 0.6]], "row 1 sums to"),
    ([[1.1, -0.1], [0.1, 0.9]], "in [0, 1]"),
    ([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], "square"),
    ([[1.0, 0.0], [0.0, 1.0]], "reducible"),
])
def test_regime_bad_transition_matrix(matrix, text):
    k = np.asarray(matrix).shape[1]
    with pytest.raises(DataValidationError) as info:
        regime_switching(1.0, [0.0] * k, [0.1] * k, matrix, 1.0, 5, 5, seed=0)
    assert info.value.column == "transition_matrix" and text in str(info.value)


@pytest.mark.parametrize(("change", "name"), [
    (dict(mus=[0.0, 0.1, 0.2]), "mus"),
    (dict(sigmas=[0.1, -0.2]), "sigmas[1]"),
    (dict(initial_regime=2), "initial_regime"),
    (dict(initial_regime=[0.5, 0.6]), "initial_regime"),
])
def test_regime_bad_arguments(change, name):
    args = dict(s0=1.0, mus=[0.0, 0.1], sigmas=[0.1, 0.2], transition_matrix=P2, maturity=1.0, n_steps=3, n_paths=3)
    args.update(change)
    with pytest.raises(DataValidationError) as info:
        regime_switching(**args)
    assert info.value.column == name
