"""Statistics of a strategy's returns against a benchmark's on the same bars: alpha, beta, information ratio,
tracking error, up and down capture.

Definitions (P = periods per year, r the strategy's and b the benchmark's per-period returns, a = r - b):

- beta = cov(r, b) / var(b) (empyrical ``beta``, quantstats ``greeks``);
- alpha = (1 + mean(r - beta b))^P - 1, annualised by compounding (empyrical ``alpha``);
- tracking error = std(a, ddof=1) sqrt(P);
- information ratio = mean(a) / std(a, ddof=1) sqrt(P) (quantstats' ``information_ratio`` is the same ratio per
  period, not annualised);
- up capture = CAGR(r over bars with b > 0) / CAGR(b over the same bars), down capture likewise over b < 0
  (empyrical ``up_capture`` / ``down_capture``; CAGR with years = bars / P).

Undefined cases are NaN: a flat benchmark's beta, a flat active return's ratio, no up (or down) bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import DataValidationError
from qfin.risk._backend import as_samples, check_positive
from qfin.risk._performance import _cagr, _sample_std

__all__ = ["BENCHMARK_STATISTICS", "benchmark_statistics"]

BENCHMARK_STATISTICS = ("alpha", "beta", "information_ratio", "tracking_error", "up_capture", "down_capture")


def _capture(r: np.ndarray, b: np.ndarray, bars: np.ndarray, periods_per_year: float) -> float:
    if not bars.any():
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(_cagr(r[bars], periods_per_year) / _cagr(b[bars], periods_per_year))


def benchmark_statistics(returns: Any, benchmark: Any, periods_per_year: float = 252) -> dict[str, float]:
    """:data:`BENCHMARK_STATISTICS` of [T] ``returns`` against [T] ``benchmark`` returns (see the module docstring).

    Raises :class:`qfin.errors.DataValidationError` when the two differ in length or hold NaN/inf, or T < 2.
    """
    r = as_samples(returns, "returns", ndims=(1,), min_rows=2, allow_tensor=False)
    b = as_samples(benchmark, "benchmark", ndims=(1,), min_rows=2, allow_tensor=False)
    if r.shape != b.shape:
        raise DataValidationError(f"returns ({r.shape[0]}) and benchmark ({b.shape[0]}) must cover the same bars",
                                  rule="shape_mismatch", column="benchmark")
    ppy = check_positive(periods_per_year, "periods_per_year")
    variance = float(np.var(b, ddof=1)) if float(_sample_std(b)) > 0.0 else 0.0
    beta = float(np.cov(r, b, ddof=1)[0, 1] / variance) if variance > 0.0 else float("nan")
    active = r - b
    spread = float(_sample_std(active))
    return {
        "alpha": float((1.0 + np.mean(r - beta * b)) ** ppy - 1.0) if variance > 0.0 else float("nan"),
        "beta": beta,
        "information_ratio": float(np.mean(active) / spread * np.sqrt(ppy)) if spread > 0.0 else float("nan"),
        "tracking_error": spread * float(np.sqrt(ppy)),
        "up_capture": _capture(r, b, b > 0.0, ppy),
        "down_capture": _capture(r, b, b < 0.0, ppy),
    }
