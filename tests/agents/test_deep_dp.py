"""The deep variant: QR-DQN on the stock-augmented environment, acting on f(c + quantiles), re-evaluated exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qfin.agents import FiniteMDPEnv, train_qrdqn
from qfin.dp import ProbabilityOfTarget, evaluate_policy, solve
from qfin.errors import QfinError
from tests.dp.test_exact import hidden_history_mdp, random_mdp

pytest.importorskip("sb3_contrib")


@pytest.mark.slow  # about 40-70 s of CPU training
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qrdqn_reaches_90_percent_of_the_exact_optimum_and_uses_the_stock(seed):
    import torch

    torch.set_num_threads(1)
    mdp = hidden_history_mdp()
    # target 0.5 on integer returns is P(G >= 1) with a margin of 1/2 around every decision boundary, so small
    # errors of the learnt quantiles do not flip the indicator
    objective = ProbabilityOfTarget(0.5)
    exact = solve(mdp, objective)
    best_markov = max(objective.evaluate(evaluate_policy(mdp, np.array(pol).reshape(2, 3)))
                      for pol in itertools.product(range(2), repeat=6))
    assert (exact.value, best_markov) == pytest.approx((0.75, 0.5))
    result = train_qrdqn(mdp, objective, total_timesteps=2000, seed=seed)
    assert result.method == "qrdqn"
    # the reported value is the exact law of the learnt policy, recomputed independently here
    again = evaluate_policy(mdp, result.policy, stock=result.initial_stock)
    assert objective.evaluate(again) == pytest.approx(result.value, abs=1e-12)
    assert result.value >= 0.9 * exact.value
    assert result.value > best_markov  # only a stock-reading policy gets there


def test_env_and_argument_checks():
    from gymnasium.utils.env_checker import check_env

    check_env(FiniteMDPEnv(random_mdp(1, 3, 2, 3, 2, 1.0)), skip_render_check=True)
    with pytest.raises(QfinError, match="gamma = 1"):
        train_qrdqn(random_mdp(1, 3, 2, 3, 2, 0.9), ProbabilityOfTarget(0.0), total_timesteps=10)
