"""Selection on risk and on lower bounds, against a hand-worked example.

Four candidates a, b, c, d with true CVaRs [-3, -1, -2, -0.5], estimated CVaRs [-1.0, -2.5, -1.5, -0.8] and
lower bounds [-4, -1.8, -2.2, -2.0]; the behavior policy's true CVaR is -2.

- by estimate the top 3 are d, a, c: true [-0.5, -3, -2], best -0.5, std (ddof 1) sqrt(19/12) = 1.258306, so
  SharpeRatio@3 = 1.5 / 1.258306 = 1.192079; worst -3; one of three below -2 (safety violation 1/3);
- by lower bound the top 3 are b, d, c: true [-1, -0.5, -2], std sqrt(7/12) = 0.763763, SharpeRatio@3 =
  1.5 / 0.763763 = 1.963961; worst -2; no violation.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from qfin.errors import DataValidationError
from qfin.ope._risk_selection import assess_risk_selection

NAMES = ["a", "b", "c", "d"]
TRUE_CVAR = dict(zip(NAMES, [-3.0, -1.0, -2.0, -0.5], strict=True))
TRUE_MEAN = dict(zip(NAMES, [1.0, 0.5, 0.8, 0.2], strict=True))


def _estimates() -> pl.DataFrame:
    return pl.DataFrame({"dataset": [0] * 4, "candidate": NAMES, "estimator": ["x"] * 4,
                         "cvar": [-1.0, -2.5, -1.5, -0.8], "cvar_low": [-4.0, -1.8, -2.2, -2.0],
                         "mean": [0.9, 0.6, 0.7, 0.1], "mean_low": [0.1, 0.5, 0.6, 0.0]})


def _metric(table: pl.DataFrame, criterion: str, metric: str, k: int) -> float:
    row = table.filter((pl.col("criterion") == criterion) & (pl.col("metric") == metric) & (pl.col("k") == k))
    return float(row["mean"][0])


def test_selection_by_cvar_and_by_its_lower_bound_match_the_hand_worked_example():
    table = assess_risk_selection(_estimates(), {"cvar": TRUE_CVAR, "mean": TRUE_MEAN},
                                  {"cvar": -2.0, "mean": 0.3}, criteria=["cvar", "safe_cvar", "mean"], ks=[3])
    assert _metric(table, "cvar", "sharpe_ratio_at_k", 3) == pytest.approx(1.5 / math.sqrt(19 / 12), abs=1e-12)
    assert _metric(table, "safe_cvar", "sharpe_ratio_at_k", 3) == pytest.approx(1.5 / math.sqrt(7 / 12), abs=1e-12)
    assert _metric(table, "cvar", "worst_at_k", 3) == -3.0
    assert _metric(table, "safe_cvar", "worst_at_k", 3) == -2.0
    assert _metric(table, "cvar", "safety_violation_rate", 3) == pytest.approx(1 / 3, abs=1e-15)
    assert _metric(table, "safe_cvar", "safety_violation_rate", 3) == 0.0
    # by mean: top 3 a, c, b: true means [1.0, 0.8, 0.5], std sqrt(0.0633...) ; (1.0 - 0.3) / std
    std = math.sqrt(((1.0 - 23 / 30) ** 2 + (0.8 - 23 / 30) ** 2 + (0.5 - 23 / 30) ** 2) / 2)
    assert _metric(table, "mean", "sharpe_ratio_at_k", 3) == pytest.approx(0.7 / std, abs=1e-12)


def test_bad_inputs_are_one_line():
    with pytest.raises(DataValidationError, match="unknown criteria"):
        assess_risk_selection(_estimates(), {"cvar": TRUE_CVAR}, {"cvar": -2.0}, criteria=["var"])
    with pytest.raises(DataValidationError, match="needs estimates column 'mean_low'"):
        assess_risk_selection(_estimates().drop("mean_low"), {"mean": TRUE_MEAN}, {"mean": 0.3},
                              criteria=["safe_mean"], ks=[3])
