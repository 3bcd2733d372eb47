"""The categorical representation (Cramér projection onto a grid of atoms, Rowland et al. 2018).

References used here, independent of qfin.dp's categorical code: the Cramér projection in closed form (on each
grid cell the projected CDF is the cell average of the target CDF, since Pi_C is the L2 projection of CDFs,
Rowland et al. 2018), the exact stock-augmented solver (itself checked against brute force in test_exact.py) and
brute force directly, and plain expected-value backward induction written out below for the risk-neutral case.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qfin.dp import (
    CVaR,
    ExpectedUtility,
    FiniteMDP,
    MeanCVaR,
    ProbabilityOfTarget,
    achievable_returns,
    categorical_projection,
    evaluate_policy,
    problems,
    return_to_come_range,
    solve,
)
from qfin.errors import QfinError
from tests.dp.test_exact import brute_force_laws, random_mdp


def cramer_projection_reference(atoms, probs, grid):
    """Pi_C from its definition as the L2 (Cramér) projection: the projected CDF on [z_i, z_{i+1}) is the mean of
    the target CDF F over that cell, F being a step function of the (normalised) atoms."""
    atoms, probs, grid = map(np.asarray, (atoms, probs, grid))
    cell_cdf = []
    for lo, hi in itertools.pairwise(grid):
        # integral over [lo, hi) of F = sum_m p_m * (length of [max(x_m, lo), hi))
        covered = np.clip(hi - np.maximum(atoms, lo), 0.0, hi - lo)
        cell_cdf.append(np.dot(probs, covered) / (hi - lo))
    cdf = np.concatenate(([0.0], cell_cdf, [probs.sum()]))
    return np.diff(cdf)


def bellman_expected_value(mdp, horizon):
    """max over policies of E[G] by backward induction on expected rewards, V_T = 0."""
    p, r = mdp.transitions, np.einsum("sakj,sakj->sak", mdp.rewards, mdp.reward_probs)
    v = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v = (p * (r + mdp.gamma * v[None, None, :])).sum(axis=2).max(axis=1)
    return float(v[mdp.initial_state])


def test_projection_closed_form_examples():
    grid = [0.0, 1.0, 2.0]
    np.testing.assert_allclose(categorical_projection([0.25], [1.0], grid), [0.75, 0.25, 0.0], atol=1e-15)
    np.testing.assert_allclose(categorical_projection([1.5, 1.0], [0.5, 0.5], grid), [0.0, 0.75, 0.25],
                               atol=1e-15)
    # outside the grid: all mass on the nearer end atom
    np.testing.assert_allclose(categorical_projection([-3.0, 7.0], [0.25, 0.75], grid), [0.25, 0.0, 0.75],
                               atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_projection_keeps_mass_and_mean_and_is_the_cramer_projection(seed):
    rng = np.random.default_rng(seed)
    grid = np.sort(rng.uniform(-5.0, 5.0, size=rng.integers(2, 12)))   # uneven spacing on purpose
    atoms = rng.uniform(grid[0], grid[-1], size=(3, 40))
    probs = rng.dirichlet(np.ones(40), size=3) * np.array([[1.0], [0.5], [2.0]])  # rows of any total mass
    out = categorical_projection(atoms, probs, grid)
    assert out.shape == (3, grid.size)
    assert np.all(out >= 0.0)
    np.testing.assert_allclose(out.sum(axis=1), probs.sum(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out @ grid, (atoms * probs).sum(axis=1), rtol=0, atol=1e-12)
    for row in range(3):
        ref = cramer_projection_reference(atoms[row], probs[row], grid)
        np.testing.assert_allclose(out[row], ref, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(categorical_projection(atoms[row], probs[row], grid), out[row])


def test_projection_is_exact_for_atoms_on_the_grid():
    grid = np.linspace(-2.0, 3.0, 11)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, grid.size, size=30)  # repeats and the two end atoms included
    pick[:2] = [0, grid.size - 1]
    probs = rng.dirichlet(np.ones(30))
    out = categorical_projection(grid[pick], probs, grid)
    np.testing.assert_allclose(out, np.bincount(pick, weights=probs, minlength=grid.size), rtol=0, atol=1e-15)


def test_projection_rejects_bad_input():
    with pytest.raises(QfinError, match="strictly increasing"):
        categorical_projection([0.5], [1.0], [0.0, 1.0, 1.0])
    with pytest.raises(QfinError, match="strictly increasing"):
        categorical_projection([0.5], [1.0], [0.0, np.nan])
    with pytest.raises(QfinError, match="atoms must be finite"):
        categorical_projection([np.nan], [1.0], [0.0, 1.0])
    with pytest.raises(QfinError, match="non-negative"):
        categorical_projection([0.5, 0.2], [1.5, -0.5], [0.0, 1.0])
    with pytest.raises(QfinError, match="same shape"):
        categorical_projection([0.5, 0.2], [1.0], [0.0, 1.0])


CASES = [
    (problems.wealth_process(horizon=4), MeanCVaR(0.1, 0.25)),
    (random_mdp(3, 3, 2, 4, 2, 0.9), CVaR(0.3)),
    (random_mdp(5, 3, 3, 3, 2, 1.0), ProbabilityOfTarget(1.0)),
    (random_mdp(7, 4, 3, 4, 3, 1.0), CVaR(0.25)),
    (random_mdp(11, 4, 2, 5, 2, 0.95), CVaR(0.1)),
]


@pytest.mark.parametrize("mdp,objective", CASES)
def test_categorical_value_is_the_policys_exact_value_and_not_above_the_optimum(mdp, objective):
    exact = solve(mdp, objective)
    for k in (2, 5, 17):
        approx = solve(mdp, objective, method="categorical", n_atoms=k)
        assert approx.method == "categorical"
        assert approx.value <= exact.value + 1e-12
        again = evaluate_policy(mdp, approx.policy, stock=approx.initial_stock)  # independent re-evaluation
        assert objective.evaluate(again) == pytest.approx(approx.value, abs=1e-12)


def test_categorical_reaches_the_brute_force_optimum():
    mdp, objective = random_mdp(5, 3, 3, 3, 2, 1.0), ProbabilityOfTarget(1.0)
    best = max(sum(p for x, p in law if x >= 1.0 - 1e-9) for law in brute_force_laws(mdp))
    assert solve(mdp, objective, method="categorical", n_atoms=2).value < best - 0.05  # too coarse
    assert solve(mdp, objective, method="categorical", n_atoms=5).value == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("mdp,objective", CASES[1:] + [CASES[0]])
def test_categorical_converges_to_the_exact_optimum_as_the_grid_grows(mdp, objective):
    exact = solve(mdp, objective).value
    coarse, fine = (solve(mdp, objective, method="categorical", n_atoms=k) for k in (9, 129))
    # the policy found on 129 atoms is optimal (measured: also from 17 atoms on, except the wealth process)
    assert fine.value == pytest.approx(exact, abs=1e-9)
    if isinstance(objective, ProbabilityOfTarget):
        # A step utility: a return landing exactly on the target between two atoms has its mass split across
        # the step at any K, so the model's own probability need not converge (here 0.75 against 0.875)
        # although the policy is optimal.
        return
    # For Lipschitz utilities (CVaR, mean-CVaR) the model's own estimate closes in: measured errors at 129
    # atoms 0.0096 to 0.24 (wealth process, returns spanning [-400, 400]); at 9 atoms 0.13 to 3.2
    assert abs(fine.approx_value - exact) < 0.03 * (1.0 + abs(exact))
    assert abs(fine.approx_value - exact) < abs(coarse.approx_value - exact)


@pytest.mark.parametrize("mdp", [random_mdp(3, 3, 2, 4, 2, 0.9), random_mdp(7, 4, 3, 4, 3, 1.0),
                                 problems.wealth_process(horizon=4), problems.liquidation(horizon=3)[0]])
def test_risk_neutral_matches_the_expected_value_when_the_grid_covers_the_returns(mdp):
    # Without bounds each step's grid spans the returns still reachable, so Pi_C never clips and keeps the
    # mean: even 2 atoms give the optimal policy, and the model's own mean is the optimum.
    reference = bellman_expected_value(mdp, mdp.horizon)
    for k in (2, 11):
        res = solve(mdp, ExpectedUtility(lambda x: x), method="categorical", n_atoms=k)
        assert res.value == pytest.approx(reference, abs=1e-9)
        assert res.approx_value == pytest.approx(reference, abs=1e-9)


def test_risk_neutral_with_user_bounds_and_on_an_infinite_horizon():
    mdp = random_mdp(7, 4, 3, 4, 3, 1.0)  # integer rewards in [-2, 2]: G in [-8, 8]
    reference = bellman_expected_value(mdp, 4)
    neutral = ExpectedUtility(lambda x: x)
    # one grid for all steps, wide enough that the spread of at most one spacing (1.25) per step stays inside
    wide = solve(mdp, neutral, method="categorical", n_atoms=33, v_min=-20.0, v_max=20.0)
    assert wide.value == pytest.approx(reference, abs=1e-9)
    assert wide.approx_value == pytest.approx(reference, abs=1e-9)
    # a grid that would clip the returns (and lose the mean) is refused, naming the range needed
    with pytest.raises(QfinError, match=r"grid \[v_min, v_max\] = \[-1, 1\] does not cover the returns still to "
                                        r"come, which reach \[-8, 8\]; set v_min <= -8 and v_max >= 8"):
        solve(mdp, neutral, method="categorical", n_atoms=5, v_min=-1.0, v_max=1.0)
    # infinite horizon (truncated where the tail is below 1e-6): the model's mean is the truncated optimum
    inf = FiniteMDP(mdp.transitions, mdp.rewards[..., 0], gamma=0.8, horizon=None)
    res = solve(inf, neutral, method="categorical", n_atoms=11, evaluation="monte_carlo", n_eval_paths=2_000)
    assert res.approx_value == pytest.approx(bellman_expected_value(inf, res.horizon), abs=1e-9)


def test_monte_carlo_evaluation_is_seeded_and_close_to_exact():
    mdp, objective = problems.wealth_process(horizon=4), MeanCVaR(0.1, 0.25)
    kw = {"method": "categorical", "n_atoms": 33}
    ex = solve(mdp, objective, **kw)
    mc1 = solve(mdp, objective, evaluation="monte_carlo", n_eval_paths=40_000, seed=1, **kw)
    mc2 = solve(mdp, objective, evaluation="monte_carlo", n_eval_paths=40_000, seed=1, **kw)
    assert mc1.value == mc2.value
    assert mc1.initial_stock == ex.initial_stock
    assert mc1.value == pytest.approx(ex.value, abs=1.0)  # sd of the mean-CVaR estimate is ~0.3 here


@pytest.mark.parametrize("kwargs,match", [
    ({"n_atoms": 1}, "n_atoms must be an integer >= 2"),
    ({"n_atoms": 2.5}, "n_atoms must be an integer >= 2"),
    ({"n_atoms": True}, "n_atoms must be an integer >= 2"),
    ({"v_min": 3.0, "v_max": -3.0}, "v_min must be below v_max"),
    ({"v_min": 1.0, "v_max": 1.0}, "v_min must be below v_max"),
    ({"v_min": 30.0, "v_max": 45.0}, "must contain 0"),
    ({"v_min": float("nan"), "v_max": 1.0}, "must be finite"),
    ({"v_min": -1.0, "v_max": float("inf")}, "must be finite"),
    ({"v_min": -1.0}, "both v_min and v_max"),
    ({"v_min": "low", "v_max": 1.0}, "must be numbers"),
    ({"n_stocks": 1}, "n_stocks"),
    ({"evaluation": "guess"}, "evaluation"),
])
def test_categorical_arguments_are_checked(kwargs, match):
    mdp = random_mdp(1, 2, 2, 2, 2, 1.0)
    with pytest.raises(QfinError, match=match):
        solve(mdp, CVaR(0.5), method="categorical", **kwargs)


def test_unknown_method_lists_the_accepted_ones():
    with pytest.raises(QfinError, match="'exact', 'quantile' or 'categorical'"):
        solve(random_mdp(1, 2, 2, 2, 2, 1.0), CVaR(0.5), method="particles")


def test_a_grid_that_does_not_cover_the_returns_is_refused_before_it_reports_a_wrong_optimum():
    # Before the check, seed 2 on [-1, 1] reported value 2.80 (model's own 0.82) under the risk-neutral 4.09.
    mdp = random_mdp(2, 4, 3, 4, 3, 1.0)
    neutral = ExpectedUtility(lambda x: x)
    lo, hi = return_to_come_range(mdp, 4)
    support = achievable_returns(mdp, 4)
    assert lo <= support[0] and hi >= support[-1]
    with pytest.raises(QfinError, match=f"which reach \\[{lo:g}, {hi:g}\\]"):
        solve(mdp, neutral, method="categorical", n_atoms=5, v_min=-1.0, v_max=1.0)
    covered = solve(mdp, neutral, method="categorical", n_atoms=4 * int(hi - lo) + 1, v_min=lo, v_max=hi)
    assert covered.value == pytest.approx(solve(mdp, neutral).value, abs=1e-9)


def test_return_to_come_range_counts_intermediate_steps_against_brute_force():
    # rewards +5 then -5: G is always 0, but -5 is still to come after the first step, so a grid must reach it
    p = np.zeros((3, 1, 3))
    p[0, 0, 1] = p[1, 0, 2] = p[2, 0, 2] = 1.0
    r = np.zeros((3, 1, 3))
    r[0, 0, 1], r[1, 0, 2] = 5.0, -5.0
    mdp = FiniteMDP(p, r, gamma=1.0, horizon=2)
    assert achievable_returns(mdp, 2).tolist() == [0.0]
    assert return_to_come_range(mdp, 2) == (-5.0, 0.0)
    with pytest.raises(QfinError, match=r"which reach \[-5, 0\]"):
        solve(mdp, ExpectedUtility(lambda x: x), method="categorical", v_min=-1.0, v_max=1.0)
    # random MDPs: the range is the min/max over reachable (t, s) of the exact return-to-come support
    for seed in (1, 3, 5):
        mdp = random_mdp(seed, 3, 2, 3, 2, 0.5)
        brute_lo, brute_hi = 0.0, 0.0
        for t in range(3):
            for s in range(3):
                if not _reachable(mdp, t, s):
                    continue
                sub = FiniteMDP(mdp.transitions, mdp.rewards[..., 0], gamma=0.5, horizon=3 - t, initial_state=s)
                g = achievable_returns(sub, 3 - t)
                brute_lo, brute_hi = min(brute_lo, g[0]), max(brute_hi, g[-1])
        assert return_to_come_range(mdp, 3) == pytest.approx((brute_lo, brute_hi), abs=1e-9)


def _reachable(mdp, t, s):
    front = {mdp.initial_state}
    for _ in range(t):
        front = {int(j) for i in front for j in np.flatnonzero(mdp.transitions[i].sum(axis=0) > 0)}
    return s in front
