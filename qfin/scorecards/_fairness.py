"""Fairness: IV between protected groups, the adverse impact ratio, and the performance–fairness frontier.

IV_fair of a binned feature is the Jeffreys divergence between its bin distribution in the protected group
and in the rest (the same divergence as IV and PSI, Sudjianto & Burakov 2025, section 6). ``fairness_frontier``
solves, for each epsilon, the optimal binning of one feature over contiguous runs of prebins as an exact
mixed-integer program (pulp + CBC):

    max  sum_{(i,j)} z_ij * IV_ij                         IV_ij = (p_ij - q_ij) ln(p_ij / q_ij), good/bad shares
    s.t. sum_{(i,j) containing k} z_ij = 1  for every prebin k     (a partition into runs of prebins)
         sum z_ij <= max_bins
         sum z_ij * F_ij <= epsilon                        F_ij = (r1_ij - r0_ij) ln(r1_ij / r0_ij), group shares
         z_ij + z_(j+1)l <= 1 for adjacent runs whose WoE breaks the requested monotone trend
         z_ij in {0, 1}

Both objective and constraint are sums of per-bin Jeffreys terms, so they are linear in z. Runs with fewer
than ``min_bin_share`` of the rows, or with no good, no bad, or no member of either group, are not
candidates (their terms would be infinite without smoothing; the MIP works with smoothing 0, so its IV is
exactly ``information_value(bins, y, smoothing=0)``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from qfin.errors import DataValidationError
from qfin.scorecards._measures import binary_target, psi

__all__ = ["fairness_iv", "adverse_impact_ratio", "fairness_frontier", "binning_mip", "BinningSolution"]


def _as_1d(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x)
    if arr.ndim != 1 or arr.size == 0:
        raise DataValidationError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}", rule="shape",
                                  column=name)
    return arr


def fairness_iv(values: Any, group: Any, n_bins: int | None = 10, smoothing: float = 0.5):
    """IV_fair: Jeffreys divergence between the distribution of ``values`` in group 1 and in group 0.

    values : [n] bin labels (``n_bins=None``) or numbers (model scores) cut into ``n_bins`` quantile bins.
    group : [n] 0/1 membership of the protected group. Returns the :class:`DivergenceResult` of ``psi``.
    """
    v = _as_1d(values, "values")
    g = binary_target(group, "group")
    if v.shape != g.shape:
        raise DataValidationError(f"values and group must have the same length; got {v.size} and {g.size}",
                                  rule="shape", column="group")
    if n_bins is not None:
        edges = np.unique(np.quantile(v.astype(float), np.linspace(0, 1, n_bins + 1)[1:-1]))
        v = np.searchsorted(edges, v.astype(float), side="right")
    labels, inv = np.unique(v.astype(str) if v.dtype == object else v, return_inverse=True)
    c0 = np.bincount(inv[g == 0], minlength=labels.size)
    c1 = np.bincount(inv[g == 1], minlength=labels.size)
    return psi(c0, c1, smoothing, labels.tolist())


def adverse_impact_ratio(approved: Any, group: Any) -> float:
    """Approval rate of the protected group (1) over that of the reference group (0); 0.8 is the 4/5 rule."""
    a = _as_1d(approved, "approved").astype(bool)
    g = binary_target(group, "group")
    r0, r1 = a[g == 0].mean(), a[g == 1].mean()
    if r0 == 0:
        raise ValueError("the reference group has no approvals; the adverse impact ratio is undefined")
    return float(r1 / r0)


@dataclass(frozen=True)
class BinningSolution:
    """An optimal binning over prebins: ``runs`` [(first, last) prebin], its IV and IV_fair, solver status."""

    runs: list[tuple[int, int]]
    iv: float
    iv_fair: float
    status: str


def _jeffreys_terms(c1: np.ndarray, c0: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run (i..j): (P1 - P0) ln(P1 / P0) of the run's shares of two count vectors; inf on an empty cell."""
    cs1, cs0 = np.concatenate([[0], np.cumsum(c1)]), np.concatenate([[0], np.cumsum(c0)])
    s1 = (cs1[ends + 1] - cs1[starts]) / c1.sum()
    s0 = (cs0[ends + 1] - cs0[starts]) / c0.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (s1 - s0) * np.log(s1 / s0)
    t[(s1 == 0) | (s0 == 0)] = np.inf
    return t, np.log(s1 / np.where(s0 == 0, np.nan, s0))


def binning_mip(good: Any, bad: Any, group1: Any | None = None, group0: Any | None = None,
                epsilon: float = np.inf, max_bins: int = 5, min_bin_share: float = 0.0,
                monotonic_trend: str | None = None, time_limit: float = 60.0) -> BinningSolution:
    """Exact IV-optimal binning of P ordered prebins (counts per prebin) under the constraints in the notes.

    good, bad : [P] counts per prebin; group1, group0 : [P] counts of the protected group and the rest (needed
    when epsilon is finite). monotonic_trend : None, "ascending" or "descending" event rate (= descending or
    ascending WoE) across bins. Returns status "Infeasible" with no runs when no binning meets the constraints.
    """
    import pulp
    g, b = np.asarray(good, float), np.asarray(bad, float)
    P = g.size
    starts, ends = np.array([(i, j) for i in range(P) for j in range(i, P)]).T
    iv_t, woe = _jeffreys_terms(g, b, starts, ends)
    ok = np.isfinite(iv_t)
    count = np.concatenate([[0], np.cumsum(g + b)])
    ok &= (count[ends + 1] - count[starts]) >= min_bin_share * count[-1]
    fair_t = np.zeros_like(iv_t)
    if np.isfinite(epsilon):
        if group1 is None or group0 is None:
            raise ValueError("a finite epsilon needs group1 and group0 counts per prebin")
        fair_t, _ = _jeffreys_terms(np.asarray(group1, float), np.asarray(group0, float), starts, ends)
        ok &= np.isfinite(fair_t)
    idx = np.flatnonzero(ok)
    prob = pulp.LpProblem("iv_binning", pulp.LpMaximize)
    new_var = getattr(prob, "add_variable", None)  # PuLP >= 3.3 spelling; LpVariable(...) is deprecated there
    z = {k: (new_var or pulp.LpVariable)(f"z_{starts[k]}_{ends[k]}", cat="Binary") for k in idx}
    prob += pulp.lpSum(float(iv_t[k]) * z[k] for k in idx)
    for p in range(P):
        cover = [z[k] for k in idx if starts[k] <= p <= ends[k]]
        if not cover:
            return BinningSolution([], float("nan"), float("nan"), "Infeasible")
        prob += pulp.lpSum(cover) == 1
    prob += pulp.lpSum(z.values()) <= max_bins
    if np.isfinite(epsilon):
        prob += pulp.lpSum(float(fair_t[k]) * z[k] for k in idx) <= float(epsilon)
    if monotonic_trend is not None:
        if monotonic_trend not in ("ascending", "descending"):
            raise ValueError(f"monotonic_trend must be None, 'ascending' or 'descending'; got {monotonic_trend!r}")
        # event rate ascending <=> WoE (good over bad) descending
        sign = 1.0 if monotonic_trend == "ascending" else -1.0
        by_start: dict[int, list[int]] = {}
        for k in idx:
            by_start.setdefault(int(starts[k]), []).append(k)
        for k in idx:
            for m in by_start.get(int(ends[k]) + 1, []):
                if sign * (woe[m] - woe[k]) > 0:
                    prob += z[k] + z[m] <= 1
    with warnings.catch_warnings():  # PULP_CBC_CMD (the bundled CBC) warns of its PuLP 4 rename; it is the solver
        warnings.simplefilter("ignore", DeprecationWarning)
        prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    status = pulp.LpStatus[prob.status]
    if status != "Optimal":
        return BinningSolution([], float("nan"), float("nan"), status)
    chosen = sorted(k for k in idx if z[k].value() is not None and z[k].value() > 0.5)
    runs = [(int(starts[k]), int(ends[k])) for k in chosen]
    return BinningSolution(runs, float(sum(iv_t[k] for k in chosen)),
                           float(sum(fair_t[k] for k in chosen)) if np.isfinite(epsilon) else float("nan"), status)


def fairness_frontier(x: Any, y: Any, group: Any, epsilons: Any, n_prebins: int = 10, max_bins: int = 5,
                      min_bin_share: float = 0.05, monotonic_trend: str | None = None,
                      approval_rate: float = 0.8, other_features: Any = None) -> pl.DataFrame:
    """Performance–fairness frontier of one numeric feature's binning (exact MIP per epsilon, see notes).

    Parameters
    ----------
    x : [n] numeric feature (the one suspected of proxying the protected attribute); missing values dropped.
    y : [n] target, 1 = bad.  group : [n] 0/1 protected-group membership.
    epsilons : upper bounds on IV_fair of the binned feature (``np.inf`` = unconstrained).
    n_prebins : quantile prebins (cut points at float32, ``x < t`` goes left, as the binner does).
    max_bins, min_bin_share, monotonic_trend : constraints of the binning.
    approval_rate : share of applicants approved (lowest predicted risk) to compute the adverse impact ratio.
    other_features : optional [n, k] numeric matrix (e.g. the WoE of the other features). Given, the "model" is
        a logistic regression on the binned feature's WoE and these columns, refitted per epsilon, and its AUC
        and AIR are reported; otherwise the model is the binned feature's WoE alone. In-sample figures.

    Returns
    -------
    polars DataFrame, one row per epsilon: epsilon, status, n_bins, iv, iv_fair, auc (WoE of the binned feature
    as a score), air (adverse impact ratio at ``approval_rate``), thresholds (list of cut points).
    """
    from sklearn.metrics import roc_auc_score
    xv = _as_1d(x, "x").astype(np.float64)
    yy, gg = binary_target(y), binary_target(group, "group")
    if not (xv.size == yy.size == gg.size):
        raise DataValidationError(f"x, y and group must have the same length; got {xv.size}, {yy.size}, {gg.size}",
                                  rule="shape", column="group")
    ok = ~np.isnan(xv)
    xv, yy, gg = xv[ok], yy[ok], gg[ok]
    other = None
    if other_features is not None:
        other = np.asarray(other_features.to_numpy() if hasattr(other_features, "to_numpy") else other_features,
                           dtype=np.float64)
        if other.ndim != 2 or other.shape[0] != ok.size or not np.all(np.isfinite(other)):
            raise DataValidationError(f"other_features must be a finite [n, k] matrix with n = {ok.size}; got "
                                      f"shape {other.shape}", rule="shape", column="other_features")
        other = other[ok]
    cuts = np.unique(np.quantile(xv, np.linspace(0, 1, n_prebins + 1)[1:-1], method="higher").astype(np.float32))
    cuts = cuts[cuts > np.float32(xv.min())]
    pre = np.searchsorted(cuts, xv.astype(np.float32), side="right")
    P = cuts.size + 1
    good = np.bincount(pre, weights=1 - yy, minlength=P)
    bad = np.bincount(pre, weights=yy, minlength=P)
    g1 = np.bincount(pre, weights=gg, minlength=P)
    g0 = np.bincount(pre, weights=1 - gg, minlength=P)
    rows = []
    for eps in np.atleast_1d(np.asarray(epsilons, dtype=float)):
        sol = binning_mip(good, bad, g1, g0, epsilon=eps if np.isfinite(eps) else np.inf, max_bins=max_bins,
                          min_bin_share=min_bin_share, monotonic_trend=monotonic_trend)
        row = {"epsilon": float(eps), "status": sol.status, "n_bins": len(sol.runs), "iv": sol.iv,
               "iv_fair": sol.iv_fair, "auc": float("nan"), "air": float("nan"), "thresholds": []}
        if sol.runs:
            thr = [float(cuts[j]) for _, j in sol.runs[:-1]]
            bins = np.searchsorted(np.asarray(thr, np.float32), xv.astype(np.float32), side="right")
            gb = np.bincount(bins, weights=1 - yy) / (1 - yy).sum()
            bb = np.bincount(bins, weights=yy) / yy.sum()
            woe = np.log(gb / bb)[bins]
            if not np.isfinite(eps):
                fair = fairness_iv(bins, gg, n_bins=None, smoothing=0).value
                row["iv_fair"] = fair
            risk = -woe  # higher WoE = safer
            if other is not None:
                from sklearn.linear_model import LogisticRegression
                Z = np.column_stack([woe, other])
                risk = LogisticRegression(max_iter=2000).fit(Z, yy).decision_function(Z)
            auc = roc_auc_score(yy, risk) if np.unique(risk).size > 1 else 0.5
            order = np.argsort(risk, kind="stable")
            approved = np.zeros(xv.size, bool)
            approved[order[: int(round(approval_rate * xv.size))]] = True
            row.update(auc=float(auc), air=adverse_impact_ratio(approved, gg), thresholds=thr)
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"thresholds": pl.List(pl.Float64)})
