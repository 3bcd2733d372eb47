"""Model-based return CDFs: the direct method (DM) and the doubly robust (DR) estimator of
F(u) = P_{pi_e}(G <= u), G = sum_t gamma^t r_t, from logged data and a distributional Q model.

The model is Q_h(s, a; u) = P(sum_{t >= h} gamma^t r_t <= u | s_h = s, a_h = a), the law of the discounted
return still to come (discounted from time 0, so a threshold shifts by the reward and needs no division by gamma).
:func:`fit_cdf_model` fits it by fitted Q evaluation on indicator targets, backward over h, all thresholds of a
grid at once (one multi-output ridge regression per step and action):

    target_h(u) = 1{gamma^h r_h <= u}                                   at an episode's last logged step,
                = sum_a' pi_e(a'|s_{h+1}) Q_{h+1}(s_{h+1}, a'; u - gamma^h r_h)     otherwise,

with Q_{h+1} read off the grid as a step function (exact when the grid holds every reachable tail return, as it
does for discrete rewards: the default grid is every distinct logged tail return). With one-hot (tabular)
features this is the return law of the empirical MDP.

- DM: F(u) = mean_i sum_a pi_e(a|s_i0) Q_0(s_i0, a; u).
- DR (Huang, Leqi, Lipton & Azizzadenesheli, "Off-policy risk assessment in Markov decision processes",
  AISTATS 2022, the per-threshold control variate): with c_ih = sum_{t<h} gamma^t r_it the return already
  earned and u_ih = u - c_ih the threshold left,

      F(u) = mean_i [ w_{0:H-1} 1{G_i <= u}
                      - sum_h ( w_{0:h} Q_h(s_ih, a_ih; u_ih) - w_{0:h-1} V_h(s_ih; u_ih) ) ],

  V_h(s; u) = sum_a pi_e(a|s) Q_h(s, a; u). Each bracket has mean zero given the past (u_ih is known at s_ih),
  so DR is unbiased for any model; with the true model the IS term's noise is cancelled step by step.

Both raw estimates are projected to a CDF: the L2-closest non-decreasing sequence on the grid (isotonic
regression), clipped to [0, 1], with the mass missing at the top put on the largest grid point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qfin.errors import DataValidationError, QfinError

from ._distributional import ReturnCDF
from ._estimators import _cumulative_weights, _discount, _state_features
from ._logged import LoggedData

__all__ = ["CDFModel", "FittedCDFModel", "cdf_thresholds", "dm_cdf", "dr_cdf", "fit_cdf_model", "project_cdf"]


class CDFModel(Protocol):
    """A candidate's distributional Q model on the logged steps of one dataset."""

    def values(self, step: int, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Q_step(s_i, a_i; u), V_step(s_i; u)) at each episode's logged state and action at ``step`` and each
        row's thresholds [n, K] -> two arrays [n, K] (rows of episodes that ended before ``step`` are ignored).
        V must average the model's Q over the candidate's action distribution (DR's control variate has mean
        zero only then), whatever the Q's own quality."""


def _tail_returns(data: LoggedData) -> np.ndarray:
    """sum_{t >= h} gamma^t r_t for every episode and step h, [n, H] (0 on padding)."""
    discounted = data.reward * _discount(data)
    return np.cumsum(discounted[:, ::-1], axis=1)[:, ::-1]


def _tolerance(grid: np.ndarray) -> float:
    """Slack for u <= t comparisons: a threshold shifted by a reward (u - gamma^h r) lands on a grid point only up
    to rounding, and a step function read there must not drop a whole atom."""
    return 1e-9 * max(1.0, float(np.abs(grid).max()))


def cdf_thresholds(data: LoggedData, max_thresholds: int = 512) -> np.ndarray:
    """The default grid: every distinct logged tail return sum_{t >= h} gamma^t r_t (h = 0..H-1) and 0, or, when
    there are more than ``max_thresholds``, that many of their quantiles (min and max included)."""
    if isinstance(max_thresholds, bool) or not isinstance(max_thresholds, int) or max_thresholds < 2:
        raise QfinError(f"max_thresholds must be an integer >= 2; got {max_thresholds!r}")
    values = np.unique(np.r_[_tail_returns(data)[data.valid], 0.0])
    values = values[np.r_[True, np.diff(values) > _tolerance(values)]]  # one point per return, up to rounding
    if values.size > max_thresholds:
        values = np.unique(np.quantile(values, np.linspace(0.0, 1.0, max_thresholds)))
    return values


def _check_thresholds(thresholds) -> np.ndarray:
    u = np.asarray(thresholds, dtype=np.float64)
    if u.ndim != 1 or u.size < 2 or not np.all(np.isfinite(u)) or np.any(np.diff(u) <= 0):
        raise QfinError(f"thresholds must be a strictly increasing 1-D grid of at least 2 finite returns; got "
                        f"shape {u.shape}")
    return u


def _on_grid(curves: np.ndarray, grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Step-function reading of curves [n, J] given on ``grid`` [J] at thresholds ``x`` [n, K]: each row's value at
    the largest grid point <= x (0 below the grid) -> [n, K]."""
    idx = np.searchsorted(grid, x + _tolerance(grid), side="right") - 1
    return np.where(idx >= 0, np.take_along_axis(curves, np.maximum(idx, 0), axis=1), 0.0)


@dataclass(frozen=True, eq=False)
class FittedCDFModel:
    """Q_h(s, a; u) = clip(phi(s_h)^T theta[h, a], 0, 1) on the grid ``thresholds``, read as a step function;
    ``features`` [n, H, d], ``action`` [n, H] and ``policy`` [n, H, A] (pi_e) are those of the logged steps."""

    thresholds: np.ndarray  # [J]
    theta: np.ndarray  # [H, A, d, J]
    features: np.ndarray
    action: np.ndarray
    policy: np.ndarray

    def grid_values(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q at the logged action, V) on the grid for every episode at ``step``: two arrays [n, J]."""
        x, a_logged, pe = self.features[:, step], self.action[:, step], self.policy[:, step]
        q = np.zeros((x.shape[0], self.thresholds.size))
        v = np.zeros_like(q)
        for a in range(self.theta.shape[1]):
            qa = np.clip(x @ self.theta[step, a], 0.0, 1.0)
            v += pe[:, a, None] * qa
            rows = a_logged == a
            q[rows] = qa[rows]
        return q, v

    def values(self, step: int, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q, v = self.grid_values(step)
        return _on_grid(q, self.thresholds, thresholds), _on_grid(v, self.thresholds, thresholds)

    def state_values(self, step: int, thresholds: np.ndarray) -> np.ndarray:
        """V_step(s_i; u) alone, [n, K]."""
        return _on_grid(self.grid_values(step)[1], self.thresholds, thresholds)


def _candidate_dist(data: LoggedData, candidate: str) -> np.ndarray:
    if not data.discrete:
        raise DataValidationError("model-based return CDFs (dm, dr) handle discrete actions; for continuous ones "
                                  "use 'tis' or 'sntis'", rule="continuous_actions", column="action")
    if candidate not in data.candidate_pscores:
        raise DataValidationError(f"unknown candidate {candidate!r}; known: {data.candidates}",
                                  rule="unknown_candidate", column="candidate")
    if candidate not in data.candidate_action_dist:
        raise DataValidationError(f"dm/dr return CDFs need the candidate's action distribution; the logged data has "
                                  f"none for {candidate!r}", rule="missing_action_dist",
                                  column="candidate_action_dist")
    return data.candidate_action_dist[candidate]


def fit_cdf_model(data: LoggedData, candidate: str, *, thresholds=None, features=None,
                  ridge: float = 1e-8) -> FittedCDFModel:
    """Fitted Q evaluation on indicator targets (module docstring): the candidate's distributional Q model.

    Parameters
    ----------
    thresholds : increasing grid [J] of returns; default :func:`cdf_thresholds`.
    features : array [n, H, d] or None, phi(s_ih); default one-hot of index states, else [1, s] (linear).
    ridge : L2 penalty (keeps unvisited (h, a) cells at 0 instead of failing).
    """
    pe = _candidate_dist(data, candidate)
    grid = cdf_thresholds(data) if thresholds is None else _check_thresholds(thresholds)
    phi = _state_features(data) if features is None else np.asarray(features, dtype=np.float64)
    n, h_max, n_act = data.n_episodes, data.horizon, data.n_actions
    if phi.ndim != 3 or phi.shape[:2] != (n, h_max):
        raise DataValidationError(f"features must have shape ({n}, {h_max}, d), got {phi.shape}",
                                  rule="shape_mismatch", column="features")
    theta = np.zeros((h_max, n_act, phi.shape[2], grid.size))
    model = FittedCDFModel(grid, theta, phi, data.action, pe)
    discount = _discount(data)
    eye = ridge * np.eye(phi.shape[2])
    for h in range(h_max - 1, -1, -1):
        earned = discount[h] * data.reward[:, h]
        target = (earned[:, None] <= grid[None, :] + _tolerance(grid)).astype(np.float64)  # the episode ends at h
        if h + 1 < h_max:
            going = data.valid[:, h + 1]
            if going.any():
                target[going] = model.state_values(h + 1, grid[None, :] - earned[:, None])[going]
        x = phi[:, h]
        for a in range(n_act):
            rows = data.valid[:, h] & (data.action[:, h] == a)
            xa = x[rows]
            theta[h, a] = np.linalg.solve(xa.T @ xa + eye, xa.T @ target[rows])
    return model


def project_cdf(grid: np.ndarray, values: np.ndarray) -> ReturnCDF:
    """The CDF closest to raw estimates ``values`` [J] at ``grid`` [J] (module docstring's projection)."""
    from scipy.optimize import isotonic_regression

    f = np.clip(isotonic_regression(np.asarray(values, dtype=np.float64)).x, 0.0, 1.0)
    f[-1] = 1.0  # the mass missing at the top sits on the largest grid point
    return ReturnCDF(np.asarray(grid, dtype=np.float64), np.diff(np.r_[0.0, f]))


def _model_grid(data: LoggedData, model: CDFModel | None, candidate: str, thresholds) -> tuple[CDFModel, np.ndarray]:
    if model is None:
        model = fit_cdf_model(data, candidate, thresholds=thresholds)
    grid = getattr(model, "thresholds", None) if thresholds is None else thresholds
    if grid is None:
        raise QfinError("a CDF model without its own thresholds needs thresholds=[...], the returns to estimate at")
    return model, _check_thresholds(grid)


def dm_cdf(data: LoggedData, candidate: str, model: CDFModel | None = None, *, thresholds=None) -> ReturnCDF:
    """Direct method: F(u) = mean_i V_0(s_i0; u) (module docstring); ``model`` defaults to :func:`fit_cdf_model`."""
    _candidate_dist(data, candidate)
    model, grid = _model_grid(data, model, candidate, thresholds)
    _, v0 = model.values(0, np.broadcast_to(grid, (data.n_episodes, grid.size)))
    return project_cdf(grid, v0.mean(axis=0))


def dr_raw(data: LoggedData, candidate: str, model: CDFModel, grid: np.ndarray) -> np.ndarray:
    """Per-episode DR terms [n, J] at the thresholds ``grid`` (their mean is the unprojected DR CDF)."""
    _candidate_dist(data, candidate)
    w = _cumulative_weights(data, candidate)
    g = data.reward @ _discount(data)
    psi = w[:, -1, None] * (g[:, None] <= grid[None, :] + _tolerance(grid))
    earned = np.zeros(data.n_episodes)
    discount = _discount(data)
    w_prev = np.ones(data.n_episodes)
    for h in range(data.horizon):
        live = data.valid[:, h]
        q_logged, v = model.values(h, grid[None, :] - earned[:, None])  # [n, J] each
        psi -= np.where(live[:, None], w[:, h, None] * q_logged - w_prev[:, None] * v, 0.0)
        earned = earned + discount[h] * data.reward[:, h]
        w_prev = w[:, h]
    return psi


def dr_cdf(data: LoggedData, candidate: str, model: CDFModel | None = None, *, thresholds=None) -> ReturnCDF:
    """Doubly robust CDF (module docstring); ``model`` defaults to :func:`fit_cdf_model` on the same data."""
    model, grid = _model_grid(data, model, candidate, thresholds)
    return project_cdf(grid, dr_raw(data, candidate, model, grid).mean(axis=0))
