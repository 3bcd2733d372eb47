"""Scorecards: a logistic regression on WoE or one-hot bins, or monotone depth-1 XGBoost, scaled to points.

Points scaling (Siddiqi, "Credit Risk Scorecards", 2006, ch. 6): score = offset - factor * logit(P(bad)), with
factor = pdo / ln 2 and offset = base_score - factor * ln(base_odds), so that odds good:bad of ``base_odds``
score ``base_score`` and every ``pdo`` points double the odds. Higher score = lower risk. Every model here is
additive in the features, so the score is exactly the sum of an intercept row and one row per feature of the
points table.

Three encodings (Sudjianto & Burakov 2025, section 5):
- "woe": logistic regression on the WoE of the stump bins;
- "onehot": logistic regression on one indicator per bin;
- "stumps": depth-1 XGBoost with monotone constraints on the raw values (categorical levels replaced by
  their event-rate rank); additive, so its points table has one row per interval between its thresholds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from qfin.scorecards._binning import StumpBinner, usable_values
from qfin.scorecards._encoding import WoEEncoder, bin_indices
from qfin.scorecards._frames import columns_of, mixed_input_tags
from qfin.scorecards._measures import binary_target, target_classes

__all__ = ["Scorecard", "points_scaling"]


def points_scaling(pdo: float, base_score: float, base_odds: float) -> tuple[float, float]:
    """(factor, offset) with score = offset - factor * logit(P(bad)); see the module notes."""
    if not (pdo > 0 and base_odds > 0 and math.isfinite(base_score)):
        raise ValueError(f"pdo and base_odds must be > 0 and base_score finite; got pdo={pdo!r}, "
                         f"base_odds={base_odds!r}, base_score={base_score!r}")
    factor = pdo / math.log(2.0)
    return factor, base_score - factor * math.log(base_odds)


def _stump_steps(booster: Any, n_features: int) -> list[dict[str, Any]]:
    """Per feature: ascending thresholds, the margin on each interval, and the margin when missing."""
    trees: list[list[tuple[float, float, float, bool]]] = [[] for _ in range(n_features)]
    for dump in booster.get_dump(dump_format="json"):
        node = json.loads(dump)
        if "split" not in node:
            continue
        f = int(str(node["split"]).lstrip("f"))
        leaves = {c["nodeid"]: c["leaf"] for c in node["children"]}
        trees[f].append((float(np.float32(node["split_condition"])), leaves[node["yes"]], leaves[node["no"]],
                         node["missing"] == node["yes"]))
    steps = []
    for f in range(n_features):
        t = np.unique(np.array([s[0] for s in trees[f]], dtype=np.float32))
        # representative point of interval i: below t_0, between t_{i-1} and t_i, at/above the last
        reps = np.concatenate([[-np.inf], t]) if t.size else np.array([0.0])
        margin = np.zeros(reps.size)
        missing = 0.0
        for thr, left, right, miss_left in trees[f]:
            margin += np.where(reps < np.float32(thr), left, right)
            missing += left if miss_left else right
        steps.append({"thresholds": t, "margin": margin, "missing": missing})
    return steps


class Scorecard(ClassifierMixin, BaseEstimator):
    """A points scorecard: binning, an encoding, an additive model, points scaling.

    Parameters
    ----------
    binner : StumpBinner (cloned at fit); None uses ``StumpBinner(monotonic_trend="auto")``.
    encoding : "woe", "onehot" or "stumps" (module notes).
    smoothing : WoE pseudo-count.  C : inverse L2 strength of the logistic regression.
    pdo, base_score, base_odds : points scaling (defaults 20 points to double the odds, 600 at 50:1).
    n_estimators, learning_rate : the monotone stump model ("stumps" only).  random_state : seed.
    bad_label : the label of the bad/event class when y is not 0/1 (e.g. ``"bad"``; classes_ is then
        [other label, bad_label]); None (default) needs y numeric, 1 = bad, and refuses text labels.

    ``predict_proba`` gives [P(good), P(bad)] (classes_ = [0, 1]); ``points(X)`` the score in points;
    ``points_table()`` the per-feature, per-bin points; ``score(X, y)`` is the ROC AUC (not accuracy: a
    scorecard ranks, so GridSearchCV's default criterion should be discrimination).
    """

    def __init__(self, binner: StumpBinner | None = None, encoding: str = "woe", smoothing: float = 0.5,
                 C: float = 1.0, pdo: float = 20.0, base_score: float = 600.0, base_odds: float = 50.0,
                 n_estimators: int = 200, learning_rate: float = 0.1, random_state: int = 0,
                 bad_label: Any = None) -> None:
        self.binner = binner
        self.encoding = encoding
        self.smoothing = smoothing
        self.C = C
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.bad_label = bad_label

    def __sklearn_tags__(self):  # noqa: D105
        return mixed_input_tags(super().__sklearn_tags__())

    def fit(self, X: Any, y: Any) -> Scorecard:
        """Fit binning, encoding and model on X [n, d] and y [n] (1 = bad)."""
        if self.encoding not in ("woe", "onehot", "stumps"):
            raise ValueError(f"encoding must be 'woe', 'onehot' or 'stumps'; got {self.encoding!r}")
        points_scaling(self.pdo, self.base_score, self.base_odds)
        yy = binary_target(y, bad_label=self.bad_label)
        self.classes_ = target_classes(y, self.bad_label)
        binner = self.binner if self.binner is not None else StumpBinner(monotonic_trend="auto")
        if self.encoding == "stumps":
            self.encoder_ = None
            self.binner_ = clone(binner).set_params(bad_label=None).fit(X, yy)  # yy is 0/1 already
            Z = self._ranked(X)
            sign = np.array([_trend(Z[:, j], yy) for j in range(Z.shape[1])])
            import xgboost as xgb
            self.model_ = xgb.XGBClassifier(n_estimators=self.n_estimators, max_depth=1,
                                            learning_rate=self.learning_rate, tree_method="hist",
                                            monotone_constraints=tuple(int(s) for s in sign),
                                            random_state=self.random_state, n_jobs=1,
                                            base_score=float(yy.mean()))
            self.model_.fit(Z.astype(np.float32), yy)
            self._steps = _stump_steps(self.model_.get_booster(), Z.shape[1])
            self._base_margin = float(self.model_.get_booster().predict(
                __import__("xgboost").DMatrix(np.full((1, Z.shape[1]), np.nan, np.float32)),
                output_margin=True)[0] - sum(s["missing"] for s in self._steps))
        else:
            self.encoder_ = WoEEncoder(binner, encoding=self.encoding, smoothing=self.smoothing).fit(X, yy)
            self.binner_ = self.encoder_.binner_
            self.model_ = LogisticRegression(C=self.C, max_iter=2000)
            self.model_.fit(self._encoded(X), yy)
        self.n_features_in_ = self.binner_.n_features_in_
        if hasattr(self.binner_, "feature_names_in_"):
            self.feature_names_in_ = self.binner_.feature_names_in_
        self.n_samples_fit_ = int(yy.size)
        self.n_minority_fit_ = int(min(yy.sum(), yy.size - yy.sum()))
        return self

    def sample_size(self, tolerance: float = 0.01) -> Any:
        """The p-n criterion of :mod:`qfin.scorecards._sample_size` for the fitted logistic model: p = the
        coefficients plus the intercept, n = the training rows (not defined for "stumps", a boosted model)."""
        from qfin.scorecards._sample_size import sample_size_criterion

        check_is_fitted(self, "model_")
        if self.encoding == "stumps":
            raise ValueError("the sample-size criterion needs a maximum-likelihood fit; encoding 'stumps' is boosted "
                             "(use 'woe' or 'onehot')")
        return sample_size_criterion(int(self.model_.coef_.size) + 1, self.n_samples_fit_, self.n_minority_fit_,
                                     tolerance)

    def _encoded(self, X: Any) -> np.ndarray:
        out = self.encoder_.transform(X)
        return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype=np.float64)

    def _ranked(self, X: Any) -> np.ndarray:
        """Numeric matrix for the stump model: raw numbers, categorical levels as event-rate ranks."""
        bin_indices(self.binner_, X)  # validates columns against the fitted binner
        _, cols, _ = columns_of(X, [j for j, f in enumerate(self.binner_.bins_) if f.kind == "categorical"])
        out = []
        for f, c in zip(self.binner_.bins_, cols, strict=True):
            out.append(usable_values(f.keys(c), f.specials))
        return np.column_stack(out)

    def decision_function(self, X: Any) -> np.ndarray:
        """[n] log-odds of bad."""
        check_is_fitted(self, "model_")
        if self.encoding == "stumps":
            import xgboost as xgb
            return self.model_.get_booster().predict(xgb.DMatrix(self._ranked(X).astype(np.float32)),
                                                     output_margin=True).astype(np.float64)
        return self.model_.decision_function(self._encoded(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """[n, 2]: P(good), P(bad)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Class label (classes_[1] = bad) where P(bad) > 0.5."""
        check_is_fitted(self, "model_")
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def points(self, X: Any) -> np.ndarray:
        """[n] score in points: offset - factor * log-odds of bad (higher = safer)."""
        factor, offset = points_scaling(self.pdo, self.base_score, self.base_odds)
        return offset - factor * self.decision_function(X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """ROC AUC of P(bad) against y (1 = bad)."""
        return float(roc_auc_score(binary_target(y, bad_label=self.bad_label), self.decision_function(X),
                                   sample_weight=sample_weight))

    def points_table(self) -> pl.DataFrame:
        """Rows: feature, bin, points (plus coefficient/woe for the logistic encodings); an "(intercept)" row.

        The score of an applicant is the intercept row plus, for each feature, the points of its bin.
        """
        check_is_fitted(self, "model_")
        factor, offset = points_scaling(self.pdo, self.base_score, self.base_odds)
        rows: list[dict[str, Any]] = []
        if self.encoding == "stumps":
            rows.append({"feature": "(intercept)", "bin": "", "points": offset - factor * self._base_margin})
            for f, s in zip(self.binner_.bins_, self._steps, strict=True):
                edges = [-np.inf, *s["thresholds"].tolist(), np.inf]
                for lo, hi, m in zip(edges[:-1], edges[1:], s["margin"], strict=True):
                    label = f"[{lo:.6g}, {hi:.6g})" if f.kind == "numeric" else self._rank_label(f, lo, hi)
                    rows.append({"feature": f.name, "bin": label, "points": -factor * m})
                rows.append({"feature": f.name, "bin": "Missing", "points": -factor * s["missing"]})
            return pl.DataFrame(rows)
        coef = self.model_.coef_[0]
        rows.append({"feature": "(intercept)", "bin": "", "points": offset - factor * self.model_.intercept_[0]})
        k = 0
        for f, woe, obs in zip(self.binner_.bins_, self.encoder_.woe_, self.encoder_.observed_, strict=True):
            if self.encoding == "woe":
                for i, label in enumerate(f.labels):
                    rows.append({"feature": f.name, "bin": label, "points": -factor * coef[k] * woe[i]})
                k += 1
            else:
                for i, label in enumerate(f.labels):
                    pos = np.flatnonzero(obs == i)
                    c = coef[k + pos[0]] if pos.size else 0.0
                    rows.append({"feature": f.name, "bin": label, "points": -factor * c})
                k += obs.size
        return pl.DataFrame(rows)

    def reason_codes(self, X: Any, n: int = 4) -> Any:
        """Per applicant, the ``n`` features that cost the most points against their best attribute (the
        points-below-maximum method for adverse-action notices): row, rank, feature, attribute, points,
        best_points, points_lost. Polars (or numpy) in, polars out; pandas in, pandas out."""
        from qfin.scorecards._export import reason_codes

        check_is_fitted(self, "model_")
        return reason_codes(self, X, n)

    def to_sql(self, table: str, dialect: str = "ansi") -> str:
        """One standard SQL query scoring every row of ``table`` (points per feature, score, probability_bad)."""
        from qfin.scorecards._export import scorecard_sql

        check_is_fitted(self, "model_")
        return scorecard_sql(self, table, dialect)

    def to_json(self) -> str:
        """A language-neutral JSON spec of the bins, the routing rule and the points."""
        from qfin.scorecards._export import scorecard_json

        check_is_fitted(self, "model_")
        return scorecard_json(self)

    @staticmethod
    def _rank_label(f: Any, lo: float, hi: float) -> str:
        return ", ".join(sorted(lv for lv, r in f.level_rank.items() if lo <= r < hi))


def _trend(x: np.ndarray, y: np.ndarray) -> int:
    """+1 if the event rate rises with x (Pearson sign on non-missing rows), else -1."""
    ok = ~np.isnan(x)
    if ok.sum() < 3 or np.std(x[ok]) == 0:
        return 0
    c = np.corrcoef(x[ok], y[ok])[0, 1]
    return 1 if c >= 0 else -1
