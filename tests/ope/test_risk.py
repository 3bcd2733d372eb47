"""Risk estimates with bounds, and the coverage of the high-confidence bounds by simulation on logged data.

Coverage: 1,000 logged datasets of 200 episodes from a random tabular MDP (qfin.ope.random_tabular_mdp, rewards
without noise so the returns are bounded), logged at once by one vectorised rollout and split; each dataset's TIS
terms w_i G_i estimate J(pi_e), known exactly by dynamic programming."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.ope import random_tabular_mdp, rollout, softmax_policy
from qfin.ope._risk import bound_coverage, risk_estimates
from tests.ope.test_cdf_models import TRUTH, logged

N_DATASETS, N = 1000, 200


def _testbed():
    mdp = random_tabular_mdp(n_states=4, n_actions=3, horizon=4, gamma=0.95, reward_noise=0.0, seed=3)
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(5, 3))
    behavior = softmax_policy(logits, 2.0)
    candidate = softmax_policy(logits + 0.5 * rng.normal(size=(5, 3)), 2.0)
    return mdp, behavior, candidate


def _tis_terms(rng_seed: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    mdp, behavior, candidate = _testbed()
    data = rollout(mdp, behavior, {"e": candidate}, N_DATASETS * N, seed=rng_seed)
    w = np.prod(data.candidate_pscores["e"] / data.behavior_pscore, axis=1)
    terms = (w * (data.reward @ (mdp.gamma ** np.arange(mdp.horizon)))).reshape(N_DATASETS, N)
    ratio_max = float(np.max(candidate[:4] / behavior[:4]))  # the terminal state's rows are never logged
    g_max = float(np.abs(mdp.rewards).max() * (mdp.gamma ** np.arange(mdp.horizon)).sum())
    bound = ratio_max ** mdp.horizon * g_max
    return terms, mdp.policy_value(candidate), (-bound, bound)


@pytest.mark.slow  # ~15 s on a loaded 2-core machine: 2,000 bootstrap intervals of 300 resamples
def test_bound_coverage_on_1000_logged_datasets():
    """Nominal 95 %: t, percentile bootstrap and BCa within 3 Monte Carlo s.e. (3 x 0.0069); Hoeffding and
    empirical Bernstein at or above it (conservative: their ranges hold for every dataset)."""
    terms, truth, bounds = _tis_terms(11)
    assert np.all((terms >= bounds[0]) & (terms <= bounds[1]))
    table = bound_coverage(lambda rng: terms, truth, n_datasets=N_DATASETS, bounds=bounds, n_bootstrap=300)
    for method in ("t", "bootstrap", "bca"):
        assert abs(table[method]["coverage"] - 0.95) < 3 * np.sqrt(0.95 * 0.05 / N_DATASETS), (method, table)
    for method in ("hoeffding", "bernstein"):
        assert table[method]["coverage"] >= 0.95, (method, table)
        assert table[method]["width"] > table["t"]["width"]  # the price of holding for any law on the range


def test_risk_estimates_bracket_the_truth_and_shrink():
    """On 4,000 episodes of the stateful testbed the IS and DR bootstrap intervals hold the true mean and the true
    CVaR at 25 %, and every interval narrows with 4x the data (about by half). DM's interval resamples the initial
    states under one fitted model, so it omits the model's error and is not asked to cover."""
    big = logged(4000, np.random.default_rng(20))
    small = logged(1000, np.random.default_rng(21))
    est_big = risk_estimates(big, "pi", alpha=0.25, n_bootstrap=200, seed=1)
    est_small = risk_estimates(small, "pi", alpha=0.25, n_bootstrap=200, seed=1)
    for method, row in est_big.items():
        if method != "dm":
            assert row["mean_low"] <= TRUTH.mean() <= row["mean_high"], (method, row)
            assert row["cvar_low"] <= TRUTH.cvar(0.25) <= row["cvar_high"], (method, row)
        assert row["cvar_low"] <= row["cvar"] <= row["cvar_high"]
        assert abs(row["cvar"] - TRUTH.cvar(0.25)) < 0.1
        width = row["cvar_high"] - row["cvar_low"]
        small_width = est_small[method]["cvar_high"] - est_small[method]["cvar_low"]
        assert 0.3 < width / small_width < 0.75, method


def test_bad_inputs_are_one_line():
    data = logged(50, np.random.default_rng(22))
    with pytest.raises(QfinError, match=r"a risk level must lie in \(0, 1\)"):
        risk_estimates(data, "pi", alpha=1.0)
    with pytest.raises(QfinError, match="n_bootstrap must be an integer >= 100"):
        risk_estimates(data, "pi", n_bootstrap=10)
    with pytest.raises(QfinError, match="make_samples must return"):
        bound_coverage(lambda rng: np.ones((3, 5)), 1.0, n_datasets=4)
