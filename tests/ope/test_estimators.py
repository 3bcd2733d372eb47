"""Estimators against exact values: brute-force loops, dynamic programming on a tabular MDP, and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from qfin.errors import DataValidationError
from qfin.ope import (
    ESTIMATORS,
    LoggedData,
    OPESupportWarning,
    dm,
    dr,
    estimate_all,
    fitted_q_evaluation,
    gaussian_density,
    pdis,
    random_tabular_mdp,
    rollout,
    sndr,
    snpdis,
    sntis,
    softmax_policy,
    tis,
)

MDP = random_tabular_mdp(n_states=3, n_actions=2, horizon=4, gamma=0.9, terminal_prob=0.15, reward_noise=0.3,
                         seed=7)
BEHAVIOR = softmax_policy(np.random.default_rng(1).normal(size=(4, 2)))
CANDIDATES = {"near": softmax_policy(np.random.default_rng(2).normal(size=(4, 2)), 2.0),
              "far": softmax_policy(np.random.default_rng(3).normal(size=(4, 2)) * 2.0)}


def _exact_q(data: LoggedData, probs) -> np.ndarray:
    """Exact Q^pi_t(s_it, .) at every logged step, [n, H, A]."""
    q = MDP.q_values(probs)
    return q[np.arange(data.horizon)[None, :], data.state] * data.valid[:, :, None]


def _brute(data: LoggedData, cand: str, q: np.ndarray) -> dict[str, float]:
    """The estimators' textbook formulas as explicit loops over episodes and steps."""
    n, g = data.n_episodes, data.gamma
    tis_, pdis_, dr_ = [], [], []
    w_final, ret = [], []
    steps = []  # per (i, t): (w_{0:t}, w_{0:t-1}, r, q(s,a), v(s))
    for i in range(n):
        w, acc_pd, acc_dr, acc_ret = 1.0, 0.0, 0.0, 0.0
        row = []
        for t in range(data.length[i]):
            a = data.action[i, t]
            w_prev = w
            w *= data.candidate_pscores[cand][i, t] / data.behavior_pscore[i, t]
            r = data.reward[i, t]
            qa = q[i, t, a]
            v = sum(data.candidate_action_dist[cand][i, t, b] * q[i, t, b] for b in range(data.n_actions))
            acc_ret += g ** t * r
            acc_pd += g ** t * w * r
            acc_dr += g ** t * (w * (r - qa) + w_prev * v)
            row.append((w, w_prev, r, qa, v))
        tis_.append(w * acc_ret)
        pdis_.append(acc_pd)
        dr_.append(acc_dr)
        w_final.append(w)
        ret.append(acc_ret)
        steps.append(row)
    sn_tis = sum(wf * gr for wf, gr in zip(w_final, ret, strict=True)) / sum(w_final)
    sn_pdis = sn_dr = 0.0
    for t in range(data.horizon):  # ended episodes keep their weight and add reward 0, Q = V = 0
        col = [row[t] if t < len(row) else (row[-1][0], row[-1][0], 0.0, 0.0, 0.0) for row in steps]
        sw = sum(c[0] for c in col)
        swp = sum(c[1] for c in col)
        sn_pdis += g ** t * sum(c[0] * c[2] for c in col) / sw
        sn_dr += g ** t * (sum(c[0] * (c[2] - c[3]) for c in col) / sw + sum(c[1] * c[4] for c in col) / swp)
    dm_ = [sum(data.candidate_action_dist[cand][i, 0, b] * q[i, 0, b] for b in range(data.n_actions))
           for i in range(n)]
    return {"tis": np.mean(tis_), "pdis": np.mean(pdis_), "dr": np.mean(dr_), "sntis": sn_tis, "snpdis": sn_pdis,
            "sndr": sn_dr, "dm": np.mean(dm_), "se_pdis": np.std(pdis_, ddof=1) / math.sqrt(n),
            "se_dr": np.std(dr_, ddof=1) / math.sqrt(n)}


@pytest.mark.parametrize("cand", ["near", "far"])
def test_against_brute_force_loops(cand):
    data = rollout(MDP, BEHAVIOR, CANDIDATES, 40, seed=11)
    assert (data.length < data.horizon).any()  # terminations, so the padding rules are exercised
    q = _exact_q(data, CANDIDATES[cand]) + 0.3  # any Q: the formulas must hold for a wrong one too
    ref = _brute(data, cand, q)
    assert tis(data, cand).value == pytest.approx(ref["tis"], rel=1e-12)
    assert pdis(data, cand).value == pytest.approx(ref["pdis"], rel=1e-12)
    assert dr(data, cand, q).value == pytest.approx(ref["dr"], rel=1e-12)
    assert dm(data, cand, q).value == pytest.approx(ref["dm"], rel=1e-12)
    assert sntis(data, cand).value == pytest.approx(ref["sntis"], rel=1e-12)
    assert snpdis(data, cand).value == pytest.approx(ref["snpdis"], rel=1e-12)
    assert sndr(data, cand, q).value == pytest.approx(ref["sndr"], rel=1e-12)
    assert pdis(data, cand).stderr == pytest.approx(ref["se_pdis"], rel=1e-12)
    assert dr(data, cand, q).stderr == pytest.approx(ref["se_dr"], rel=1e-12)


def test_final_step_reward_counts():
    n, h = 3, 3
    reward = np.zeros((n, h))
    reward[:, -1] = 2.0  # all the reward arrives on the last step, where done is set
    done = np.zeros((n, h), bool)
    done[:, -1] = True
    ones = np.ones((n, h))
    data = LoggedData(state=np.zeros((n, h), int), action=np.zeros((n, h), int), reward=reward, done=done,
                      behavior_pscore=ones, candidate_pscores={"same": ones}, length=np.full(n, h), gamma=0.5,
                      n_actions=1, candidate_action_dist={"same": np.ones((n, h, 1))})
    for name in ("tis", "pdis", "sntis", "snpdis"):
        assert ESTIMATORS[name](data, "same").value == pytest.approx(2.0 * 0.25)
    assert dr(data, "same", np.zeros((n, h, 1))).value == pytest.approx(0.5)


@pytest.fixture(scope="module")
def simulation():
    """300 logged datasets of 150 episodes each; estimates of the 'near' candidate."""
    truth = MDP.policy_value(CANDIDATES["near"])
    out = {k: [] for k in ("tis", "pdis", "dr", "dr_wrong", "dr_perfect", "sntis", "snpdis", "sndr")}
    ses = {k: [] for k in out}
    for seed in range(300):
        data = rollout(MDP, BEHAVIOR, CANDIDATES, 150, seed=1000 + seed)
        q = _exact_q(data, CANDIDATES["near"])
        results = {"tis": tis(data, "near"), "pdis": pdis(data, "near"), "dr": dr(data, "near", 0.8 * q - 0.2),
                   "dr_perfect": dr(data, "near", q), "sntis": sntis(data, "near"), "snpdis": snpdis(data, "near"),
                   "sndr": sndr(data, "near", 0.8 * q - 0.2)}
        results["dr_wrong"] = results["dr"]
        for k, r in results.items():
            out[k].append(r.value)
            ses[k].append(r.stderr)
    return truth, {k: np.array(v) for k, v in out.items()}, {k: np.array(v) for k, v in ses.items()}


@pytest.mark.parametrize("name", ["tis", "pdis", "dr", "dr_perfect"])
def test_unbiased_within_3_se(simulation, name):
    truth, est, _ = simulation
    m = est[name]
    assert abs(m.mean() - truth) < 3.0 * m.std(ddof=1) / math.sqrt(m.size), (name, m.mean(), truth)


@pytest.mark.parametrize("name", ["tis", "pdis", "dr_perfect", "snpdis", "sndr"])
def test_reported_standard_errors_match_the_spread(simulation, name):
    _, est, se = simulation
    assert np.mean(se[name]) == pytest.approx(est[name].std(ddof=1), rel=0.15)


def test_dr_with_perfect_q_beats_pdis(simulation):
    _, est, _ = simulation
    # 300 datasets: the sampling error of a variance ratio is about 12%, so 0.8 is a real margin
    assert est["dr_perfect"].var() < 0.8 * est["pdis"].var()
    assert est["pdis"].var() < est["tis"].var()


def test_self_normalised_forms_are_consistent():
    truth = MDP.policy_value(CANDIDATES["far"])
    data = rollout(MDP, BEHAVIOR, CANDIDATES, 40_000, seed=5)
    q = _exact_q(data, CANDIDATES["far"]) * 0.5
    for fn in (sntis, snpdis):
        r = fn(data, "far")
        assert abs(r.value - truth) < 3.0 * r.stderr, (fn.__name__, r, truth)
    r = sndr(data, "far", q)
    assert abs(r.value - truth) < 3.0 * r.stderr
    small = [snpdis(rollout(MDP, BEHAVIOR, CANDIDATES, 20, seed=s), "far").value for s in range(60)]
    assert np.mean(np.abs(np.array(small) - truth)) > abs(snpdis(data, "far").value - truth)


def test_fqe_tabular_recovers_q_and_dm():
    data = rollout(MDP, BEHAVIOR, CANDIDATES, 20_000, seed=9)
    truth = MDP.policy_value(CANDIDATES["near"])
    q_hat = fitted_q_evaluation(data, "near")
    q_true = _exact_q(data, CANDIDATES["near"])
    assert np.max(np.abs(q_hat - q_true)[data.valid]) < 0.1
    assert dm(data, "near", q_hat).value == pytest.approx(truth, abs=0.03)
    frame = estimate_all(data)
    assert frame.height == 2 * len(ESTIMATORS)
    row = frame.filter(candidate="near", estimator="dr").row(0, named=True)
    assert abs(row["value"] - truth) < 3.0 * row["stderr"]


def test_continuous_actions_through_gaussian_densities():
    """s_t ~ N(0, 1) iid, a ~ N(theta s, sd^2), r = -(a - s)^2: J = -sum_t gamma^t ((theta - 1)^2 + sd^2)."""
    rng = np.random.default_rng(21)
    n, h, gamma = 20_000, 3, 0.9
    s = rng.standard_normal((n, h, 1))
    a = 0.5 * s + 1.0 * rng.standard_normal((n, h, 1))
    pb = gaussian_density(a, 0.5 * s, 1.0)
    pe = gaussian_density(a, 0.8 * s, 0.7)
    data = LoggedData(state=s, action=a, reward=-((a - s) ** 2)[:, :, 0], done=np.zeros((n, h), bool),
                      behavior_pscore=pb, candidate_pscores={"e": pe}, length=np.full(n, h), gamma=gamma)
    truth = -((0.8 - 1.0) ** 2 + 0.7 ** 2) * sum(gamma ** t for t in range(h))
    for fn in (tis, pdis, snpdis):
        r = fn(data, "e")
        assert abs(r.value - truth) < 3.0 * r.stderr, (fn.__name__, r.value, truth)
    # DR with the exact Q: Q_t(s, a) = -(a - s)^2 + (future value), V_t(s) = E_e[Q_t] = -((0.8 - 1)^2 s^2 + 0.49) + ...
    future = np.array([sum(gamma ** (u - t) * -(0.04 + 0.49) for u in range(t + 1, h)) for t in range(h)])
    q_logged = -((a - s) ** 2)[:, :, 0] + future
    v_state = -(0.04 * s[:, :, 0] ** 2 + 0.49) + future
    r = dr(data, "e", q_logged=q_logged, v_state=v_state)
    assert abs(r.value - truth) < 3.0 * r.stderr and r.stderr < pdis(data, "e").stderr
    assert gaussian_density(np.array([[0.3, -1.0]]), np.array([[0.0, 0.5]]), np.array([0.5, 2.0]))[0] == \
        pytest.approx(norm.pdf(0.3, 0.0, 0.5) * norm.pdf(-1.0, 0.5, 2.0), rel=1e-14)


def test_estimator_input_errors():
    data = rollout(MDP, BEHAVIOR, CANDIDATES, 10, seed=1)
    with pytest.raises(DataValidationError, match="unknown candidate 'nope'"):
        pdis(data, "nope")
    with pytest.raises(DataValidationError, match=r"q_values must have shape \(10, 4, 2\)"):
        dr(data, "near", np.zeros((10, 4, 3)))
    with pytest.raises(DataValidationError, match="need q_values"):
        dr(data, "near")
    with pytest.raises(DataValidationError, match="unknown estimator"):
        estimate_all(data, ["pdis", "wis"])


def test_all_zero_weights_warn_for_self_normalised():
    ones = np.ones((3, 2))
    data = LoggedData(state=np.zeros((3, 2), int), action=np.zeros((3, 2), int), reward=ones,
                      done=np.zeros((3, 2), bool), behavior_pscore=ones * 0.5, candidate_pscores={"e": ones * 0.0},
                      length=np.full(3, 2), n_actions=2)
    assert pdis(data, "e").value == 0.0
    with pytest.warns(OPESupportWarning, match="every logged trajectory has weight 0"):
        assert math.isnan(snpdis(data, "e").value)


def test_linear_fqe_on_vector_states_matches_closed_form():
    """s_0 ~ N(0, 1), s_{t+1} = rho s_t + b_a + noise, r = c_a s + d_a, state-independent policies: Q_t(s, a) is
    linear in [1, s], so linear FQE is exact in the limit, and J = beta_0 from the recursion V_t(s) = alpha_t s +
    beta_t (alpha_t = sum_a pi_a c_a + gamma rho alpha_{t+1}, beta_t = sum_a pi_a (d_a + gamma (alpha_{t+1} b_a +
    beta_{t+1})))."""
    rng = np.random.default_rng(4)
    n, h, gamma, rho = 20_000, 4, 0.9, 0.7
    b, c, d = np.array([0.5, -0.5]), np.array([1.0, -0.5]), np.array([0.0, 0.3])
    pb, pe = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    alpha = beta = 0.0
    for _ in range(h):
        alpha, beta = pe @ c + gamma * rho * alpha, pe @ (d + gamma * (alpha * b + beta))
    truth = beta  # E[s_0] = 0
    s = np.zeros((n, h))
    a = (rng.random((n, h)) < pb[1]).astype(np.int64)
    s[:, 0] = rng.standard_normal(n)
    for t in range(h - 1):
        s[:, t + 1] = rho * s[:, t] + b[a[:, t]] + 0.3 * rng.standard_normal(n)
    reward = c[a] * s + d[a]
    data = LoggedData(state=s[:, :, None], action=a, reward=reward, done=np.zeros((n, h), bool),
                      behavior_pscore=pb[a], candidate_pscores={"e": pe[a]}, length=np.full(n, h), gamma=gamma,
                      n_actions=2, candidate_action_dist={"e": np.broadcast_to(pe, (n, h, 2))})
    q_hat = fitted_q_evaluation(data, "e")
    r_dm, r_dr = dm(data, "e", q_hat), dr(data, "e", q_hat)
    assert abs(r_dm.value - truth) < 0.02
    assert abs(r_dr.value - truth) < 3.0 * r_dr.stderr
    assert r_dr.stderr < pdis(data, "e").stderr
