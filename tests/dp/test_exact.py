"""Exact stock-augmented DP against brute force over all deterministic history-dependent policies, closed
forms, and a problem where the stock matters.

The brute force lives here: from (t, s) the set of return laws reachable by history-dependent policies is the
union over actions of the mixtures over outcomes of independently chosen laws from the successors (each outcome
is a distinct history), enumerated in full with identical laws deduplicated. Objectives are then evaluated on
each law with the definitions written out below (sorted lower tail, P(G >= target), E f(G)).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qfin.dp import (
    CVaR,
    ExpectedUtility,
    FiniteMDP,
    Homeostatic,
    MeanCVaR,
    ProbabilityOfTarget,
    ReturnDistribution,
    Satisficing,
    evaluate_policy,
    solve,
)
from qfin.errors import QfinError
from qfin.risk import lower_tail_mean


def random_mdp(seed, n_states, n_actions, horizon, n_succ, gamma):
    rng = np.random.default_rng(seed)
    p = np.zeros((n_states, n_actions, n_states))
    for s, a in itertools.product(range(n_states), range(n_actions)):
        nxt = rng.choice(n_states, size=n_succ, replace=False)
        w = rng.integers(1, 4, size=n_succ).astype(float)
        p[s, a, nxt] = w / w.sum()
    r = rng.integers(-2, 3, size=(n_states, n_actions, n_states)).astype(float)
    return FiniteMDP(p, r, gamma=gamma, horizon=horizon, initial_state=0)


def brute_force_laws(mdp):
    """All return laws of deterministic history-dependent policies at the initial state (as atom->prob dicts)."""
    g = mdp.gamma
    memo = {}

    def laws(t, s):
        if t == mdp.horizon:
            return [((0.0, 1.0),)]
        if (t, s) in memo:
            return memo[(t, s)]
        out = set()
        for a in range(mdp.n_actions):
            outcomes = [(s2, mdp.rewards[s, a, s2, k], mdp.transitions[s, a, s2] * mdp.reward_probs[s, a, s2, k])
                        for s2 in range(mdp.n_states) for k in range(mdp.rewards.shape[3])
                        if mdp.transitions[s, a, s2] * mdp.reward_probs[s, a, s2, k] > 0]
            for choice in itertools.product(*[laws(t + 1, s2) for s2, _, _ in outcomes]):
                acc = {}
                for (_, r, p), law in zip(outcomes, choice, strict=True):
                    for x, px in law:
                        key = round(r + g * x, 9)
                        acc[key] = acc.get(key, 0.0) + p * px
                out.add(tuple(sorted((x, round(px, 12)) for x, px in acc.items())))
        memo[(t, s)] = sorted(out)
        return memo[(t, s)]

    return laws(0, mdp.initial_state)


def tail_mean(law, alpha):
    """Mean of the worst alpha mass, written out from the sorted atoms."""
    left, total = alpha, 0.0
    for x, p in sorted(law):
        take = min(p, left)
        total += take * x
        left -= take
        if left <= 0:
            break
    return total / alpha


DEFS = {
    "cvar25": (CVaR(0.25), lambda law: tail_mean(law, 0.25)),
    "cvar60": (CVaR(0.6), lambda law: tail_mean(law, 0.6)),
    "target1": (ProbabilityOfTarget(1.0), lambda law: sum(p for x, p in law if x >= 1.0 - 1e-9)),
    "target-1": (ProbabilityOfTarget(-1.0), lambda law: sum(p for x, p in law if x >= -1.0 - 1e-9)),
    "meancvar": (MeanCVaR(0.3, 2.0), lambda law: sum(x * p for x, p in law) + 2.0 * tail_mean(law, 0.3)),
    "exp_utility": (ExpectedUtility(lambda x: -np.exp(-0.7 * x)), lambda law: sum(-np.exp(-0.7 * x) * p
                                                                                      for x, p in law)),
    "homeostatic": (Homeostatic(1.0), lambda law: -sum((x - 1.0) ** 2 * p for x, p in law)),
    "satisficing": (Satisficing(2.0), lambda law: sum(min(x - 2.0, 0.0) * p for x, p in law)),
}

CASES = [  # (seed, states, actions, horizon, successors per (s, a), gamma)
    (1, 2, 2, 3, 2, 1.0), (2, 3, 2, 3, 3, 1.0), (3, 3, 2, 3, 2, 0.5), (4, 2, 2, 4, 2, 1.0),
    (5, 3, 3, 3, 2, 0.5), (6, 3, 2, 4, 2, 1.0),
]


@pytest.mark.parametrize("case", CASES)
def test_solve_equals_brute_force_over_history_dependent_policies(case):
    mdp = random_mdp(*case)
    laws = brute_force_laws(mdp)
    assert len(laws) > 5
    for name, (objective, definition) in DEFS.items():
        brute = max(definition(law) for law in laws)
        result = solve(mdp, objective)
        assert result.value == pytest.approx(brute, abs=1e-9), name
        # The returned law is what the returned policy achieves, and it attains the value.
        assert objective.evaluate(result.distribution) == pytest.approx(brute, abs=1e-9), name
        law = tuple(zip(result.atoms.tolist(), result.probabilities.tolist(), strict=True))
        assert definition(law) == pytest.approx(brute, abs=1e-9), name
        again = evaluate_policy(mdp, result.policy, stock=result.initial_stock)
        np.testing.assert_allclose(again.atoms, result.atoms, atol=1e-12)
        np.testing.assert_allclose(again.probabilities, result.probabilities, atol=1e-12)


@pytest.mark.parametrize("case", CASES[:3])
def test_policy_iteration_equals_value_iteration(case):
    mdp = random_mdp(*case)
    for objective in (CVaR(0.25), ProbabilityOfTarget(1.0), MeanCVaR(0.3, 2.0)):
        vi = solve(mdp, objective)
        pi = solve(mdp, objective, algorithm="policy_iteration")
        assert pi.value == pytest.approx(vi.value, abs=1e-12)


def test_linear_utility_is_risk_neutral_value_iteration():
    mdp = random_mdp(11, 4, 3, 5, 3, 0.9)
    p, r = mdp.transitions, mdp.rewards[..., 0]
    v = np.zeros(mdp.n_states)
    for _ in range(mdp.horizon):  # classical Bellman recursion on expected values
        v = np.max(np.einsum("ijk,ijk->ij", p, r + mdp.gamma * v[None, None, :]), axis=1)
    assert solve(mdp, ExpectedUtility(lambda x: x)).value == pytest.approx(v[0], abs=1e-9)
    assert solve(mdp, CVaR(1.0)).value == pytest.approx(v[0], abs=1e-9)  # CVaR at alpha = 1 is the mean


def hidden_history_mdp():
    """A +-1 coin that leads to the SAME state, then a choice between cash (0) and a +-2 gamble."""
    p = np.zeros((3, 2, 3))
    p[0, :, 1] = 1.0
    p[1, 0, 2] = 1.0
    p[1, 1, 2] = 1.0
    p[2, :, 2] = 1.0
    # rewards are random on a single transition, so the state does not reveal the coin: use a reward law
    rew = np.zeros((3, 2, 3, 2))
    prob = np.zeros((3, 2, 3, 2))
    prob[..., 0] = 1.0
    rew[0, :, 1] = [1.0, -1.0]
    prob[0, :, 1] = [0.5, 0.5]
    rew[1, 1, 2] = [2.0, -2.0]
    prob[1, 1, 2] = [0.5, 0.5]
    return FiniteMDP(p, rew, gamma=1.0, horizon=2, initial_state=0, reward_probs=prob)


def test_stock_policy_strictly_beats_every_markov_policy():
    mdp = hidden_history_mdp()
    objective = ProbabilityOfTarget(1.0)
    best_markov = max(objective.evaluate(evaluate_policy(mdp, np.array(pol).reshape(2, 3)))
                      for pol in itertools.product(range(2), repeat=6))
    result = solve(mdp, objective)
    # Markov: cash gives P = 1/2, gambling after either coin gives 1/2. With the stock: cash after +1 and
    # gamble after -1 gives 1/2 + 1/4.
    assert best_markov == pytest.approx(0.5, abs=1e-12)
    assert max(sum(p for x, p in law if x >= 1.0) for law in brute_force_laws(mdp)) == pytest.approx(0.75)
    assert result.value == pytest.approx(0.75, abs=1e-12)
    assert result.value - best_markov == pytest.approx(0.25, abs=1e-12)
    # The policy reads the stock: c_1 = (c0 + r_0)/gamma with c0 = -target.
    assert result.policy(1, 1, -1.0 + 1.0) == 0
    assert result.policy(1, 1, -1.0 - 1.0) == 1
    # a stock no path reaches is solved on demand: at c = -1.5 only the gamble can still reach 0
    assert result.policy(1, 1, -1.5) == 1
    assert result.policy(1, 1, 0.5) == 0
    with pytest.raises(QfinError, match="t must be"):
        result.policy(2, 1, 0.0)


def test_the_return_laws_cvar_is_qfin_risks_lower_tail_mean():
    """One CVaR: ReturnDistribution.cvar is qfin.risk.lower_tail_mean with atom probabilities; on equal weights
    it is the sample form, and on a law with repeated atoms it is the sample form of the expanded sample."""
    x = np.random.default_rng(3).normal(size=40)
    for alpha in (0.05, 0.1, 0.37, 1.0):
        assert lower_tail_mean(x, alpha, probabilities=np.full(40, 1 / 40)) == pytest.approx(lower_tail_mean(x, alpha),
                                                                                           abs=1e-12)
    law = ReturnDistribution.from_atoms(np.array([3.0, -1.0, 0.5]), np.array([0.5, 0.25, 0.25]))
    expanded = np.array([3.0, 3.0, -1.0, 0.5])  # the same law as 4 equally likely samples
    for alpha in (0.1, 0.25, 0.3, 0.6, 1.0):
        assert law.cvar(alpha) == pytest.approx(lower_tail_mean(expanded, alpha), abs=1e-15)
    with pytest.raises(QfinError, match="summing to 1"):
        lower_tail_mean(x, 0.1, probabilities=np.full(40, 0.1))


def test_bad_models_and_objectives_are_refused():
    p = np.full((2, 1, 2), 0.5)
    r = np.zeros((2, 1, 2))
    with pytest.raises(QfinError, match="sum to 1"):
        FiniteMDP(np.full((2, 1, 2), 0.6), r, 1.0, 2, 0)
    with pytest.raises(QfinError, match="non-negative"):
        FiniteMDP(np.array([[[1.5, -0.5]], [[0.5, 0.5]]]), r, 1.0, 2, 0)
    with pytest.raises(QfinError, match="match transitions"):
        FiniteMDP(p, np.zeros((2, 2, 2)), 1.0, 2, 0)
    with pytest.raises(QfinError, match=r"\[S, A, S\]"):
        FiniteMDP(np.full((2, 1, 3), 1 / 3), np.zeros((2, 1, 3)), 1.0, 2, 0)
    with pytest.raises(QfinError, match="gamma"):
        FiniteMDP(p, r, 1.5, 2, 0)
    with pytest.raises(QfinError, match="infinite horizon"):
        FiniteMDP(p, r, 1.0, None, 0)
    with pytest.raises(QfinError, match="initial_state"):
        FiniteMDP(p, r, 1.0, 2, 5)
    with pytest.raises(QfinError, match="reward_probs"):
        FiniteMDP(p, np.zeros((2, 1, 2, 2)), 1.0, 2, 0)
    with pytest.raises(QfinError, match="alpha"):
        CVaR(0.0)
    mdp = FiniteMDP(p, r, 1.0, 2, 0)
    with pytest.raises(QfinError, match="not in that class"):
        solve(mdp, lambda atoms, probs: np.var(atoms))
    infinite = FiniteMDP(p, r, 0.9, None, 0)
    with pytest.raises(QfinError, match="infinite horizon"):
        solve(infinite, ExpectedUtility(lambda x: -np.exp(-x)))
    assert solve(infinite, CVaR(0.5)).value == pytest.approx(0.0)


def test_infinite_horizon_is_truncated_with_a_bounded_tail():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(2), size=(2, 2))
    r = rng.integers(-1, 2, size=(2, 2, 2)).astype(float)
    mdp = FiniteMDP(p, r, gamma=0.5, horizon=None, initial_state=0)
    tol = 1e-3
    h = mdp.effective_horizon(tol)
    assert 0.5 ** h * 1.0 / 0.5 <= tol < 0.5 ** (h - 1) * 1.0 / 0.5
    v = np.zeros(2)
    for _ in range(200):
        v = np.max(np.einsum("ijk,ijk->ij", p, r + 0.5 * v[None, None, :]), axis=1)
    assert solve(mdp, ExpectedUtility(lambda x: x), truncation_tol=tol).value == pytest.approx(v[0], abs=tol)


@pytest.mark.solver  # DP through dot-product reductions, against a recorded pymdptoolbox figure
def test_risk_neutral_value_matches_recorded_pymdptoolbox_figure():
    """pymdptoolbox 4.0b3 (numpy 2.4.6, scipy 1.17.1), ``FiniteHorizon(P[a, s, s'], R[s, a], 1.0, 8)`` on the MDP
    below (bench/bench_dp.py's random_mdp(64, 4, 8)), run once in a scratch venv: V[0, 0] = 6.2056766498492895."""
    rng = np.random.default_rng(0)
    p = np.zeros((64, 4, 64))
    for s in range(64):
        for a in range(4):
            nxt = rng.choice(64, size=2, replace=False)
            p[s, a, nxt] = rng.dirichlet(np.ones(2))
    r = rng.integers(-1, 2, size=(64, 4, 64)).astype(float)
    mdp = FiniteMDP(p, r, gamma=1.0, horizon=8, initial_state=0)
    assert solve(mdp, ExpectedUtility(lambda x: x)).value == pytest.approx(6.2056766498492895, abs=1e-12)


# Rewards that are not exact in binary: r1 then r2 on a deterministic chain s0 -> s1 -> s2, target the exact
# decimal sum r1 + r2 (so P(G >= target) = 1) and the sum plus 0.001 (so 0). Brute force in exact rationals.
_DECIMAL_REWARDS = ["0.1", "0.2", "0.3", "0.7", "1.1", "-0.6"]
_DECIMAL_CASES = list(itertools.product(_DECIMAL_REWARDS, _DECIMAL_REWARDS))  # 36 cases


def _chain(r1, r2):
    p = np.zeros((3, 2, 3))
    p[0, :, 1] = p[1, :, 2] = p[2, :, 2] = 1.0
    r = np.zeros((3, 2, 3))
    r[0, 0, 1], r[1, 0, 2] = float(r1), float(r2)  # action 0 collects the rewards
    r[0, 1, 1], r[1, 1, 2] = float(r1) - 1.0, float(r2) - 1.0  # action 1 falls short by 1 per step
    return FiniteMDP(p, r, gamma=1.0, horizon=2)


@pytest.mark.parametrize("method", ["exact", "quantile", "categorical"])
def test_probability_of_target_counts_returns_landing_on_the_target(method):
    from fractions import Fraction
    assert len(_DECIMAL_CASES) == 36
    for r1, r2 in _DECIMAL_CASES:
        exact_sum = Fraction(r1) + Fraction(r2)
        for target in (exact_sum, exact_sum + Fraction(1, 1000)):
            # every deterministic policy (a0, a1): G = r1 - a0 + r2 - a1, exactly
            brute = max(float(Fraction(r1) - a0 + Fraction(r2) - a1 >= target)
                        for a0, a1 in itertools.product((0, 1), repeat=2))
            objective = ProbabilityOfTarget(float(target))
            result = solve(_chain(r1, r2), objective, method=method)
            assert result.value == brute, (r1, r2, float(target), method)
            assert objective.evaluate(result.distribution) == brute, (r1, r2, float(target), method)


def test_probability_of_target_tolerance_is_stated_and_strict_on_request():
    mdp = _chain("0.1", "0.1")
    assert solve(mdp, ProbabilityOfTarget(0.2)).value == 1.0
    assert solve(mdp, ProbabilityOfTarget(0.2 + 2e-6)).value == 0.0  # beyond the 1e-6 tolerance
    assert solve(mdp, ProbabilityOfTarget(0.2, atol=0.0)).value == 0.0  # 0.1 + 0.1 - 0.2 < 0 in floats
    with pytest.raises(QfinError, match="atol must be >= 0"):
        ProbabilityOfTarget(0.2, atol=-1.0)
