"""DM and DR return CDFs (FQE on indicator targets; Huang et al. 2022's doubly robust CDF) on a stateful tabular
testbed with known return laws: two states, three actions, two steps, discount 0.9, each (state, action) a known
discrete reward law and transition row. The exact law of G and the exact Q_h(s, a; u) are enumerated here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.ope import LoggedData
from qfin.ope._cdf_models import dm_cdf, dr_cdf, dr_raw, fit_cdf_model, project_cdf
from qfin.ope._distributional import ReturnCDF, kolmogorov_distance, return_cdf, weighted_cdf

GAMMA = 0.9
H = 2
ATOMS = [[np.array([-1.0, 1.0]), np.array([-2.0, 0.5, 2.0]), np.array([0.0, 0.3])],
         [np.array([0.5, 1.5]), np.array([-3.0, 1.0]), np.array([-0.5, 0.0, 0.5])]]
CHANCE = [[np.array([0.4, 0.6]), np.array([0.3, 0.4, 0.3]), np.array([0.5, 0.5])],
          [np.array([0.7, 0.3]), np.array([0.2, 0.8]), np.array([0.3, 0.4, 0.3])]]
P = np.array([[[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], [[0.1, 0.9], [0.6, 0.4], [0.5, 0.5]]])  # P[s, a, s']
BEHAVIOR = np.array([[1 / 3, 1 / 3, 1 / 3], [0.4, 0.3, 0.3]])
CANDIDATE = np.array([[0.1, 0.7, 0.2], [0.6, 0.1, 0.3]])
W_MAX = float((CANDIDATE / BEHAVIOR).max() ** H)


def true_law(policy: np.ndarray) -> ReturnCDF:
    atoms, masses = [], []
    for s0, a0, a1, s1 in itertools.product(range(2), range(3), range(3), range(2)):
        for (r0, p0), (r1, p1) in itertools.product(zip(ATOMS[s0][a0], CHANCE[s0][a0], strict=True),
                                                    zip(ATOMS[s1][a1], CHANCE[s1][a1], strict=True)):
            atoms.append(r0 + GAMMA * r1)
            masses.append(0.5 * policy[s0, a0] * p0 * P[s0, a0, s1] * policy[s1, a1] * p1)
    return weighted_cdf(np.round(atoms, 12), np.array(masses), "sntis")  # r0 + 0.9 r1 equal up to rounding: one atom


def exact_q(h: int, s: np.ndarray, u: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """Q_h(s, a; u) = P(sum_{t>=h} gamma^t r_t <= u | s, a) under ``policy``: s [n], u [n, J] -> [n, 3, J]."""
    out = np.zeros((s.size, 3, u.shape[1]))
    for a in range(3):
        for state in range(2):
            rows = s == state
            for r, p in zip(ATOMS[state][a], CHANCE[state][a], strict=True):
                left = u[rows] - GAMMA ** h * r
                if h == H - 1:
                    out[rows, a] += p * (left >= -1e-9)
                else:
                    for nxt in range(2):
                        q = exact_q(h + 1, np.full(rows.sum(), nxt), left, policy)
                        out[rows, a] += p * P[state, a, nxt] * np.einsum("a,naj->nj", policy[nxt], q)
    return out


class ExactModel:
    """The true distributional Q of ``policy`` on the logged steps of ``data`` (a CDFModel); V averages it over
    the candidate's actions, as DR's control variate requires, whatever policy the Q belongs to."""

    def __init__(self, data: LoggedData, policy: np.ndarray, rows: slice = slice(None)) -> None:
        self.state, self.action, self.policy = data.state[rows], data.action[rows], policy

    def values(self, step: int, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.state[:, step]
        q = exact_q(step, s, np.asarray(thresholds, dtype=np.float64), self.policy)
        q_logged = np.take_along_axis(q, self.action[:, step, None, None], axis=1)[:, 0]
        return q_logged, np.einsum("na,naj->nj", CANDIDATE[s], q)


def logged(n: int, rng: np.random.Generator) -> LoggedData:
    state = np.zeros((n, H), np.int64)
    action = np.zeros((n, H), np.int64)
    reward = np.zeros((n, H))
    s = rng.integers(0, 2, n)
    for t in range(H):
        state[:, t] = s
        a = (rng.random(n)[:, None] > np.cumsum(BEHAVIOR[s], axis=1)).sum(axis=1)
        action[:, t] = a
        for st, ac in itertools.product(range(2), range(3)):
            hit = (s == st) & (a == ac)
            reward[hit, t] = rng.choice(ATOMS[st][ac], size=int(hit.sum()), p=CHANCE[st][ac])
        s = (rng.random(n) > P[s, a, 0]).astype(np.int64)
    return LoggedData(state=state, action=action, reward=reward, done=np.tile([False, True], (n, 1)),
                      behavior_pscore=BEHAVIOR[state, action], candidate_pscores={"pi": CANDIDATE[state, action]},
                      length=np.full(n, H), gamma=GAMMA, n_actions=3, candidate_action_dist={"pi": CANDIDATE[state]},
                      behavior_action_dist=BEHAVIOR[state])


TRUTH = true_law(CANDIDATE)


def test_the_exact_model_is_the_true_law():
    """The enumerated Q_0 averaged over the initial states under the candidate is the enumerated law of G."""
    u = TRUTH.atoms[None, :].repeat(2, axis=0)
    v0 = np.einsum("sa,saj->j", CANDIDATE / 2, exact_q(0, np.array([0, 1]), u, CANDIDATE))
    assert np.allclose(v0, TRUTH.value_at(TRUTH.atoms), atol=1e-14)


def test_fqe_on_indicators_is_the_empirical_mdp_law():
    """With one-hot states FQE is the return law of the fitted MDP: on 40,000 episodes within 0.015 of the
    truth (the model's counts have s.d. ~ 1/sqrt(n p) per cell), and exact on the grid of every tail return."""
    data = logged(40_000, np.random.default_rng(0))
    model = fit_cdf_model(data, "pi")
    assert set(np.round(TRUTH.atoms, 9)) <= set(np.round(model.thresholds, 9))
    grid = np.broadcast_to(model.thresholds, (data.n_episodes, model.thresholds.size))
    exact = ExactModel(data, CANDIDATE, slice(0, 500))
    for h in range(H):  # V_h itself: within 0.015 of the exact one at the first 500 episodes' steps, every threshold
        assert np.abs(model.values(h, grid)[1][:500] - exact.values(h, grid[:500])[1]).max() < 0.015
    assert kolmogorov_distance(dm_cdf(data, "pi", model), TRUTH) < 0.015


def test_dm_kolmogorov_distance_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(1)
    distance = {n: np.mean([kolmogorov_distance(return_cdf(logged(n, rng), "pi", "dm"), TRUTH)
                            for _ in range(15)]) for n in (400, 6400)}
    assert distance[6400] < distance[400] / 2.5  # 1/sqrt(16) = 1/4, with room for noise
    assert distance[6400] < 3 * np.sqrt(W_MAX / 6400)


def test_dr_is_unbiased_with_a_wrong_model():
    """Mean over 150 datasets of the unprojected DR CDF, with the exact Q of another policy as the model: at
    every atom of the true law within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(2)
    wrong = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    raw = []
    for _ in range(150):
        data = logged(200, rng)
        raw.append(dr_raw(data, "pi", ExactModel(data, wrong), TRUTH.atoms).mean(axis=0))
    raw = np.array(raw)
    error = np.abs(raw.mean(axis=0) - TRUTH.value_at(TRUTH.atoms))
    assert np.all(error < 4 * raw.std(axis=0, ddof=1) / np.sqrt(len(raw)) + 1e-12)


def test_dr_with_the_true_model_beats_tis_and_shrinks():
    rng = np.random.default_rng(3)
    tis_d, dr_d, fitted_d = [], [], []
    for _ in range(20):
        data = logged(1000, rng)
        tis_d.append(kolmogorov_distance(return_cdf(data, "pi", "tis"), TRUTH))
        dr_d.append(kolmogorov_distance(dr_cdf(data, "pi", ExactModel(data, CANDIDATE), thresholds=TRUTH.atoms),
                                        TRUTH))
        fitted_d.append(kolmogorov_distance(return_cdf(data, "pi", "dr"), TRUTH))
    assert np.mean(dr_d) < 0.75 * np.mean(tis_d)  # 0.028 against 0.044 here
    # within 3 standard errors of the DR terms' sup-variance (here: the fitted model's)
    data = logged(1000, rng)
    sd = dr_raw(data, "pi", fit_cdf_model(data, "pi"), TRUTH.atoms).std(axis=0, ddof=1).max()
    assert np.mean(fitted_d) < 3 * sd / np.sqrt(1000)


def test_tis_cdf_within_the_dkw_type_bound():
    """sup_u |F_TIS(u) - F(u)| <= w_max sqrt(log(2 K / delta) / (2 n)) (Hoeffding at the K atoms, union bound), for
    each of 30 datasets at delta = 0.001."""
    rng = np.random.default_rng(4)
    n, k = 2000, TRUTH.atoms.size
    bound = W_MAX * np.sqrt(np.log(2 * k / 0.001) / (2 * n))
    for _ in range(30):
        data = logged(n, rng)
        g = data.reward @ (GAMMA ** np.arange(H))
        w = np.prod(data.candidate_pscores["pi"] / data.behavior_pscore, axis=1)
        raw = (w[:, None] * (g[:, None] <= TRUTH.atoms[None, :] + 1e-12)).mean(axis=0)
        assert np.max(np.abs(raw - TRUTH.value_at(TRUTH.atoms))) <= bound


@pytest.mark.parametrize("method", ["dm", "dr"])
def test_cvar_from_the_model_based_cdfs_converges(method):
    data = logged(30_000, np.random.default_rng(5))
    estimate = return_cdf(data, "pi", method)
    assert estimate.mean() == pytest.approx(TRUTH.mean(), abs=0.03)
    for alpha, tolerance in ((0.1, 0.08), (0.25, 0.04)):
        assert estimate.cvar(alpha) == pytest.approx(TRUTH.cvar(alpha), abs=tolerance)


def test_projection_to_a_cdf():
    """Isotonic (pool adjacent violators), clipped, and 1 at the top: [-0.1, 0.5, 0.3, 1.2, 0.9] -> F =
    [0, 0.4, 0.4, 1, 1] (0.5 and 0.3 pool to 0.4; 1.2 and 0.9 to 1.05, clipped)."""
    cdf = project_cdf(np.arange(5.0), np.array([-0.1, 0.5, 0.3, 1.2, 0.9]))
    assert np.allclose(cdf.value_at(np.arange(5.0)), [0.0, 0.4, 0.4, 1.0, 1.0], atol=1e-15)
    assert np.all(cdf.masses >= 0) and cdf.masses.sum() == pytest.approx(1.0, abs=1e-15)


def test_bad_inputs_are_one_line():
    data = logged(50, np.random.default_rng(6))
    with pytest.raises(QfinError, match="strictly increasing"):
        dm_cdf(data, "pi", thresholds=[1.0, 0.0])
    with pytest.raises(QfinError, match="method must be one of"):
        return_cdf(data, "pi", "qr")
    with pytest.raises(QfinError, match=r"a risk level must lie in \(0, 1\)"):
        return_cdf(data, "pi", "dr").cvar(0.0)
    with pytest.raises(QfinError, match="behavior_pscore.*zero"):
        LoggedData(state=data.state, action=data.action, reward=data.reward, done=data.done,
                   behavior_pscore=np.where(np.arange(H) == 1, 0.0, data.behavior_pscore),
                   candidate_pscores=data.candidate_pscores, length=data.length, gamma=GAMMA, n_actions=3)
    with pytest.raises(QfinError, match="reward.*NaN"):
        LoggedData(state=data.state, action=data.action, reward=np.where(np.arange(H) == 0, np.nan, data.reward),
                   done=data.done, behavior_pscore=data.behavior_pscore, candidate_pscores=data.candidate_pscores,
                   length=data.length, gamma=GAMMA, n_actions=3)
