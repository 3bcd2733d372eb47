"""A fitted scorecard as data: per feature, how a value finds its bin and the points of every bin.

What the reason codes, the SQL export and the JSON spec all read, so they agree with :meth:`Scorecard.points` by
construction (a test holds the sum of the per-feature points plus the intercept equal to it for every row).

Routing (the binner's and XGBoost's): a missing value goes to the missing bin; a numeric special value to its
own bin; otherwise the regular bin is the number of cut points t with t <= float32(key), the key being the value
(numeric) or the level's rank (categorical; an unseen level takes the rank of the pooled rare levels, else it
is missing). The stump encoding has its own cut points, and sends special values to its missing branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qfin.scorecards._binning import OTHER
from qfin.scorecards._encoding import bin_indices

__all__ = ["FeatureLayout", "feature_points", "layouts"]


@dataclass(frozen=True)
class FeatureLayout:
    """One feature of a fitted scorecard (module notes).

    name, kind ("numeric" | "categorical"); thresholds : float32 cut points of the regular bins; labels /
    points : one per regular bin; missing_label / missing_points; specials : (value, label, points) per special
    value with a bin of its own; levels : categorical level -> regular bin; unseen_bin : the regular bin of an
    unseen level (None: it is missing).
    """

    name: str
    kind: str
    thresholds: np.ndarray
    labels: list[str]
    points: np.ndarray
    missing_label: str
    missing_points: float
    specials: list[tuple[float, str, float]] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)
    unseen_bin: int | None = None

    @property
    def best_points(self) -> float:
        """The most points any attribute of this feature gives."""
        return float(max(self.points.max(), self.missing_points, *(p for _, _, p in self.specials)))

    def regular_bin(self, key: np.ndarray) -> np.ndarray:
        """[n] regular bin of each non-missing key: how many cut points are <= float32(key)."""
        return (self.thresholds[None, :] <= np.asarray(key, dtype=np.float32)[:, None]).sum(axis=1)


def _level_bins(f: Any, thresholds: np.ndarray) -> tuple[dict[str, int], int | None]:
    """Each seen level's regular bin under ``thresholds`` on the level ranks, and the bin of an unseen one."""
    def bin_of(rank: float) -> int:
        return int((thresholds <= np.float32(rank)).sum())

    levels = {level: bin_of(rank) for level, rank in f.level_rank.items() if level != OTHER}
    unseen = bin_of(f.level_rank[OTHER]) if OTHER in f.level_rank else None
    return levels, unseen


def layouts(card: Any) -> tuple[float, list[FeatureLayout]]:
    """(intercept points, one :class:`FeatureLayout` per feature) of a fitted :class:`Scorecard`."""
    table = card.points_table()
    intercept = float(table.filter(table["feature"] == "(intercept)")["points"][0])
    out = []
    for j, f in enumerate(card.binner_.bins_):
        rows = table.filter(table["feature"] == f.name)
        labels, points = rows["bin"].to_list(), rows["points"].to_numpy()
        if card.encoding == "stumps":
            thresholds = np.asarray(card._steps[j]["thresholds"], dtype=np.float32)
            regular = len(thresholds) + 1
            missing_points = float(points[regular])
            # the stump model sends special values down its missing branch
            specials = [(float(v), "Missing", missing_points) for v in f.specials]
        else:
            thresholds = np.asarray(f.thresholds, dtype=np.float32)
            regular = f.n_regular
            missing_points = float(points[f.missing_bin])
            specials = [(float(v), labels[f.missing_bin + 1 + s], float(points[f.missing_bin + 1 + s]))
                        for s, v in enumerate(f.specials)]
        levels, unseen = _level_bins(f, thresholds) if f.kind == "categorical" else ({}, None)
        out.append(FeatureLayout(f.name, f.kind, thresholds, labels[:regular], points[:regular], "Missing",
                                 missing_points, specials, levels, unseen))
    return intercept, out


def feature_points(card: Any, X: Any) -> tuple[np.ndarray, np.ndarray, list[FeatureLayout], float]:
    """([n, d] points of each applicant's attribute per feature, [n, d] attribute labels, the layouts, the
    intercept) of a fitted scorecard on X, routed by the scorecard's own binning (or, for stumps, its keys)."""
    intercept, lays = layouts(card)
    if card.encoding == "stumps":
        keys = card._ranked(X)  # validates X against the fitted binner; specials are NaN here
        points, labels = np.empty(keys.shape), np.empty(keys.shape, dtype=object)
        for j, lay in enumerate(lays):
            missing = np.isnan(keys[:, j])
            regular = lay.regular_bin(np.where(missing, 0.0, keys[:, j]))
            points[:, j] = np.where(missing, lay.missing_points, lay.points[regular])
            labels[:, j] = np.where(missing, lay.missing_label, np.asarray(lay.labels, dtype=object)[regular])
        return points, labels, lays, intercept
    bins = bin_indices(card.binner_, X)  # [n, d] index into each feature's labels: regular, missing, specials
    points, labels = np.empty(bins.shape), np.empty(bins.shape, dtype=object)
    for j, (lay, f) in enumerate(zip(lays, card.binner_.bins_, strict=True)):
        every = np.concatenate([lay.points, [lay.missing_points], [p for _, _, p in lay.specials]])
        points[:, j] = every[bins[:, j]]
        labels[:, j] = np.asarray(f.labels, dtype=object)[bins[:, j]]
    return points, labels, lays, intercept
