"""Tail-risk measures (numpy path) against empyrical figures, brute force and closed forms.

Peer figures: empyrical-reloaded 0.7.1 (numpy 2.4.6) run once in a scratch venv on the series below:
``empyrical.value_at_risk(r, cutoff=1 - level)`` and ``empyrical.conditional_value_at_risk(r, cutoff=1 - level)``
(empyrical returns them as negative returns; qfin reports positive losses, hence the sign flips).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qfin.errors import DataValidationError, QfinError
from qfin.risk import (
    entropic_risk,
    expected_shortfall,
    lower_tail_mean,
    mixed_var,
    range_value_at_risk,
    rockafellar_uryasev,
    value_at_risk,
)

RNG7 = np.random.default_rng(7).normal(0.0004, 0.012, 1000)
HAND = np.array([-0.02, 0.01, 0.03, -0.01, 0.02, -0.05, 0.015, 0.0, -0.03, 0.04, 0.005, -0.012])
HAND2 = np.array([-0.05, -0.03, 0.02, 0.01, -0.01, 0.04, 0.06, 0.01])

# (series, level, empyrical VaR, empyrical CVaR) — empyrical-reloaded 0.7.1
PEER = [
    (RNG7, 0.95, -0.01936579603716664, -0.02363855468386199),
    (RNG7, 0.99, -0.025214590622737308, -0.03022245608420155),
    (HAND, 0.95, -0.03899999999999999, -0.05),
    (HAND, 0.99, -0.0478, -0.05),
    (HAND2, 0.95, -0.043, -0.05),
    (HAND2, 0.99, -0.048600000000000004, -0.05),
    # 41 returns at 90%: (41 - 1) * (1 - 0.9) is 3.9999999999999991 in floating point, so empyrical averages
    # the 4 (not 5) worst returns; qfin follows the same rule
    (RNG7[:41], 0.90, -0.015730574567420986, -0.02296955976175545),
]


@pytest.mark.parametrize("r, level, var, cvar", PEER)
def test_var_and_cvar_match_empyrical(r, level, var, cvar):
    assert value_at_risk(r, level=level) == pytest.approx(-var, rel=1e-10)
    assert expected_shortfall(r, level=level) == pytest.approx(-cvar, rel=1e-10)
    assert expected_shortfall(r, level=level) >= value_at_risk(r, level=level)


def test_var_cvar_two_dimensional_and_by_hand():
    r = np.arange(1, 21, dtype=float) / 100 - 0.1  # -0.09 ... 0.10, 20 values
    # 5% quantile with linear interpolation: position 0.05 * 19 = 0.95 between -0.09 and -0.08
    assert value_at_risk(r, 0.95) == pytest.approx(0.09 - 0.95 * 0.01, rel=1e-12)
    # k = int(19 * 0.05) = 0: the single worst return
    assert expected_shortfall(r, 0.95) == pytest.approx(0.09, rel=1e-12)
    # k = int(19 * 0.25) = 4: mean of the 5 worst
    assert expected_shortfall(r, 0.75) == pytest.approx(0.07, rel=1e-12)
    both = np.column_stack([RNG7, -RNG7])
    np.testing.assert_allclose(value_at_risk(both), [value_at_risk(RNG7), value_at_risk(-RNG7)], rtol=1e-14)
    np.testing.assert_allclose(expected_shortfall(both), [expected_shortfall(RNG7), expected_shortfall(-RNG7)],
                               rtol=1e-14)


def _expanded(x, copies):
    """Each sample repeated ``copies`` times, sorted: an empirical distribution with integer band ends."""
    return np.sort(np.repeat(np.asarray(x, dtype=float), copies))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=12),
       st.integers(1, 8), st.data())
def test_lower_tail_mean_and_rvar_equal_expanded_atoms(values, copies, data):
    x = np.array(values)
    big = _expanded(x, copies)
    total = big.size
    lo = data.draw(st.integers(0, total - 1))
    hi = data.draw(st.integers(lo + 1, total))
    # band [lo/total, hi/total] of the original sample = plain mean of atoms lo..hi-1 of the expanded one
    assert range_value_at_risk(x, lo / total, hi / total) == pytest.approx(big[lo:hi].mean(), rel=1e-9, abs=1e-9)
    assert lower_tail_mean(x, hi / total) == pytest.approx(big[:hi].mean(), rel=1e-9, abs=1e-9)


def test_lower_tail_mean_is_continuous_in_alpha():
    x = np.array([3.0, -1.0, 2.0, 0.0])  # sorted: -1, 0, 2, 3
    assert lower_tail_mean(x, 0.25) == pytest.approx(-1.0)
    assert lower_tail_mean(x, 0.3) == pytest.approx((0.25 * -1.0 + 0.05 * 0.0) / 0.3)
    assert lower_tail_mean(x, 0.25 + 1e-12) == pytest.approx(-1.0, abs=1e-9)
    assert lower_tail_mean(x, 1.0) == pytest.approx(x.mean())
    assert lower_tail_mean(x, 1e-9) == pytest.approx(-1.0)
    assert range_value_at_risk(x, 0.0, 1.0) == pytest.approx(x.mean())
    assert range_value_at_risk(x, 0.5, 0.75) == pytest.approx(2.0)
    assert range_value_at_risk(x, 0.4, 0.6) == pytest.approx(0.5 * 0.0 + 0.5 * 2.0)


def test_expected_shortfall_equals_exact_cvar_when_the_tail_is_whole():
    # 1000 * (1 - 0.95) = 50 samples exactly: empyrical's rule and the exact CVaR coincide
    assert expected_shortfall(RNG7, 0.95) == pytest.approx(-lower_tail_mean(RNG7, 0.05), rel=1e-12)


def _cvar_by_ru_supremum(x, alpha):
    """CVaR_alpha(x) = max_t { t - E[(t - x)^+] / alpha } (Rockafellar–Uryasev for outcomes); the max of this
    concave piecewise-linear function is attained at a sample point, so searching the samples is exact."""
    t = np.asarray(x)[:, None]
    return np.max(t[:, 0] - np.maximum(t - np.asarray(x)[None, :], 0).mean(axis=1) / alpha)


def test_rockafellar_uryasev_minimum_is_the_cvar_of_losses():
    losses = -RNG7
    level = 0.95
    # F is piecewise linear with kinks at the samples: its minimum over a grid holding them is exact
    grid = np.concatenate([np.sort(losses), np.linspace(losses.min() - 0.01, losses.max() + 0.01, 501)])
    values = np.array([rockafellar_uryasev(losses, t, level) for t in grid])
    assert values.min() == pytest.approx(expected_shortfall(RNG7, level), rel=1e-12)
    # the minimiser is the VaR of the losses: the 950th smallest loss (any t in [L_(950), L_(951)] is optimal)
    ordered = np.sort(losses)
    assert rockafellar_uryasev(losses, ordered[949], level) == pytest.approx(values.min(), rel=1e-12)
    # a dense grid never goes below the minimum
    assert np.all(values >= values.min())
    # threshold + mean excess / (1 - level), by hand, at one threshold
    t = 0.01
    assert rockafellar_uryasev(losses, t, level) == pytest.approx(t + np.maximum(losses - t, 0).mean() / 0.05)


def test_rockafellar_uryasev_two_dimensional_threshold_per_column():
    losses = np.column_stack([-RNG7, -2 * RNG7])
    out = rockafellar_uryasev(losses, np.array([0.01, 0.02]), 0.9)
    assert out.shape == (2,)
    assert out[1] == pytest.approx(rockafellar_uryasev(-2 * RNG7, 0.02, 0.9), rel=1e-14)


def test_entropic_risk_against_direct_formula_and_limits():
    x = RNG7 * 100.0  # P&L in money
    for lam in (1e-3, 0.1, 1.0):
        direct = np.log(np.mean(np.exp(-lam * x))) / lam
        # the direct formula itself loses ~1e-16 / lambda to rounding in log(mean(exp)), hence 1e-10
        assert entropic_risk(x, lam) == pytest.approx(direct, rel=1e-10)
    # lambda -> 0: -mean + lambda * variance / 2 + O(lambda^2) (cumulant expansion); at lambda = 1e-9 the
    # remainder is ~1e-19, so this pins the value to full precision where the direct formula cannot
    lam = 1e-9
    assert entropic_risk(x, lam) == pytest.approx(-x.mean() + lam * x.var() / 2, rel=1e-12)
    # huge lambda * X: exp(10_000) overflows a direct computation, the closed form is -min - log(3) / lambda
    x = np.array([-1000.0, 0.0, 5.0])
    assert entropic_risk(x, 10.0) == pytest.approx(1000.0 - math.log(3.0) / 10.0, rel=1e-14)
    assert entropic_risk(x, 1e6) == pytest.approx(1000.0, rel=1e-8)
    assert np.isfinite(entropic_risk(np.array([1e6, -1e6]), 1e3))
    # Gaussian P&L: entropic risk is -mu + lambda sigma^2 / 2; a large sample gets close
    g = np.random.default_rng(3).normal(1.0, 2.0, 400_000)
    assert entropic_risk(g, 0.5) == pytest.approx(-1.0 + 0.5 * 4.0 / 2, abs=0.03)
    panel = np.column_stack([RNG7, 3 * RNG7[::-1] + 0.01])
    direct = np.log(np.mean(np.exp(-2.0 * panel), axis=0)) / 2.0
    np.testing.assert_allclose(entropic_risk(panel, 2.0), direct, rtol=1e-10)


def test_mixed_var_matches_independent_construction():
    x = RNG7[:97]
    alpha, beta, weight = 0.1, 0.6, 0.7
    cvar_a = _cvar_by_ru_supremum(x, alpha)
    cvar_b = _cvar_by_ru_supremum(x, beta)
    # RVaR over [a, b] from the identity beta * CVaR_beta = alpha * CVaR_alpha + (beta - alpha) * RVaR
    rvar = (beta * cvar_b - alpha * cvar_a) / (beta - alpha)
    assert lower_tail_mean(x, alpha) == pytest.approx(cvar_a, rel=1e-12)
    assert range_value_at_risk(x, alpha, beta) == pytest.approx(rvar, rel=1e-10)
    expected = (rvar + weight * cvar_a) / (1 + weight)
    assert mixed_var(x, alpha, beta, weight) == pytest.approx(expected, rel=1e-10)
    assert mixed_var(x, alpha, beta, 0.0) == pytest.approx(rvar, rel=1e-10)
    assert mixed_var(x, alpha, beta, 1e9) == pytest.approx(cvar_a, rel=1e-7)


def test_mixed_var_expanded_atoms():
    x = np.array([0.0, 1.0, 1.0, 0.0, 1.0])  # a bundle of verifiable 0/1 rewards
    big = _expanded(x, 20)  # 100 atoms
    rvar = big[20:70].mean()
    cvar = big[:20].mean()
    assert mixed_var(x, 0.2, 0.7, 2.0) == pytest.approx((rvar + 2.0 * cvar) / 3.0, rel=1e-12)


def test_tail_argument_errors():
    with pytest.raises(QfinError, match=r"level must lie in \(0, 1\)"):
        value_at_risk(RNG7, level=1.0)
    with pytest.raises(QfinError, match="level"):
        expected_shortfall(RNG7, level=95)
    with pytest.raises(QfinError, match="risk_aversion"):
        entropic_risk(RNG7, 0.0)
    with pytest.raises(QfinError, match=r"alpha must lie in \(0, 1\]"):
        lower_tail_mean(RNG7, 0.0)
    with pytest.raises(QfinError, match="alpha < beta"):
        range_value_at_risk(RNG7, 0.5, 0.5)
    with pytest.raises(QfinError, match="alpha > 0"):
        mixed_var(RNG7, 0.0, 0.5, 1.0)
    with pytest.raises(QfinError, match="weight"):
        mixed_var(RNG7, 0.1, 0.5, -1.0)
    with pytest.raises(DataValidationError, match="threshold"):
        rockafellar_uryasev(RNG7, float("nan"), 0.9)
    bad = RNG7.copy()
    bad[5] = np.inf
    with pytest.raises(DataValidationError, match=r"pnl contains NaN or infinite values at rows \[5\]"):
        entropic_risk(bad, 1.0)
    with pytest.raises(DataValidationError, match="losses"):
        rockafellar_uryasev(bad, 0.0, 0.9)
    with pytest.raises(DataValidationError, match="x contains"):
        mixed_var(bad, 0.1, 0.5, 1.0)
