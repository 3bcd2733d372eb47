"""Off-policy estimators of J(pi_e) = E_{pi_e}[sum_{t<H} gamma^t r_t] from :class:`~qfin.ope.LoggedData`.

With per-step ratios w_t = pi_e(a_t|s_t) / pi_b(a_t|s_t) (densities for continuous actions) and cumulative
weights w_{0:t} = prod_{t'<=t} w_t' (w_{0:-1} = 1), per episode i:

- TIS (trajectory-wise IS, Precup et al. 2000):   w_{0:H-1} sum_t gamma^t r_t
- PDIS (per-decision IS, Precup et al. 2000):     sum_t gamma^t w_{0:t} r_t
- DR (doubly robust, Jiang & Li 2016 eq. 8; Thomas & Brunskill 2016):
                                   sum_t gamma^t [w_{0:t} (r_t - Qhat_t(s_t, a_t)) + w_{0:t-1} Vhat_t(s_t)],
  Vhat_t(s) = E_{a ~ pi_e(.|s)} Qhat_t(s, a)
- DM (direct method): Vhat_0(s_0), with Qhat from fitted Q evaluation (:func:`fitted_q_evaluation`).
The estimate is the mean over episodes and its standard error the sample std (ddof = 1) / sqrt(n).

Self-normalised forms divide each weight by its mean over episodes at the same step (SNTIS: by the mean final
weight; SNPDIS and SNDR: w_{0:t} / mean_i w_{0:t}), as in SCOPE-RL (Kiyohara et al. 2023, "SCOPE-RL", sec. 3).
They are ratio estimators: slightly biased, consistent, bounded by the rewards. Their standard errors come from the
delta method (the influence function of the ratio, sum_t gamma^t w_it (r_it - m_t) / mean_i w_t for SNPDIS).

Every reward counts, the final step's included (SCOPE-RL's default drops it). Padding after an episode's end has
reward 0, ratio 1 and Qhat = Vhat = 0, so it adds nothing.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from qfin.errors import DataValidationError
from qfin.ope._logged import LoggedData, OPESupportWarning, check_support

__all__ = ["OPEEstimate", "ESTIMATORS", "tis", "pdis", "sntis", "snpdis", "dm", "dr", "sndr",
           "fitted_q_evaluation", "gaussian_density", "estimate_all"]


@dataclass(frozen=True)
class OPEEstimate:
    """An estimate of a candidate's policy value and its standard error (nan where undefined)."""

    estimator: str
    candidate: str
    value: float
    stderr: float


def _se(psi: np.ndarray) -> float:
    return float(psi.std(ddof=1) / math.sqrt(psi.size)) if psi.size > 1 else math.nan


def _discount(data: LoggedData) -> np.ndarray:
    return data.gamma ** np.arange(data.horizon, dtype=np.float64)


def _cumulative_weights(data: LoggedData, candidate: str) -> np.ndarray:
    return np.cumprod(data.ratio(candidate), axis=1)


def _normalise(w: np.ndarray, name: str, candidate: str) -> np.ndarray:
    """w / its mean over episodes (per step for 2-D); nan, with a warning, where every weight is 0."""
    mean = w.mean(axis=0)
    empty = mean == 0.0
    if np.any(empty):
        warnings.warn(f"{name}: every logged trajectory has weight 0 for candidate {candidate!r} (at some step); "
                      "the self-normalised estimate is undefined there (nan)", OPESupportWarning, stacklevel=3)
    return w / np.where(empty, np.nan, mean)


def tis(data: LoggedData, candidate: str) -> OPEEstimate:
    """Trajectory-wise importance sampling: mean_i w_{0:H-1} G_i (unbiased; high variance)."""
    w = _cumulative_weights(data, candidate)[:, -1]
    psi = w * (data.reward @ _discount(data))
    return OPEEstimate("tis", candidate, float(psi.mean()), _se(psi))


def pdis(data: LoggedData, candidate: str) -> OPEEstimate:
    """Per-decision importance sampling: mean_i sum_t gamma^t w_{0:t} r_t (unbiased)."""
    psi = (_cumulative_weights(data, candidate) * data.reward) @ _discount(data)
    return OPEEstimate("pdis", candidate, float(psi.mean()), _se(psi))


def sntis(data: LoggedData, candidate: str) -> OPEEstimate:
    """Self-normalised TIS: sum_i w_i G_i / sum_i w_i; delta-method standard error."""
    w = _cumulative_weights(data, candidate)[:, -1]
    g = data.reward @ _discount(data)
    wn = _normalise(w, "sntis", candidate)
    value = float(np.mean(wn * g))
    return OPEEstimate("sntis", candidate, value, _se(wn * (g - value)))


def snpdis(data: LoggedData, candidate: str) -> OPEEstimate:
    """Self-normalised PDIS: sum_t gamma^t sum_i w_{i,0:t} r_it / sum_i w_{i,0:t}; delta-method standard error."""
    wn = _normalise(_cumulative_weights(data, candidate), "snpdis", candidate)
    disc = _discount(data)
    m = np.mean(wn * data.reward, axis=0)  # per-step self-normalised mean reward
    value = float(m @ disc)
    psi = (wn * (data.reward - m)) @ disc
    return OPEEstimate("snpdis", candidate, value, _se(psi))


def _q_parts(data: LoggedData, candidate: str, q_values, q_logged, v_state) -> tuple[np.ndarray, np.ndarray]:
    """Qhat_t(s_t, a_t) and Vhat_t(s_t) under the candidate, [n, H], zero on padding."""
    shape = data.reward.shape
    if q_values is not None:
        if not data.discrete:
            raise DataValidationError("q_values [n, H, n_actions] is for discrete actions; for continuous ones pass "
                                      "q_logged and v_state", rule="bad_q", column="q_values")
        if candidate not in data.candidate_action_dist:
            raise DataValidationError(f"DM/DR from q_values need the candidate's action distribution; the logged "
                                      f"data has none for {candidate!r}", rule="missing_action_dist",
                                      column="candidate_action_dist")
        q = np.asarray(q_values, dtype=np.float64)
        if q.shape != shape + (data.n_actions,):
            raise DataValidationError(f"q_values must have shape {shape + (data.n_actions,)}, got {q.shape}",
                                      rule="shape_mismatch", column="q_values")
        q_logged = np.take_along_axis(q, data.action[:, :, None], axis=2)[:, :, 0]
        v_state = np.einsum("nha,nha->nh", data.candidate_action_dist[candidate], q)
    elif q_logged is None or v_state is None:
        raise DataValidationError("DM/DR need q_values [n, H, n_actions], or both q_logged and v_state [n, H]",
                                  rule="missing_q", column="q_values")
    out = []
    full = bool(data.valid.all())  # fixed-horizon data: no padding to mask (the common case, and faster)
    for name, arr in (("q_logged", q_logged), ("v_state", v_state)):
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != shape:
            raise DataValidationError(f"{name} must have shape {shape}, got {arr.shape}", rule="shape_mismatch",
                                      column=name)
        if not np.isfinite(arr).all() and not np.isfinite(arr[data.valid]).all():
            raise DataValidationError(f"{name} has NaN or infinite values on logged steps", rule="non_finite",
                                      column=name)
        out.append(arr if full else np.where(data.valid, arr, 0.0))
    return out[0], out[1]


def dm(data: LoggedData, candidate: str, q_values=None, *, v_state=None) -> OPEEstimate:
    """Direct method: mean_i Vhat_0(s_i0). The standard error covers the initial-state sampling only, not the error
    of the Q model."""
    if q_values is not None:
        _, v = _q_parts(data, candidate, q_values, None, None)
    else:
        _, v = _q_parts(data, candidate, None, np.zeros_like(data.reward), v_state)
    psi = v[:, 0]
    return OPEEstimate("dm", candidate, float(psi.mean()), _se(psi))


def _dr_terms(data, candidate, q_values, q_logged, v_state):
    q, v = _q_parts(data, candidate, q_values, q_logged, v_state)
    w = _cumulative_weights(data, candidate)
    w_prev = np.concatenate([np.ones((w.shape[0], 1)), w[:, :-1]], axis=1)
    return w, w_prev, q, v


def dr(data: LoggedData, candidate: str, q_values=None, *, q_logged=None, v_state=None) -> OPEEstimate:
    """Per-decision doubly robust estimator (Jiang & Li 2016, eq. 8); unbiased for any Qhat.

    Parameters
    ----------
    q_values : array [n, H, n_actions], discrete actions: Qhat_t(s_it, a) for every action (e.g. from
        :func:`fitted_q_evaluation`, or the exact Q of a known model); Vhat is taken under the candidate's logged
        action distribution.
    q_logged, v_state : arrays [n, H], any actions: Qhat_t(s_it, a_it) and Vhat_t(s_it) given directly.
    """
    w, w_prev, q, v = _dr_terms(data, candidate, q_values, q_logged, v_state)
    psi = (w * (data.reward - q) + w_prev * v) @ _discount(data)
    return OPEEstimate("dr", candidate, float(psi.mean()), _se(psi))


def sndr(data: LoggedData, candidate: str, q_values=None, *, q_logged=None, v_state=None) -> OPEEstimate:
    """Self-normalised DR: DR with w_{0:t} and w_{0:t-1} divided by their means over episodes; delta-method SE."""
    w, w_prev, q, v = _dr_terms(data, candidate, q_values, q_logged, v_state)
    wn = _normalise(w, "sndr", candidate)
    wpn = _normalise(w_prev, "sndr", candidate)
    disc = _discount(data)
    a = np.mean(wn * (data.reward - q), axis=0)
    b = np.mean(wpn * v, axis=0)
    value = float((a + b) @ disc)
    psi = (wn * (data.reward - q - a) + wpn * (v - b)) @ disc
    return OPEEstimate("sndr", candidate, value, _se(psi))


def _state_features(data: LoggedData) -> np.ndarray:
    """One-hot of tabular states (index states), else [1, s] (linear)."""
    if data.state.ndim == 2:
        n_states = int(data.state.max()) + 1
        return np.eye(n_states)[data.state]
    return np.concatenate([np.ones(data.state.shape[:2] + (1,)), data.state], axis=2)


def fitted_q_evaluation(data: LoggedData, candidate: str, *, features=None, ridge: float = 1e-8) -> np.ndarray:
    """Fitted Q evaluation (Le et al. 2019), finite-horizon and linear: Qhat_t(s, a) = phi(s)^T theta_{t,a}.

    Backward over t = H-1..0, theta_{t,a} is the ridge regression, on the logged steps (t, a_t = a), of
    r_t + gamma (1 - done_t) sum_a' pi_e(a'|s_{t+1}) Qhat_{t+1}(s_{t+1}, a'). With tabular (one-hot) features this
    is backward induction on the empirical model, so it is exact in the limit of many episodes.

    Parameters
    ----------
    features : array [n, H, d] or None
        phi(s_it); default one-hot of index states, or [1, s] for vector states.
    ridge : float
        L2 penalty (keeps unvisited (t, a) cells at 0 instead of failing).

    Returns
    -------
    array [n, H, n_actions]: Qhat_t(s_it, a) for every logged step (0 on padding), the ``q_values`` of dm/dr/sndr.
    """
    if not data.discrete:
        raise DataValidationError("fitted_q_evaluation handles discrete actions; for continuous ones fit Q "
                                  "yourself and pass q_logged/v_state", rule="continuous_actions", column="action")
    if candidate not in data.candidate_action_dist:
        raise DataValidationError(f"FQE needs the candidate's action distribution; none for {candidate!r}",
                                  rule="missing_action_dist", column="candidate_action_dist")
    phi = _state_features(data) if features is None else np.asarray(features, dtype=np.float64)
    n, h, n_act = data.n_episodes, data.horizon, data.n_actions
    if phi.shape[:2] != (n, h) or phi.ndim != 3:
        raise DataValidationError(f"features must have shape ({n}, {h}, d), got {phi.shape}",
                                  rule="shape_mismatch", column="features")
    pe = data.candidate_action_dist[candidate]
    q = np.zeros((n, h, n_act))
    eye = ridge * np.eye(phi.shape[2])
    cont = data.valid & ~data.done
    for t in range(h - 1, -1, -1):
        target = data.reward[:, t].copy()
        if t + 1 < h:
            nxt = cont[:, t] & data.valid[:, t + 1]
            target += data.gamma * np.where(nxt, (pe[:, t + 1] * q[:, t + 1]).sum(axis=1), 0.0)
        x = phi[:, t]
        for a in range(n_act):
            rows = data.valid[:, t] & (data.action[:, t] == a)
            xa = x[rows]
            theta = np.linalg.solve(xa.T @ xa + eye, xa.T @ target[rows])
            q[:, t, a] = x @ theta
        q[:, t] *= data.valid[:, t, None]
    return q


def gaussian_density(action, mean, std) -> np.ndarray:
    """Density of a diagonal Gaussian policy N(mean, std^2) at ``action``: arrays [..., m] -> [...] (product over
    the m action dimensions). Use it for the behavior and candidate pscores of continuous-action logs."""
    a = np.asarray(action, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    sd = np.broadcast_to(np.asarray(std, dtype=np.float64), np.broadcast_shapes(a.shape, mu.shape))
    if np.any(sd <= 0):
        raise DataValidationError("std must be positive", rule="bad_std", column="std")
    z = (a - mu) / sd
    dens = np.exp(-0.5 * z * z) / (sd * math.sqrt(2.0 * math.pi))
    return dens.prod(axis=-1) if dens.ndim else dens


ESTIMATORS = {"tis": tis, "pdis": pdis, "sntis": sntis, "snpdis": snpdis, "dm": dm, "dr": dr, "sndr": sndr}
_MODEL_BASED = ("dm", "dr", "sndr")


def estimate_all(data: LoggedData, estimators=tuple(ESTIMATORS), *, q_values: dict | None = None) -> pl.DataFrame:
    """Every (candidate, estimator) estimate as a frame: candidate, estimator, value, stderr.

    Each candidate's coverage is checked first (:func:`~qfin.ope.check_support`, which warns with the fractions).

    ``q_values``: candidate -> array [n, H, n_actions] for DM/DR/SNDR; when missing for a discrete-action candidate
    it is fitted with :func:`fitted_q_evaluation` (tabular/linear).
    """
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise DataValidationError(f"unknown estimator(s) {unknown}; known: {list(ESTIMATORS)}",
                                  rule="unknown_estimator", column="estimators")
    rows = []
    for cand in data.candidates:
        check_support(data, cand)  # warns (OPESupportWarning) with the fraction of episodes/steps affected
        q = (q_values or {}).get(cand)
        if q is None and any(e in _MODEL_BASED for e in estimators):
            q = fitted_q_evaluation(data, cand)
        for name in estimators:
            fn = ESTIMATORS[name]
            est = fn(data, cand, q) if name in _MODEL_BASED else fn(data, cand)
            rows.append({"candidate": cand, "estimator": name, "value": est.value, "stderr": est.stderr})
    return pl.DataFrame(rows, schema={"candidate": pl.Utf8, "estimator": pl.Utf8, "value": pl.Float64,
                                      "stderr": pl.Float64})
