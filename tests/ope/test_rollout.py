"""Rollouts of menu policies on HedgingEnv: logged data, on-policy truth, common random numbers, and
importance sampling on logs from a qfin environment landing within 3 standard errors of the on-policy truth."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from qfin.envs import DiscreteActions, HedgingEnv
from qfin.errors import QfinError
from qfin.ope import (
    ConstantHedge,
    DeltaHedge,
    UniformPolicy,
    dr,
    fitted_q_evaluation,
    log_episodes,
    pdis,
    policy_values,
    run_episodes,
    tis,
)

MENU = [0.0, 0.25, 0.5, 0.75, 1.0]


def _env(objective="pnl"):
    return DiscreteActions(HedgingEnv("gbm", maturity=0.1, n_steps=4, cost=0.002, objective=objective,
                                      risk_aversion=0.5, premium_paths=2_000), MENU)


def test_episodes_have_the_policys_propensities_and_common_paths():
    a = run_episodes(_env, DeltaHedge(values=MENU, temperature=0.2), 50, seed=4, batch=16)
    b = run_episodes(_env, ConstantHedge(values=MENU, hedge=1.0, epsilon=0.3), 50, seed=4, batch=16)
    assert a.state.shape == (50, 4, 3) and (a.length == 4).all() and a.done[:, -1].all() and not a.done[:, :-1].any()
    np.testing.assert_array_equal(a.state[:, :, 0], b.state[:, :, 0])  # same seed: same market paths
    expect = DeltaHedge(values=MENU, temperature=0.2).probs(a.state.reshape(-1, 3))
    np.testing.assert_allclose(a.pscore.reshape(-1), expect[np.arange(200), a.action.reshape(-1)], rtol=1e-12)
    np.testing.assert_array_equal(a.state[:, 1:, 2], np.asarray(MENU)[a.action[:, :-1]])  # h_prev is the last action
    c = run_episodes(_env, DeltaHedge(values=MENU, temperature=0.2), 50, seed=4, batch=16)
    np.testing.assert_array_equal(a.action, c.action)  # same seed, same numbers


def test_a_time_limit_cut_ends_the_episode_without_done():
    ep = run_episodes(lambda: gym.wrappers.TimeLimit(_env(), max_episode_steps=3), UniformPolicy(values=MENU), 5,
                      seed=0)
    assert (ep.length == 3).all() and not ep.done.any()


def test_logged_data_carries_every_candidates_distribution():
    cands = {"delta": DeltaHedge(values=MENU, temperature=0.1), "flat": ConstantHedge(values=MENU, epsilon=0.2)}
    data = log_episodes(_env, UniformPolicy(values=MENU), cands, 40, seed=1)
    assert data.n_actions == 5 and sorted(data.candidates) == ["delta", "flat"]
    np.testing.assert_allclose(data.behavior_pscore, 0.2)
    picked = np.take_along_axis(data.candidate_action_dist["flat"], data.action[:, :, None], 2)[:, :, 0]
    np.testing.assert_allclose(data.candidate_pscores["flat"], picked)
    with pytest.raises(QfinError, match="menu of 3"):
        run_episodes(_env, UniformPolicy(values=[0.0, 0.5, 1.0]), 5)


@pytest.mark.parametrize("objective", ["pnl", "mean_variance"])
def test_importance_sampling_on_hedging_logs_is_within_3_se_of_the_on_policy_truth(objective):
    behavior = DeltaHedge(values=MENU, temperature=0.25)
    candidate = DeltaHedge(values=MENU, vol=0.3, temperature=0.2, epsilon=0.1)
    truth, truth_se = policy_values(lambda: _env(objective), {"c": candidate}, 20_000, seed=11)["c"]
    data = log_episodes(lambda: _env(objective), behavior, {"c": candidate}, 4_000, seed=3)
    q = fitted_q_evaluation(data, "c")
    for name, est in (("tis", tis(data, "c")), ("pdis", pdis(data, "c")), ("dr", dr(data, "c", q))):
        assert math.isfinite(est.stderr) and est.stderr > 0
        assert abs(est.value - truth) < 3 * math.hypot(est.stderr, truth_se), (name, est, truth)


def test_paired_gap_standard_error_is_far_below_the_unpaired_one():
    """Common random numbers: two hedgers on the same paths differ much less than two independent samples would."""
    from qfin.ope import policy_returns, truth_table

    pols = {"delta": DeltaHedge(values=MENU, temperature=0.1), "band": DeltaHedge(values=MENU, vol=0.3,
                                                                                    temperature=0.1)}
    returns = policy_returns(_env, pols, 2_000, seed=9)
    table = truth_table(returns)
    first = table.row(0, named=True)
    unpaired = math.hypot(*table["stderr"].to_list())
    assert first["gap_to_next"] == pytest.approx(table["value"][0] - table["value"][1], rel=1e-12)
    assert first["gap_stderr"] < 0.5 * unpaired
    assert table["gap_to_next"][1] is None
