"""Discrimination (AUC, Gini, KS with bootstrap intervals), stability (PSI/CSI per feature) and the monitoring
report of a scorecard between a reference and a new sample (:func:`monitor`: PSI per feature and for the score
with standard errors and p-values, characteristic analysis, KS/Gini drift, alerts).

Characteristic analysis (Siddiqi 2006, ch. 11): per bin, (new share - reference share) x the bin's points; summed
over a feature's bins, the change in the mean score that the shift in that feature's mix causes.

Stability thresholds: the industry convention (PSI < 0.10 stable, 0.10–0.25 watch, > 0.25 shifted) and the
paper's tighter one (0.02 / 0.10; Sudjianto & Burakov 2025, section 7) are both available by name; a p-value
from the chi-square result (PSI / (1/n + 1/m) ~ chi2(B - 1)) says whether a shift is more than noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from qfin.errors import DataValidationError
from qfin.scorecards._measures import binary_target, psi

__all__ = ["discrimination", "stability_report", "THRESHOLDS", "monitor", "MonitoringReport"]

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


@dataclass
class MonitoringReport:
    """A reference sample against a new one under one scorecard (:func:`monitor`).

    features : per feature: feature, psi, std_error, p_value, status, points_shift (the characteristic
        analysis total: the mean score change the feature's shift in mix causes, in points).
    characteristic : per feature and bin: feature, bin, points, reference_share, new_share, points_shift =
        (new_share - reference_share) * points.
    score : the score's PSI over the reference deciles (psi, std_error, p_value, status, bins), its mean in both.
    discrimination : with targets in both samples, per metric (auc, gini, ks): reference, new, drift (new -
        reference) and the 95% bootstrap intervals; None otherwise.
    alerts : level ("alert" or "warning"), check, column, value, threshold, message; empty when all is quiet.
    """

    features: pl.DataFrame
    characteristic: pl.DataFrame
    score: dict
    discrimination: pl.DataFrame | None
    alerts: pl.DataFrame
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """The per-feature table with a last row for the score (what an alerting job reads)."""
        score = pl.DataFrame({"feature": ["(score)"], "psi": [self.score["psi"]],
                              "std_error": [self.score["std_error"]], "p_value": [self.score["p_value"]],
                              "status": [self.score["status"]],
                              "points_shift": [self.score["new_mean"] - self.score["reference_mean"]]})
        return pl.concat([self.features, score], how="vertical_relaxed")

    def to_dict(self) -> dict:
        return {"settings": self.settings, "score": self.score, "features": self.features.to_dicts(),
                "characteristic": self.characteristic.to_dicts(),
                "discrimination": None if self.discrimination is None else self.discrimination.to_dicts(),
                "alerts": self.alerts.to_dicts()}

    def to_json(self) -> str:
        """The whole report as strict JSON (non-finite numbers as null)."""
        from qfin.data import strict_json
        return strict_json(self.to_dict())


def _status(value: float, lim: tuple[float, float]) -> str:
    return "stable" if value < lim[0] else ("watch" if value < lim[1] else "shifted")


def _limits(thresholds: Any) -> tuple[float, float]:
    lim = THRESHOLDS.get(thresholds) if isinstance(thresholds, str) else tuple(thresholds)
    if lim is None or len(lim) != 2 or not 0 <= lim[0] <= lim[1]:
        raise ValueError(f"thresholds must be 'industry', 'paper' or a (watch, shifted) pair; got {thresholds!r}")
    return lim


def monitor(card: Any, reference: Any, new: Any, target: str | None = None,
            thresholds: str | tuple[float, float] = "industry", max_gini_drop: float = 0.05,
            max_ks_drop: float = 0.05, n_boot: int = 200, seed: int = 0) -> MonitoringReport:
    """Monitor a scorecard between a reference sample (e.g. the development data) and a new one.

    card : a fitted :class:`Scorecard`, its JSON spec, or a build folder holding ``scorecard.json``.
    reference, new : polars or pandas frames holding the card's features (and ``target`` when given).
    target : the 0/1 column (1 = bad); when both samples hold it, the score's AUC/Gini/KS in each and their drift.
    thresholds : PSI limits, "industry" (0.10 / 0.25), "paper" (0.02 / 0.10) or a (watch, shifted) pair; a
        feature or the score at "watch" is a warning, at "shifted" an alert.
    max_gini_drop, max_ks_drop : an alert when the new sample's Gini (KS) is lower by more than this.
    """
    from qfin.scorecards._card_spec import _as_polars, load_card

    lim = _limits(thresholds)
    spec = load_card(card)
    ref, cur = _as_polars(reference), _as_polars(new)
    b_ref, b_new = spec.assign(ref, "the reference sample"), spec.assign(cur, "the new sample")
    p_ref, p_new = spec.points(b_ref), spec.points(b_new)
    s_ref, s_new = spec.intercept + p_ref.sum(axis=1), spec.intercept + p_new.sum(axis=1)
    feat_rows, char_rows, alerts = [], [], []
    for j, name in enumerate(spec.names):
        labels, pts = spec.labels(j), spec.points_of_bins(j)
        ce = np.bincount(b_ref[:, j], minlength=len(labels)).astype(float)
        ca = np.bincount(b_new[:, j], minlength=len(labels)).astype(float)
        keep = (ce + ca) > 0
        r = psi(ce[keep], ca[keep])
        share_e, share_a = ce / ce.sum(), ca / ca.sum()
        shift = (share_a - share_e) * pts
        for i in np.flatnonzero(keep):
            char_rows.append({"feature": name, "bin": labels[i], "points": float(pts[i]),
                              "reference_share": float(share_e[i]), "new_share": float(share_a[i]),
                              "points_shift": float(shift[i])})
        status = _status(r.value, lim)
        feat_rows.append({"feature": name, "psi": r.value, "std_error": r.std_error, "p_value": r.p_value,
                          "status": status, "points_shift": float(shift.sum())})
        _alert(alerts, status, "feature_psi", name, r.value, lim, r.p_value)
    edges = np.unique(np.quantile(s_ref, np.linspace(0.1, 0.9, 9)))
    se, sa = np.searchsorted(edges, s_ref, side="right"), np.searchsorted(edges, s_new, side="right")
    k = edges.size + 1
    r = psi(np.bincount(se, minlength=k), np.bincount(sa, minlength=k))
    score = {"psi": r.value, "std_error": r.std_error, "p_value": r.p_value, "status": _status(r.value, lim),
             "bins": k, "reference_mean": float(s_ref.mean()), "new_mean": float(s_new.mean()),
             "reference_rows": int(s_ref.size), "new_rows": int(s_new.size)}
    _alert(alerts, score["status"], "score_psi", "(score)", r.value, lim, r.p_value)
    disc = None
    if target is not None:
        for frame, which in ((ref, "reference"), (cur, "new")):
            if target not in frame.columns:
                raise DataValidationError(f"target column {target!r} is not in the {which} sample; pass target=None "
                                          f"to monitor without outcomes", rule="missing_columns", column=target)
        d_ref = discrimination(ref[target].to_numpy(), -s_ref, n_boot=n_boot, seed=seed)
        d_new = discrimination(cur[target].to_numpy(), -s_new, n_boot=n_boot, seed=seed)
        disc = pl.DataFrame({"metric": d_ref["metric"], "reference": d_ref["value"], "new": d_new["value"],
                             "drift": d_new["value"] - d_ref["value"], "reference_ci_low": d_ref["ci_low"],
                             "reference_ci_high": d_ref["ci_high"], "new_ci_low": d_new["ci_low"],
                             "new_ci_high": d_new["ci_high"]})
        for metric, limit in (("gini", max_gini_drop), ("ks", max_ks_drop)):
            drop = -float(disc.filter(pl.col("metric") == metric)["drift"][0])
            if drop > limit:
                alerts.append({"level": "alert", "check": f"{metric}_drop", "column": "(score)", "value": drop,
                               "threshold": limit, "message": f"the score's {metric.upper()} fell by {drop:.3f} "
                                                              f"(more than {limit:g})"})
    schema = {"level": pl.Utf8, "check": pl.Utf8, "column": pl.Utf8, "value": pl.Float64, "threshold": pl.Float64,
              "message": pl.Utf8}
    settings = {"thresholds": list(lim), "max_gini_drop": max_gini_drop, "max_ks_drop": max_ks_drop,
                "target": target, "n_boot": n_boot, "seed": seed}
    return MonitoringReport(pl.DataFrame(feat_rows), pl.DataFrame(char_rows), score, disc,
                            pl.DataFrame(alerts, schema=schema), settings)


def _alert(alerts: list, status: str, check: str, column: str, value: float, lim: tuple[float, float],
           p_value: float) -> None:
    if status == "stable":
        return
    level, limit = ("alert", lim[1]) if status == "shifted" else ("warning", lim[0])
    alerts.append({"level": level, "check": check, "column": column, "value": value, "threshold": limit,
                   "message": f"{column}: PSI {value:.3f} >= {limit:g} ({status}; p = {p_value:.2g})"})
