"""Risk of a candidate from logged data: its return CDF on a threshold grid by each estimator, the mean and the
CVaR read from it, and bootstrap bounds on both, so a risk committee gets an interval, not a point.

Every CDF estimator is written as per-episode terms psi_i(u) on the grid (with a normaliser for the
self-normalised one), F_raw(u) = sum_i psi_i(u) / sum_i norm_i, then projected (:func:`project_cdf`):

- ``tis``: psi_i = w_i 1{G_i <= u}, norm_i = 1;   ``sntis``: the same psi, norm_i = w_i;
- ``dm``: psi_i = V_0(s_i0; u), norm_i = 1 (the model fitted once; its bounds cover the initial states' spread,
  not the model's error);   ``dr``: Huang et al. (2022)'s per-episode DR terms (:func:`dr_raw`).

The bounds are percentile bootstrap intervals over episodes (Efron & Tibshirani 1993, ch. 13): resampling
episodes reweights the terms (counts @ psi), each replicate is projected and its functional taken; seeded.
:func:`bound_coverage` checks any interval method's coverage over many logged datasets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from qfin.errors import QfinError

from ._bounds import BOUND_METHODS, confidence_interval
from ._cdf_models import CDFModel, _check_thresholds, _tolerance, dr_raw, fit_cdf_model, project_cdf
from ._distributional import CDF_METHODS, ReturnCDF, _level
from ._estimators import _cumulative_weights, _discount
from ._logged import LoggedData

__all__ = ["RISK_COLUMNS", "bound_coverage", "cdf_terms", "risk_estimates"]

RISK_COLUMNS = ("mean", "mean_low", "mean_high", "cvar", "cvar_low", "cvar_high")


def cdf_terms(data: LoggedData, candidate: str, method: str, grid: np.ndarray,
              model: CDFModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(psi [n, J], norm [n]) of ``method`` at ``grid`` (module docstring); dm/dr fit ``model`` when not given."""
    grid = _check_thresholds(grid)
    if method not in CDF_METHODS:
        raise QfinError(f"method must be one of {', '.join(CDF_METHODS)}; got {method!r}")
    ones = np.ones(data.n_episodes)
    if method in ("tis", "sntis"):
        w = _cumulative_weights(data, candidate)[:, -1]
        g = data.reward @ _discount(data)
        psi = w[:, None] * (g[:, None] <= grid[None, :] + _tolerance(grid))
        return psi, (w if method == "sntis" else ones)
    model = fit_cdf_model(data, candidate, thresholds=grid) if model is None else model
    if method == "dm":
        return model.values(0, np.broadcast_to(grid, (data.n_episodes, grid.size)))[1], ones
    return dr_raw(data, candidate, model, grid), ones


def _project(grid: np.ndarray, psi_sum: np.ndarray, norm_sum: float) -> ReturnCDF:
    if not norm_sum > 0:
        raise QfinError("every logged trajectory has weight 0 for this candidate: its return law is unknown")
    return project_cdf(grid, psi_sum / norm_sum)


def risk_estimates(data: LoggedData, candidate: str, methods: Sequence[str] = CDF_METHODS, *, alpha: float = 0.05,
                   grid=None, level: float = 0.95, n_bootstrap: int = 200, seed: int = 0,
                   models: dict[str, CDFModel] | None = None) -> dict[str, dict]:
    """For each method: the CDF on ``grid`` (``"cdf"``), its mean and CVaR at ``alpha`` (mean of the worst alpha
    fraction of returns), and their percentile bootstrap bounds at ``level`` (:data:`RISK_COLUMNS`).

    ``grid`` defaults to 200 quantiles of the logged tail returns (:func:`qfin.ope.cdf_thresholds`); ``models``
    may pass one fitted :class:`~qfin.ope.FittedCDFModel` for dm and dr to share.
    """
    from ._cdf_models import cdf_thresholds

    _level(alpha)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise QfinError(f"level must lie in (0, 1), e.g. 0.95; got {level!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 100:
        raise QfinError(f"n_bootstrap must be an integer >= 100; got {n_bootstrap!r}")
    grid = cdf_thresholds(data, 200) if grid is None else _check_thresholds(grid)
    models = dict(models or {})
    if any(m in ("dm", "dr") for m in methods) and "model" not in models:
        models["model"] = fit_cdf_model(data, candidate, thresholds=grid)
    rng = np.random.default_rng(seed)
    n = data.n_episodes
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(np.float64)  # [B, n]
    lo_q, hi_q = (1.0 - level) / 2, (1.0 + level) / 2
    out = {}
    for method in methods:
        psi, norm = cdf_terms(data, candidate, method, grid, models.get("model"))
        cdf = _project(grid, psi.sum(axis=0), float(norm.sum()))
        sums, norms = counts @ psi, counts @ norm
        reps = [_project(grid, s, float(z)) for s, z in zip(sums, norms, strict=True) if z > 0]
        means = np.array([r.mean() for r in reps])
        cvars = np.array([r.cvar(alpha) for r in reps])
        row = {"cdf": cdf, "mean": cdf.mean(), "cvar": cdf.cvar(alpha)}
        for name, values in (("mean", means), ("cvar", cvars)):
            row[f"{name}_low"], row[f"{name}_high"] = (float(v) for v in np.quantile(values, [lo_q, hi_q]))
        out[method] = row
    return out


def bound_coverage(make_samples: Callable[[np.random.Generator], np.ndarray], truth: float, *,
                   methods: Sequence[str] = BOUND_METHODS, level: float = 0.95, n_datasets: int = 1000,
                   bounds: tuple[float, float] | None = None, n_bootstrap: int = 500,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """Coverage of :func:`confidence_interval` by simulation: ``make_samples(rng)`` returns the per-episode
    estimates of one logged dataset as rows [n_datasets, n] (all datasets at once, vectorised); ``truth`` the
    value they estimate. Per method: ``coverage`` (share of intervals holding the truth), ``mc_stderr``
    (sqrt(c (1 - c) / n_datasets)), ``below`` (share whose lower bound exceeds the truth: the one-sided failure a
    safe deployment cares about) and the mean ``width``."""
    if isinstance(n_datasets, bool) or not isinstance(n_datasets, int) or n_datasets < 2:
        raise QfinError(f"n_datasets must be an integer >= 2; got {n_datasets!r}")
    rng = np.random.default_rng(seed)
    samples = np.asarray(make_samples(rng), dtype=np.float64)
    if samples.ndim != 2 or samples.shape[0] != n_datasets:
        raise QfinError(f"make_samples must return [n_datasets = {n_datasets}, n] estimates; got {samples.shape}")
    out = {}
    for method in methods:
        kw = {"bounds": bounds} if method in ("hoeffding", "bernstein") else {"n_bootstrap": n_bootstrap}
        intervals = np.array([confidence_interval(row, level, method, seed=seed + i, **kw)
                              for i, row in enumerate(samples)])
        hit = (intervals[:, 0] <= truth) & (truth <= intervals[:, 1])
        c = float(hit.mean())
        out[method] = {"coverage": c, "mc_stderr": math.sqrt(c * (1.0 - c) / n_datasets),
                       "below": float(np.mean(intervals[:, 0] > truth)),
                       "width": float(np.mean(intervals[:, 1] - intervals[:, 0]))}
    return out
