"""Distributional OPE and high-confidence bounds on a tabular testbed with known return laws: two steps, three
actions, each action's reward a known discrete law; the true law of the two-step return under a candidate is
their convolution, enumerated exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.ope import LoggedData
from qfin.ope._bounds import confidence_interval
from qfin.ope._distributional import ReturnCDF, kolmogorov_distance, return_cdf, weighted_cdf
from qfin.risk import lower_tail_mean

REWARDS = [np.array([-1.0, 0.0, 1.0]), np.array([-3.0, 0.5, 2.0]), np.array([0.0, 0.25])]  # per action
CHANCE = [np.array([0.2, 0.5, 0.3]), np.array([0.3, 0.3, 0.4]), np.array([0.5, 0.5])]
BEHAVIOR = np.array([1 / 3, 1 / 3, 1 / 3])
CANDIDATE = np.array([0.1, 0.7, 0.2])


def _true_law(policy: np.ndarray) -> ReturnCDF:
    atoms, masses = [], []
    for a1, a2 in itertools.product(range(3), repeat=2):
        for (r1, p1), (r2, p2) in itertools.product(zip(REWARDS[a1], CHANCE[a1], strict=True),
                                                    zip(REWARDS[a2], CHANCE[a2], strict=True)):
            atoms.append(r1 + r2)
            masses.append(policy[a1] * policy[a2] * p1 * p2)
    return weighted_cdf(np.array(atoms), np.array(masses), "sntis")


def _logged(n: int, rng: np.random.Generator) -> LoggedData:
    action = rng.choice(3, size=(n, 2), p=BEHAVIOR)
    reward = np.empty((n, 2))
    for a in range(3):
        hit = action == a
        reward[hit] = rng.choice(REWARDS[a], size=int(hit.sum()), p=CHANCE[a])
    return LoggedData(state=np.zeros((n, 2), dtype=np.int64), action=action, reward=reward,
                      done=np.tile([False, True], (n, 1)), behavior_pscore=BEHAVIOR[action],
                      candidate_pscores={"pi": CANDIDATE[action]}, length=np.full(n, 2), n_actions=3)


def test_the_tis_cdf_is_unbiased_at_every_return():
    truth = _true_law(CANDIDATE)
    rng = np.random.default_rng(0)
    points = truth.atoms
    raw = []
    for _ in range(300):
        data = _logged(400, rng)
        g = data.reward.sum(axis=1)
        w = (CANDIDATE[data.action] / BEHAVIOR[data.action]).prod(axis=1)
        raw.append([np.mean(w * (g <= t)) for t in points])  # the unprojected estimator
    raw = np.array(raw)
    error = np.abs(raw.mean(axis=0) - truth.value_at(points))
    assert np.all(error < 4 * raw.std(axis=0, ddof=1) / np.sqrt(len(raw)) + 1e-12)


@pytest.mark.parametrize("method", ["tis", "sntis"])
def test_kolmogorov_distance_shrinks_like_one_over_root_n(method):
    truth = _true_law(CANDIDATE)
    rng = np.random.default_rng(1)
    distance = {n: np.mean([kolmogorov_distance(return_cdf(_logged(n, rng), "pi", method), truth)
                            for _ in range(40)]) for n in (500, 8000)}
    assert distance[8000] < distance[500] / 2.5  # 1/sqrt(16) = 1/4, with room for noise
    # E[w^2] bounds the estimator's variance: within 3 such standard errors of the truth on average
    second_moment = float(np.sum(CANDIDATE ** 2 / BEHAVIOR)) ** 2
    assert distance[8000] < 3 * np.sqrt(second_moment / 8000)


def test_cvar_and_the_other_functionals_converge_to_the_truths():
    truth = _true_law(CANDIDATE)
    estimate = return_cdf(_logged(200_000, np.random.default_rng(2)), "pi", "sntis")
    assert estimate.mean() == pytest.approx(truth.mean(), abs=0.02)
    assert estimate.variance() == pytest.approx(truth.variance(), rel=0.02)
    # the CVaR's error is about the error of the tail masses (s.d. ~ sqrt(p E[w^2] / n) = 8e-4 here) over alpha,
    # times the gap between the tail atoms (~3): 0.05 at alpha = 5 %, 0.01 at 25 %; 3 of those
    for alpha, tolerance in ((0.05, 0.15), (0.25, 0.03)):
        assert estimate.cvar(alpha) == pytest.approx(truth.cvar(alpha), abs=tolerance)
        assert estimate.var(alpha) == truth.var(alpha)
    assert estimate.entropic(0.5) == pytest.approx(truth.entropic(0.5), abs=0.02)
    # the law's CVaR is qfin.risk's: on equally likely atoms it is the sample CVaR
    sample = np.array([3.0, -1.0, 0.5, 2.0])
    assert weighted_cdf(sample, np.ones(4)).cvar(0.3) == pytest.approx(lower_tail_mean(sample, 0.3), abs=1e-15)


def _coverage(method: str, make, n: int, truth: float, **kw) -> float:
    rng = np.random.default_rng(3)
    hits = 0
    for k in range(1000):
        low, high = confidence_interval(make(rng, n), 0.95, method, seed=k, **kw)
        hits += low <= truth <= high
    return hits / 1000


def test_bound_coverage_by_simulation():
    """1,000 datasets each: t and the bootstraps keep 95 % within Monte Carlo error (3 s.e. = 0.021) where the
    mean is near normal; Hoeffding and Bernstein never fall below it on a bounded law."""
    def uniform(rng, n):
        return rng.uniform(0.0, 1.0, n)

    for method in ("t", "bootstrap", "bca"):
        assert abs(_coverage(method, uniform, 200, 0.5, n_bootstrap=500) - 0.95) < 0.021, method
    for method in ("hoeffding", "bernstein"):
        assert _coverage(method, uniform, 200, 0.5, bounds=(0.0, 1.0)) >= 0.95, method


def test_bad_inputs_are_one_line():
    with pytest.raises(QfinError, match=r"a risk level must lie in \(0, 1\)"):
        weighted_cdf(np.array([1.0, 2.0]), np.ones(2)).cvar(1.5)
    with pytest.raises(QfinError, match="NaN rewards"):
        weighted_cdf(np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(QfinError, match="behavior probability of 0"):
        weighted_cdf(np.array([1.0, 2.0]), np.array([1.0, np.inf]))
    with pytest.raises(QfinError, match=r"needs bounds=\(low, high\)"):
        confidence_interval(np.ones(10), method="hoeffding")
    with pytest.raises(QfinError, match="level must lie in"):
        confidence_interval(np.ones(10), level=95)
