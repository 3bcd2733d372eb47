"""Deflated Sharpe ratio and PBO against the papers' worked numbers, a brute-force CSCV, and their behaviour on
noise (PBO high when in-sample winners are out-of-sample losers, about one half for independent noise) and on a
planted edge (PBO low, DSR high)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.risk import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)


def test_the_deflated_sharpe_ratio_papers_numerical_example():
    """Bailey & López de Prado (2014), section 'A numerical example': an annualised SR of 2.5 over 5 years of daily
    returns (T = 1250, 250 days a year), chosen from N = 100 trials whose annualised Sharpe ratios have variance
    0.5, returns with skewness -3 and kurtosis 10: E[max SR] = 0.1132 per day and DSR = 0.9004."""
    v = 0.5 / 250
    assert expected_max_sharpe(v, 100) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, n_trials=100, sharpe_variance=v, skew=-3.0,
                                 kurtosis=10.0) == pytest.approx(0.9004, abs=5e-5)


def test_one_trial_deflates_nothing_it_is_the_probabilistic_sharpe_ratio():
    r = np.random.default_rng(0).standard_t(5, 500) * 0.01 + 0.0008
    c = r - r.mean()
    skew, kurt = np.mean(c ** 3) / np.mean(c ** 2) ** 1.5, np.mean(c ** 4) / np.mean(c ** 2) ** 2
    sr = r.mean() / r.std(ddof=1)
    assert deflated_sharpe_ratio(sr, 500, n_trials=1, sharpe_variance=0.1, skew=skew, kurtosis=kurt) == \
        pytest.approx(probabilistic_sharpe_ratio(r), rel=1e-12)
    assert deflated_sharpe_ratio(sr, 500, n_trials=50, sharpe_variance=1e-4) < probabilistic_sharpe_ratio(r)


def _brute_force_pbo(r: np.ndarray, s: int) -> float:
    """CSCV written out directly from Bailey et al. (2017), section 2: blocks, every half as in-sample, the
    in-sample best by Sharpe, its out-of-sample rank among N (1 = worst), logit of rank / (N + 1)."""
    blocks = np.array_split(r, s)
    hits = total = 0
    for chosen in itertools.combinations(range(s), s // 2):
        j = np.concatenate([blocks[i] for i in chosen])
        jbar = np.concatenate([blocks[i] for i in range(s) if i not in chosen])
        sr_in = [j[:, n].mean() / j[:, n].std(ddof=1) for n in range(r.shape[1])]
        sr_out = [jbar[:, n].mean() / jbar[:, n].std(ddof=1) for n in range(r.shape[1])]
        best = int(np.argmax(sr_in))
        rank = sorted(sr_out).index(sr_out[best]) + 1
        omega = rank / (r.shape[1] + 1)
        hits += math.log(omega / (1 - omega)) <= 0
        total += 1
    return hits / total


def test_pbo_equals_a_brute_force_cscv():
    r = np.random.default_rng(1).normal(0.0, 0.01, (240, 7))
    for s in (2, 4, 6, 8):
        assert probability_of_backtest_overfitting(r, n_blocks=s).pbo == _brute_force_pbo(r, s)
    assert probability_of_backtest_overfitting(r, n_blocks=8).n_splits == math.comb(8, 4)


def test_pbo_on_noise_and_on_a_planted_edge():
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 0.01, (1000, 50))
    demeaned = noise - noise.mean(axis=0)  # every trial's full-sample Sharpe exactly 0: in-sample winners lose after
    assert probability_of_backtest_overfitting(demeaned, 10).pbo > 0.9
    assert 0.3 < probability_of_backtest_overfitting(noise, 10).pbo < 0.7  # independent noise: a coin flip
    edge = noise.copy()
    edge[:, 7] += 0.002  # one real edge: Sharpe 0.2 a day
    assert probability_of_backtest_overfitting(edge, 10).pbo < 0.05


def test_bad_arguments_are_one_line():
    r = np.zeros((100, 3))
    with pytest.raises(QfinError, match="n_blocks must be an even integer"):
        probability_of_backtest_overfitting(r, 5)
    with pytest.raises(QfinError, match=r"N >= 2 trials"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(QfinError, match="at least 32 periods"):
        probability_of_backtest_overfitting(np.zeros((20, 3)))
    with pytest.raises(QfinError, match="n_trials must be an integer >= 1"):
        expected_max_sharpe(0.1, 0)
