"""The tabular testbed: DP values by hand and by on-policy simulation; rollout samples the stated policies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qfin.errors import DataValidationError
from qfin.ope import TabularMDP, epsilon_greedy_policy, random_tabular_mdp, rollout, softmax_policy


def test_two_state_values_by_hand():
    # state 0: action 0 pays 1 and stays, action 1 pays 0 and moves to the terminal state 1.
    p = np.zeros((2, 2, 2))
    p[0, 0, 0] = p[0, 1, 1] = p[1, :, 1] = 1.0
    mdp = TabularMDP(p, [[1.0, 0.0], [0.0, 0.0]], [1.0, 0.0], horizon=3, gamma=0.5, terminal=[False, True])
    pol = np.array([[0.75, 0.25], [0.5, 0.5]])
    # V_2 = .75; V_1 = .75 (1 + .5 V_2) = 1.03125; V_0 = .75 (1 + .5 V_1) = 1.13671875
    assert mdp.policy_value(pol) == pytest.approx(0.75 * (1 + 0.5 * 0.75 * (1 + 0.5 * 0.75)), rel=1e-15)
    assert mdp.q_values(pol)[2, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("behavior", ["softmax", "epsilon_greedy"])
def test_on_policy_returns_match_dp(behavior):
    mdp = random_tabular_mdp(n_states=4, n_actions=3, horizon=6, gamma=0.9, terminal_prob=0.1, seed=4)
    pol = softmax_policy(np.random.default_rng(0).normal(size=(5, 3))) if behavior == "softmax" \
        else epsilon_greedy_policy([2, 0, 1, 1, 0], 3, 0.3)
    data = rollout(mdp, pol, {"self": pol}, 40_000, seed=8)
    returns = data.reward @ (0.9 ** np.arange(6))
    se = returns.std(ddof=1) / math.sqrt(returns.size)
    assert abs(returns.mean() - mdp.policy_value(pol)) < 3.0 * se
    assert np.all(data.ratio("self") == 1.0)
    # action frequencies in the first step follow the policy, state by state
    for s in range(4):
        rows = data.state[:, 0] == s
        freq = np.bincount(data.action[rows, 0], minlength=3) / rows.sum()
        assert np.allclose(freq, pol[s], atol=4.0 * math.sqrt(0.25 / rows.sum()))


def test_epsilon_greedy_and_softmax_rows():
    eg = epsilon_greedy_policy([1, 0], 4, 0.2)
    assert eg == pytest.approx(np.array([[0.05, 0.85, 0.05, 0.05], [0.85, 0.05, 0.05, 0.05]]), abs=1e-15)
    sm = softmax_policy([[0.0, math.log(3.0)]])
    assert sm[0].tolist() == pytest.approx([0.25, 0.75])
    with pytest.raises(DataValidationError, match="epsilon"):
        epsilon_greedy_policy([0], 2, 1.5)
    with pytest.raises(DataValidationError, match="probability rows of shape"):
        random_tabular_mdp(seed=0).policy_value(np.ones((2, 2)))
