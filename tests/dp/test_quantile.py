"""The quantile representation: its reported value is the exact (or Monte Carlo) value of the policy it found,
which can never exceed the exact optimum, while its own quantile estimate may (it is optimistic)."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.dp import (
    CVaR,
    MeanCVaR,
    ProbabilityOfTarget,
    evaluate_policy,
    problems,
    solve,
)
from qfin.errors import QfinError
from tests.dp.test_exact import random_mdp

CASES = [
    (problems.betting(max_wealth=8, initial_wealth=3, win_prob=0.4, horizon=4), ProbabilityOfTarget(5.0)),
    (problems.wealth_process(horizon=4), MeanCVaR(0.1, 0.25)),
    (problems.wealth_process(horizon=4), CVaR(0.2)),
    (random_mdp(3, 3, 2, 4, 2, 0.9), CVaR(0.3)),
    (random_mdp(5, 3, 3, 3, 2, 1.0), ProbabilityOfTarget(1.0)),
]


@pytest.mark.parametrize("mdp,objective", CASES)
def test_quantile_value_is_the_policys_exact_value_and_not_above_the_optimum(mdp, objective):
    exact = solve(mdp, objective)
    approx = solve(mdp, objective, method="quantile", n_quantiles=16, n_stocks=41)
    assert approx.value <= exact.value + 1e-12
    again = evaluate_policy(mdp, approx.policy, stock=approx.initial_stock)  # independent re-evaluation
    assert objective.evaluate(again) == pytest.approx(approx.value, abs=1e-12)
    # with a finer representation it gets within reach of the optimum on these small problems
    fine = solve(mdp, objective, method="quantile", n_quantiles=64, n_stocks=201)
    assert exact.value - 0.25 * abs(exact.value) - 0.1 <= fine.value <= exact.value + 1e-12


def test_monte_carlo_evaluation_is_seeded_and_close_to_exact():
    mdp, objective = problems.wealth_process(horizon=4), MeanCVaR(0.1, 0.25)
    ex = solve(mdp, objective, method="quantile", n_quantiles=16, n_stocks=41)
    mc1 = solve(mdp, objective, method="quantile", n_quantiles=16, n_stocks=41, evaluation="monte_carlo",
                n_eval_paths=40_000, seed=1)
    mc2 = solve(mdp, objective, method="quantile", n_quantiles=16, n_stocks=41, evaluation="monte_carlo",
                n_eval_paths=40_000, seed=1)
    assert mc1.value == mc2.value
    assert mc1.value == pytest.approx(ex.value, abs=1.0)  # sd of the mean-CVaR estimate is ~0.3 here


def test_quantile_arguments_are_checked():
    mdp = random_mdp(1, 2, 2, 2, 2, 1.0)
    with pytest.raises(QfinError, match="n_quantiles"):
        solve(mdp, CVaR(0.5), method="quantile", n_quantiles=0)
    with pytest.raises(QfinError, match="evaluation"):
        solve(mdp, CVaR(0.5), method="quantile", evaluation="guess")
    with pytest.raises(QfinError, match="method"):
        solve(mdp, CVaR(0.5), method="particles")
    assert np.isfinite(solve(mdp, CVaR(0.5), method="quantile").value)
