"""Weight-of-evidence and one-hot encodings of binned features.

WoE of bin i = ln(good share / bad share) (good over bad, DESIGN.md section 3), from the training counts with
the pseudo-count ``smoothing``. A bin with no training rows (the missing bin when nothing was missing, a
special value never seen) gets WoE 0: no evidence either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from qfin.scorecards._binning import StumpBinner
from qfin.scorecards._frames import mixed_input_tags, wrap_like
from qfin.scorecards._measures import binary_target, information_value_from_counts

__all__ = ["WoEEncoder", "bin_indices"]


def bin_indices(binner: StumpBinner, X: Any) -> np.ndarray:
    """[n, d] int64 bin indices from a fitted binner, whatever the container type."""
    out = binner.transform(X)
    return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype=np.int64)


class WoEEncoder(TransformerMixin, BaseEstimator):
    """Bin the features (a :class:`StumpBinner`) and encode each bin by its WoE or as one-hot indicators.

    Parameters
    ----------
    binner : a StumpBinner (cloned at fit); None uses ``StumpBinner()``.
    encoding : "woe" ([n, d] WoE values) or "onehot" ([n, sum of observed bins] 0/1 indicators).
    smoothing : pseudo-count for the WoE (0.5 default; 0 reproduces textbook WoE, raising on empty cells).
    bad_label : the label of the bad/event class when y is not 0/1; None needs y numeric, 1 = bad.

    Attributes
    ----------
    binner_ : the fitted binner.  woe_ : per feature, [n_bins] WoE by bin index.
    iv_ : per feature, the :class:`DivergenceResult` over its observed bins (IV, SE, p-value, table).
    """

    def __init__(self, binner: StumpBinner | None = None, encoding: str = "woe", smoothing: float = 0.5,
                 bad_label: Any = None) -> None:
        self.binner = binner
        self.encoding = encoding
        self.smoothing = smoothing
        self.bad_label = bad_label

    def __sklearn_tags__(self):  # noqa: D105
        return mixed_input_tags(super().__sklearn_tags__())

    def fit(self, X: Any, y: Any) -> WoEEncoder:
        """Fit the binner, then the per-bin WoE from the training counts. y: [n], 1 = bad."""
        if self.encoding not in ("woe", "onehot"):
            raise ValueError(f"encoding must be 'woe' or 'onehot'; got {self.encoding!r}")
        yy = binary_target(y, bad_label=self.bad_label)
        # yy is 0/1 already, whatever labels the binner was told to expect
        binner = clone(self.binner if self.binner is not None else StumpBinner()).set_params(bad_label=None)
        self.binner_ = binner.fit(X, yy)
        self.n_features_in_ = self.binner_.n_features_in_
        if hasattr(self.binner_, "feature_names_in_"):
            self.feature_names_in_ = self.binner_.feature_names_in_
        self.woe_, self.iv_, self.observed_ = [], [], []
        for f, (cnt, bad) in zip(self.binner_.bins_, self.binner_.bin_counts_, strict=True):  # the training counts
            obs = cnt > 0
            res = information_value_from_counts(cnt[obs] - bad[obs], bad[obs], self.smoothing,
                                                [lb for lb, o in zip(f.labels, obs, strict=True) if o])
            woe = np.zeros(f.n_bins)
            woe[obs] = res.table["woe"].to_numpy()
            self.woe_.append(woe)
            self.iv_.append(res)
            self.observed_.append(np.flatnonzero(obs))
        return self

    def transform(self, X: Any) -> Any:
        """WoE values [n, d] (float64) or one-hot indicators, as the same container type as X."""
        check_is_fitted(self, "woe_")
        if self.encoding == "woe":
            out = self.binner_.map_bins(X, self.woe_)
        else:
            idx = bin_indices(self.binner_, X)
            out = np.hstack([(idx[:, [j]] == obs[None, :]).astype(np.float64)
                             for j, obs in enumerate(self.observed_)])
        return wrap_like(out, list(self.get_feature_names_out()), X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Input names for "woe"; ``"feature=bin label"`` per indicator for "onehot"."""
        check_is_fitted(self, "woe_")
        names = self.binner_.get_feature_names_out(input_features)
        if self.encoding == "woe":
            return names
        return np.asarray([f"{n}={f.labels[i]}"
                           for n, f, obs in zip(names, self.binner_.bins_, self.observed_, strict=True)
                           for i in obs], dtype=object)

    def iv_table(self) -> pl.DataFrame:
        """One row per feature: iv, std_error, 95% interval, chi-square p-value, bins, zero cells; by IV."""
        check_is_fitted(self, "iv_")
        rows = []
        for f, r in zip(self.binner_.bins_, self.iv_, strict=True):
            lo, hi = r.conf_int()
            rows.append({"feature": f.name, "iv": r.value, "std_error": r.std_error,
                         "std_error_fixed_weights": r.std_error_fixed_weights, "iv_bias_corrected":
                         r.value_bias_corrected, "ci_low": lo, "ci_high": hi, "p_value": r.p_value,
                         "n_bins": r.table.height, "n_zero_cells": r.n_zero_cells})
        return pl.DataFrame(rows).sort("iv", descending=True)
