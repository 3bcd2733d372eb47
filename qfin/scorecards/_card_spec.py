"""A scorecard read back from its JSON spec (:meth:`Scorecard.to_json`, ``scorecard.json`` of a build): bins and
points for a frame without the fitted estimators, following the spec's routing rule exactly as the SQL export does.

Bad input is refused at the boundary, in one line: a feature of the card missing from the frame, a categorical
level the card never saw when the card names no bin for unseen levels (``unseen_bin`` null), a non-numeric value
in a numeric feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qfin.errors import DataValidationError

__all__ = ["CardSpec", "load_card"]


@dataclass(frozen=True)
class CardSpec:
    """The parsed spec: ``intercept`` and, per feature, its JSON entry (name, kind, thresholds, bins, missing,
    specials, levels, unseen_bin). Bin index layout per feature: regular bins, then missing, then specials."""

    intercept: float
    features: list[dict[str, Any]]
    spec: dict[str, Any]

    @property
    def names(self) -> list[str]:
        return [f["name"] for f in self.features]

    def labels(self, j: int) -> list[str]:
        f = self.features[j]
        return [b["label"] for b in f["bins"]] + [f["missing"]["label"]] + [s["label"] for s in f["specials"]]

    def points_of_bins(self, j: int) -> np.ndarray:
        f = self.features[j]
        return np.array([b["points"] for b in f["bins"]] + [f["missing"]["points"]] +
                        [s["points"] for s in f["specials"]], dtype=np.float64)

    def assign(self, frame: Any, name: str = "the data") -> np.ndarray:
        """[n, d] int64 bin index of every row and feature of ``frame`` (polars or pandas), by the spec's rule."""
        frame = _as_polars(frame)
        missing = [c for c in self.names if c not in frame.columns]
        if missing:
            shown = ", ".join(frame.columns[:8]) + (f", ... ({frame.width} in all)" if frame.width > 8 else "")
            raise DataValidationError(f"{name} lacks the scorecard's feature(s) {', '.join(map(repr, missing[:5]))}; "
                                      f"its columns are: {shown}", rule="missing_columns", column=missing[0])
        return np.column_stack([self._bins(j, frame[f["name"]], name) for j, f in enumerate(self.features)])

    def _bins(self, j: int, col: pl.Series, name: str) -> np.ndarray:
        f = self.features[j]
        k = len(f["bins"])
        if f["kind"] == "categorical":
            values = col.cast(pl.Utf8).to_list()
            levels, unseen = f["levels"], f.get("unseen_bin")
            out = np.empty(len(values), dtype=np.int64)
            for i, v in enumerate(values):
                if v is None:
                    out[i] = k
                elif v in levels:
                    out[i] = levels[v]
                elif unseen is not None:
                    out[i] = unseen
                else:
                    raise DataValidationError(
                        f"feature {f['name']!r} of {name} has the level {v!r} (row {i}), unseen when the card was "
                        f"fitted, and the card names no bin for unseen levels; map it to a known level "
                        f"({', '.join(sorted(levels)[:5])}, ...) or to null", rule="unseen_category",
                        column=f["name"], rows=[i])
            return out
        if not (col.dtype.is_numeric() or col.dtype == pl.Null):
            raise DataValidationError(f"feature {f['name']!r} of {name} is numeric in the card but holds {col.dtype} "
                                      f"values; pass numbers (null or NaN for missing)", rule="dtype",
                                      column=f["name"])
        x = col.cast(pl.Float64).fill_null(np.nan).to_numpy()
        t = np.asarray(f["thresholds"], dtype=np.float32)
        out = np.searchsorted(t, x.astype(np.float32), side="right").astype(np.int64)
        out[np.isnan(x)] = k
        for s, spec in enumerate(f["specials"]):
            out[x == spec["value"]] = k + 1 + s
        return out

    def points(self, bins: np.ndarray) -> np.ndarray:
        """[n, d] points of the bins of :meth:`assign`."""
        return np.column_stack([self.points_of_bins(j)[bins[:, j]] for j in range(len(self.features))])


def _as_polars(frame: Any) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    raise DataValidationError(f"the data must be a polars or pandas DataFrame; got {type(frame).__name__}",
                              rule="type")


def load_card(source: Any) -> CardSpec:
    """A :class:`CardSpec` from a fitted :class:`Scorecard`, its JSON text, a ``scorecard.json`` path or a build
    folder holding one."""
    if hasattr(source, "to_json"):
        text = source.to_json()
    else:
        path = Path(source)
        if path.is_dir():
            path = path / "scorecard.json"
        if not path.is_file():
            raise DataValidationError(f"no scorecard at {path}: pass a `qfin scorecard build` folder (it holds "
                                      f"scorecard.json) or the JSON file itself", rule="missing_file", column=str(path))
        text = path.read_text(encoding="utf-8")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataValidationError(f"the scorecard spec is not valid JSON ({e.msg} at line {e.lineno})",
                                  rule="malformed_json") from None
    if not isinstance(spec, dict) or spec.get("format") != "qfin-scorecard/1":
        raise DataValidationError("the scorecard spec is not a qfin scorecard (expected \"format\": "
                                  "\"qfin-scorecard/1\", as Scorecard.to_json writes)", rule="format")
    return CardSpec(intercept=float(spec["intercept"]), features=list(spec["features"]), spec=spec)
