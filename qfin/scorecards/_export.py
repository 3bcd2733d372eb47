"""A scorecard for production: reason codes for adverse-action notices, one SQL query that scores a table, and a
language-neutral JSON spec of its bins and points. All read :func:`qfin.scorecards._layout.layouts`, so they
give :meth:`Scorecard.points` for every row.

Reason codes follow the points-below-maximum method: for each feature, the points the applicant's attribute
gives against the most points any attribute of that feature gives; the features that cost the most are the
reasons, largest first (ties, to 1e-9 points: the feature that comes first in the scorecard), features that
cost nothing left out. Missing and special values are attributes like any other.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import numpy as np
import polars as pl

from qfin.scorecards._frames import frame_kind
from qfin.scorecards._layout import FeatureLayout, feature_points, layouts

__all__ = ["reason_codes", "scorecard_json", "scorecard_sql"]

Dialect = Literal["sqlite", "duckdb", "postgres", "ansi"]


def reason_codes(card: Any, X: Any, n: int = 4) -> Any:
    """Per applicant, up to ``n`` rows: row, rank, feature, attribute, points, best_points, points_lost. A polars
    frame for polars or numpy input, a pandas frame for pandas input (``row`` is then the index label)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (reasons per applicant), got {n!r}")
    points, labels, lays, _ = feature_points(card, X)
    best = np.array([lay.best_points for lay in lays])
    lost = best[None, :] - points
    # losses equal to 1e-9 points are ties; a stable sort keeps the scorecard's feature order among them
    order = np.argsort(-np.round(lost, 9), axis=1, kind="stable")[:, :n]
    rows = np.repeat(np.arange(points.shape[0]), order.shape[1])
    cols = order.ravel()
    keep = lost[rows, cols] > 1e-9
    rows, cols = rows[keep], cols[keep]
    rank = np.concatenate([np.arange(1, c + 1) for c in np.bincount(rows, minlength=points.shape[0])]) \
        if rows.size else np.zeros(0, dtype=np.int64)
    frame = pl.DataFrame({
        "row": rows.astype(np.int64), "rank": rank.astype(np.int64),
        "feature": [lays[c].name for c in cols], "attribute": labels[rows, cols].astype(str).tolist(),
        "points": points[rows, cols], "best_points": best[cols], "points_lost": lost[rows, cols]})
    if frame_kind(X) == "pandas":
        out = frame.to_pandas()
        out["row"] = X.index[out["row"].to_numpy()]
        return out
    return frame


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value: Any) -> str:
    """A string as a quoted SQL literal; a number as an approximate numeric literal (``1.25e+01``), a DOUBLE in
    every dialect (``12.5`` is a DECIMAL in some), written with the 17 digits that round-trip float64."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"{float(value):.16e}"


def _below(threshold: np.float32) -> str:
    """The float64 condition on x equivalent to float32(x) < threshold (round to nearest, ties to even): x below
    the midpoint between the threshold and the float32 just under it (at the midpoint, the even one wins)."""
    t = np.float32(threshold)
    previous = np.nextafter(t, np.float32(-np.inf), dtype=np.float32)
    middle = (float(previous) + float(t)) / 2.0  # exact in float64
    even_above = int(t.view(np.uint32)) % 2 == 0
    return f"< {_literal(middle)}" if even_above else f"<= {_literal(middle)}"


def _case(lay: FeatureLayout) -> str:
    column = _quote(lay.name)
    parts = [f"WHEN {column} IS NULL THEN {_literal(lay.missing_points)}"]
    if lay.kind == "categorical":
        for b, pts in enumerate(lay.points):
            members = sorted(level for level, bin_ in lay.levels.items() if bin_ == b)
            if members:
                parts.append(f"WHEN {column} IN ({', '.join(_literal(m) for m in members)}) THEN {_literal(pts)}")
        default = lay.missing_points if lay.unseen_bin is None else float(lay.points[lay.unseen_bin])
        parts.append(f"ELSE {_literal(default)}")  # an unseen level: the pooled rare levels' bin, else missing
    else:
        parts += [f"WHEN {column} = {_literal(value)} THEN {_literal(pts)}" for value, _, pts in lay.specials]
        parts += [f"WHEN {column} {_below(t)} THEN {_literal(p)}"
                  for t, p in zip(lay.thresholds, lay.points[:-1], strict=True)]
        parts.append(f"ELSE {_literal(lay.points[-1])}")
    return "CASE " + " ".join(parts) + " END"


def scorecard_sql(card: Any, table: str, dialect: Dialect = "ansi") -> str:
    """One SELECT scoring every row of ``table``: its columns, then ``points_<feature>`` per feature, ``score``
    and ``probability_bad``. Standard SQL (CASE, IN, EXP); the dialect only picks identifier quoting, which all
    of sqlite, duckdb and postgres share."""
    if dialect not in ("sqlite", "duckdb", "postgres", "ansi"):
        raise ValueError(f"dialect must be one of sqlite, duckdb, postgres, ansi; got {dialect!r}")
    from qfin.scorecards._scorecard import points_scaling

    intercept, lays = layouts(card)
    factor, offset = points_scaling(card.pdo, card.base_score, card.base_odds)
    cases = [f"  {_case(lay)} AS {_quote('points_' + lay.name)}" for lay in lays]
    total = " + ".join([_literal(intercept), *(_quote("points_" + lay.name) for lay in lays)])
    return (f"SELECT *, {total} AS score,\n"
            f"  1e0 / (1e0 + EXP(({total} - {_literal(offset)}) / {_literal(factor)})) AS probability_bad\n"
            f"FROM (SELECT *,\n" + ",\n".join(cases) + f"\nFROM {_quote(table)}) AS scored")


def scorecard_json(card: Any) -> str:
    """The scorecard as JSON: scaling, intercept, and per feature its kind, cut points (with the float32 routing
    rule spelled out), bins (label, points), missing and special bins, and categorical levels."""
    intercept, lays = layouts(card)
    spec = {
        "format": "qfin-scorecard/1", "encoding": card.encoding,
        "scaling": {"pdo": card.pdo, "base_score": card.base_score, "base_odds": card.base_odds,
                    "score": "intercept + sum of the features' points; higher = safer",
                    "probability_bad": "1 / (1 + exp((score - offset) / factor)), factor = pdo / ln 2, "
                                       "offset = base_score - factor * ln(base_odds)"},
        "routing": "missing -> missing bin; special value -> its bin; else regular bin = number of thresholds "
                   "t with t <= float32(value) (categorical: the level's bin; unseen levels -> unseen_bin)",
        "intercept": intercept,
        "features": [{
            "name": lay.name, "kind": lay.kind, "thresholds": [float(t) for t in lay.thresholds],
            "bins": [{"label": label, "points": float(p)} for label, p in zip(lay.labels, lay.points, strict=True)],
            "missing": {"label": lay.missing_label, "points": lay.missing_points},
            "specials": [{"value": v, "label": label, "points": p} for v, label, p in lay.specials],
            **({"levels": lay.levels, "unseen_bin": lay.unseen_bin} if lay.kind == "categorical" else {}),
        } for lay in lays],
    }
    return json.dumps(spec, indent=2, allow_nan=False, default=lambda v: None if isinstance(v, float)
                      and not math.isfinite(v) else v)
