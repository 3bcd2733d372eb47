"""The finance problems against closed forms, brute force, and the Chow-style CVaR decomposition pitfall."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.dp import (
    CVaR,
    ExpectedUtility,
    FiniteMDP,
    MeanCVaR,
    ProbabilityOfTarget,
    evaluate_policy,
    problems,
    solve,
)
from qfin.errors import QfinError
from tests.dp.test_exact import brute_force_laws, tail_mean


def bold_play(x, p):
    """Dubins & Savage: P(reach 1 from x) under bold play in subfair red-and-black (x dyadic)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return p * bold_play(2 * x, p) if x <= 0.5 else p + (1 - p) * bold_play(2 * x - 1, p)


@pytest.mark.parametrize("w0,p,horizon", [(3, 0.4, 3), (5, 0.3, 3), (1, 0.45, 3), (6, 0.2, 2), (3, 0.4, 5)])
def test_betting_target_probability_is_bold_play(w0, p, horizon):
    # wealth in eighths: bold play from k/8 ends within (dyadic depth of k/8) bets, and no strategy beats it in
    # a subfair game however long it runs, so the finite-horizon optimum is the bold-play probability
    mdp = problems.betting(max_wealth=8, initial_wealth=w0, win_prob=p, horizon=horizon)
    result = solve(mdp, ProbabilityOfTarget(8 - w0))
    assert result.value == pytest.approx(bold_play(w0 / 8, p), abs=1e-12)
    # bold play is optimal but not the only optimum (from 3/8, staking 1 first ties), so only the value is checked
    assert result.distribution.prob_at_least(8 - w0) == pytest.approx(result.value, abs=1e-12)


def test_betting_with_few_stakes_matches_brute_force():
    mdp = problems.betting(max_wealth=6, initial_wealth=3, win_prob=0.45, horizon=3, stakes=[0, 1, 3])
    laws = brute_force_laws(mdp)
    for objective, definition in [(CVaR(0.3), lambda law: tail_mean(law, 0.3)),
                                  (ProbabilityOfTarget(1.0), lambda law: sum(p for x, p in law if x >= 1.0))]:
        assert solve(mdp, objective).value == pytest.approx(max(map(definition, laws)), abs=1e-9)


def test_wealth_process_mean_cvar_matches_brute_force():
    mdp = problems.wealth_process(initial_wealth=20.0, wealth_step=2.0, max_wealth=40.0, fractions=(0.0, 0.5, 1.0),
                                  horizon=3)
    laws = brute_force_laws(mdp)
    objective = MeanCVaR(0.2, 0.5)
    brute = max(sum(x * p for x, p in law) + 0.5 * tail_mean(law, 0.2) for law in laws)
    result = solve(mdp, objective)
    assert result.value == pytest.approx(brute, abs=1e-9)
    neutral = solve(mdp, ExpectedUtility(lambda x: x))
    # the mean-CVaR policy gives up mean for a better tail than the risk-neutral one
    assert result.distribution.mean() <= neutral.value + 1e-12
    assert result.distribution.cvar(0.2) >= neutral.distribution.cvar(0.2) - 1e-12


def test_liquidation_risk_neutral_is_even_split_and_target_beats_it():
    mdp, _ = problems.liquidation(inventory=4, horizon=3, start_price=10.0, tick=0.5, impact=0.25)
    # martingale price: E[revenue] = 10 * 4 - 0.25 * min sum n_k^2 over integer splits of 4 in 3 = (1, 1, 2)
    neutral = solve(mdp, ExpectedUtility(lambda x: x))
    assert neutral.value == pytest.approx(40.0 - 0.25 * 6, abs=1e-12)
    laws = brute_force_laws(mdp)
    for target in (37.0, 39.5):
        result = solve(mdp, ProbabilityOfTarget(target))
        assert result.value == pytest.approx(max(sum(p for x, p in law if x >= target) for law in laws), abs=1e-12)
        # selling fast to lock in the price (37) or waiting for a rise (39.5) beats the even split by 1/4
        assert result.value - neutral.distribution.prob_at_least(target) == pytest.approx(0.25, abs=1e-12)
    markov = evaluate_policy(mdp, np.zeros(mdp.n_states, dtype=np.int64))  # sell nothing until forced
    assert ProbabilityOfTarget(target).evaluate(markov) <= result.value


def test_problem_arguments_are_checked():
    with pytest.raises(QfinError, match="initial_wealth"):
        problems.betting(max_wealth=4, initial_wealth=5)
    with pytest.raises(QfinError, match="no arbitrage"):
        problems.wealth_process(up=0.1, down=0.2)
    with pytest.raises(QfinError, match="win_prob"):
        problems.betting(win_prob=1.5)


def chow_mdp():
    """s0 splits 50/50 into s1 and s2 (reward 0). At s1: action 0 pays -2 surely, action 1 pays +-3 (50/50).
    At s2 both actions pay +-1 (50/50). Horizon 2, CVaR at alpha = 1/2."""
    p = np.zeros((4, 2, 4))
    p[0, :, 1] = p[0, :, 2] = 0.5
    p[1:, :, 3] = 1.0
    rew = np.zeros((4, 2, 4, 2))
    prob = np.zeros((4, 2, 4, 2))
    prob[..., 0] = 1.0
    rew[1, 0, 3] = [-2.0, -2.0]
    rew[1, 1, 3] = [3.0, -3.0]
    rew[2, :, 3] = [1.0, -1.0]
    prob[1, :, 3] = prob[2, :, 3] = [0.5, 0.5]
    return FiniteMDP(p, rew, gamma=1.0, horizon=2, initial_state=0, reward_probs=prob)


def test_chow_decomposition_overestimates_and_qfin_gets_the_true_cvar_optimum():
    """The pitfall of Hau et al. (2023): the risk-level (dual) CVaR decomposition of Chow et al. (2015),
    V(s0, a) = min over xi (E xi = 1, 0 <= a xi <= 1) of sum_s' P(s') xi(s') max_act CVaR_{a xi(s')}(s', act),
    lets each risk level at s1 pick its own action, which no policy can do, so its value is above the true
    optimum. Same structure as their counterexample (a split, then a choice whose CVaR ranking flips with the
    risk level); the numbers are ours."""
    alpha = 0.5

    def cvar(atoms, beta):
        return 0.0 if beta <= 0 else tail_mean(tuple((x, 1 / len(atoms)) for x in atoms), beta)

    # xi(s1) = 2 b / 1, b = alpha xi(s1) in [0, 1]; a dense grid of b holds the breakpoints 0.5 and 0.6
    b = np.linspace(0.0, 1.0, 10001)
    chow = min(0.5 / alpha * (max(bb * cvar([-2, -2], bb), bb * cvar([3, -3], bb))
                              + (1 - bb) * cvar([1, -1], 1 - bb)) for bb in b)
    assert chow == pytest.approx(-1.6, abs=1e-9)
    mdp = chow_mdp()
    truth = max(tail_mean(law, alpha) for law in brute_force_laws(mdp))
    assert truth == pytest.approx(-2.0, abs=1e-12)
    result = solve(mdp, CVaR(alpha))
    assert result.value == pytest.approx(truth, abs=1e-12)
    assert chow - result.value == pytest.approx(0.4, abs=1e-9)  # the decomposition's overestimate
