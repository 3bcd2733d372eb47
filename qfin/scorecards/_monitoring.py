"""Discrimination (AUC, Gini, KS with bootstrap intervals) and stability monitoring (PSI/CSI per feature).

Stability thresholds: the industry convention (PSI < 0.10 stable, 0.10–0.25 watch, > 0.25 shifted) and the
paper's tighter one (0.02 / 0.10; Sudjianto & Burakov 2025, section 7) are both available by name; a p-value
from the chi-square result (PSI / (1/n + 1/m) ~ chi2(B - 1)) says whether a shift is more than noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from qfin.errors import DataValidationError
from qfin.scorecards._measures import binary_target, psi

__all__ = ["discrimination", "stability_report", "THRESHOLDS"]

THRESHOLDS = {"industry": (0.10, 0.25), "paper": (0.02, 0.10)}


def _auc_ks(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUC by the rank-sum (Mann–Whitney, ties averaged) and KS = max |F_bad - F_good| over thresholds."""
    from scipy.stats import rankdata
    n1 = y.sum()
    n0 = y.size - n1
    r = rankdata(s)
    auc = (r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    order = np.argsort(s, kind="stable")
    ys, ss = y[order], s[order]
    last = np.r_[ss[1:] != ss[:-1], True]  # evaluate the ECDFs only between distinct scores
    cb = np.cumsum(ys)[last] / n1
    cg = np.cumsum(1 - ys)[last] / n0
    return float(auc), float(np.max(np.abs(cb - cg)))


def discrimination(y: Any, score: Any, n_boot: int = 500, level: float = 0.95, seed: int = 0) -> pl.DataFrame:
    """AUC, Gini (= 2 AUC - 1) and KS of a risk score (higher = riskier) with percentile bootstrap intervals.

    y : [n] 1 = bad.  score : [n] risk score (e.g. P(bad); pass -points for a points score).
    Returns a DataFrame with rows auc, gini, ks and columns metric, value, ci_low, ci_high.
    """
    yy = binary_target(y)
    s = np.asarray(score.to_numpy() if hasattr(score, "to_numpy") else score, dtype=np.float64)
    if s.shape != yy.shape or not np.all(np.isfinite(s)):
        raise DataValidationError(f"score must be {yy.size} finite numbers, one per row of y; got shape {s.shape}",
                                  rule="shape", column="score")
    auc, ks = _auc_ks(yy, s)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, yy.size, yy.size)
        if 0 < yy[i].sum() < yy.size:
            boot.append(_auc_ks(yy[i], s[i]))
    b = np.array(boot)
    a = (1 - level) / 2
    lo, hi = np.quantile(b, [a, 1 - a], axis=0)
    return pl.DataFrame({"metric": ["auc", "gini", "ks"], "value": [auc, 2 * auc - 1, ks],
                         "ci_low": [lo[0], 2 * lo[0] - 1, lo[1]], "ci_high": [hi[0], 2 * hi[0] - 1, hi[1]]})


def stability_report(expected_bins: Any, actual_bins: Any, n_bins: list[int] | None = None,
                     thresholds: str | tuple[float, float] = "industry", smoothing: float = 0.5) -> pl.DataFrame:
    """PSI (CSI for features) per column between two [n, d] / [m, d] arrays of bin indices.

    The bins are those of a fitted binner (``binner.transform``), with a score column appended if wanted.
    thresholds : "industry" (0.10 / 0.25), "paper" (0.02 / 0.10) or a (watch, shifted) pair.
    Returns one row per column: column, psi, std_error, p_value, status ("stable", "watch", "shifted").
    """
    lim = THRESHOLDS.get(thresholds) if isinstance(thresholds, str) else tuple(thresholds)
    if lim is None or len(lim) != 2 or not 0 <= lim[0] <= lim[1]:
        raise ValueError(f"thresholds must be 'industry', 'paper' or a (watch, shifted) pair; got {thresholds!r}")
    names = list(expected_bins.columns) if hasattr(expected_bins, "columns") else None
    e = np.asarray(expected_bins.to_numpy() if hasattr(expected_bins, "to_numpy") else expected_bins, dtype=np.int64)
    a = np.asarray(actual_bins.to_numpy() if hasattr(actual_bins, "to_numpy") else actual_bins, dtype=np.int64)
    if e.ndim != 2 or a.ndim != 2 or e.shape[1] != a.shape[1]:
        raise DataValidationError(f"expected_bins and actual_bins must be 2-D with the same columns; got {e.shape} "
                                  f"and {a.shape}", rule="shape", column="actual_bins")
    rows = []
    for j in range(e.shape[1]):
        k = max(int(e[:, j].max()), int(a[:, j].max())) + 1 if n_bins is None else n_bins[j]
        ce, ca = np.bincount(e[:, j], minlength=k), np.bincount(a[:, j], minlength=k)
        keep = (ce + ca) > 0  # bins empty in both samples carry no information
        r = psi(ce[keep], ca[keep], smoothing)
        status = "stable" if r.value < lim[0] else ("watch" if r.value < lim[1] else "shifted")
        rows.append({"column": names[j] if names else f"x{j}", "psi": r.value, "std_error": r.std_error,
                     "p_value": r.p_value, "status": status})
    return pl.DataFrame(rows)
