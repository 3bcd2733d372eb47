"""Return CDFs equal SCOPE-RL 0.2.1's cumulative-distribution estimators on identical logged data, where both are
defined (figures recorded by bench/bench_ope.py --record-cdf; the data rebuilt here as bench_ope.make_cdf_data).

Where both are defined: SCOPE-RL reads F at its ``reward_scale`` grid as P(G < m) and reports its top point as the
clipped total weight, qfin as P(G <= m) with F = 1 at the largest return, so the comparison is at the interior grid
points (no return lies on one); its DR is trajectory-wise with a point prediction of the return, which is qfin's
per-decision DR CDF at horizon 1 with a model that ignores the action; and SCOPE-RL's projection is a running
maximum, qfin's an isotonic regression, which agree where the raw DR estimate is already a CDF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qfin.ope import random_tabular_mdp, return_cdf, rollout, softmax_policy
from qfin.ope._cdf_models import dr_raw

RECORDED = json.loads((Path(__file__).parent / "scope_rl_cdf.json").read_text())


def _data(n_episodes: int, horizon: int, seed: int = 0):
    mdp = random_tabular_mdp(n_states=20, n_actions=4, horizon=horizon, gamma=1.0, terminal_prob=0.0,
                             reward_noise=0.3, seed=seed)
    rng = np.random.default_rng(seed + 1)
    behavior = softmax_policy(rng.normal(size=(21, 4)))
    cand = softmax_policy(rng.normal(size=(21, 4)), 2.0)
    data = rollout(mdp, behavior, {"e": cand}, n_episodes, seed=seed + 2)
    return data, mdp.q_values(cand)[np.arange(horizon)[None, :], data.state]


class _PointModel:
    def __init__(self, data, q) -> None:
        self.v0 = np.einsum("nha,nha->nh", data.candidate_action_dist["e"], q)[:, 0]

    def values(self, step, thresholds):
        p = (self.v0[:, None] <= thresholds).astype(np.float64)
        return p, p


@pytest.mark.parametrize("method", ["tis", "sntis"])
def test_the_is_cdfs_equal_scope_rl(method):
    assert RECORDED["scope_rl_version"] == "0.2.1"
    case = RECORDED["cases"][method]
    data, _ = _data(300, 5)
    assert np.allclose(data.reward[0], case["first_rewards"], rtol=0, atol=1e-15)  # the same logged data
    grid, theirs = np.array(case["reward_scale"]), np.array(case["cdf"])
    ours = return_cdf(data, "e", method).value_at(grid)
    assert np.sum((ours > 0.1) & (ours < 0.9)) >= 10  # the comparison reaches the body of the law, not only its tails
    assert np.allclose(ours[1:-1], theirs[1:-1], rtol=0, atol=1e-12)


@pytest.mark.solver  # Q from a DP through matrix products
def test_the_dr_cdf_equals_scope_rl_trajectory_wise_dr_at_horizon_one():
    case = RECORDED["cases"]["tdr"]
    data, q = _data(300, 1)
    assert np.allclose(data.reward[0], case["first_rewards"], rtol=0, atol=1e-15)
    grid, theirs = np.array(case["reward_scale"]), np.array(case["cdf"])
    raw = dr_raw(data, "e", _PointModel(data, q), grid).mean(axis=0)
    already = (raw >= 0) & (raw <= 1) & (raw == np.maximum.accumulate(raw))  # where no projection acts
    assert already[1:-1].sum() >= 30
    assert np.allclose(raw[1:-1][already[1:-1]], theirs[1:-1][already[1:-1]], rtol=0, atol=1e-12)
