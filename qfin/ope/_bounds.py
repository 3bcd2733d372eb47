"""High-confidence off-policy evaluation: confidence intervals on a mean of independent per-trajectory estimates
(e.g. the importance-weighted returns w_i G_i of TIS), so a risk committee gets a bound, not a point.

Methods, each a two-sided interval at ``level`` (each side at (1 - level) / 2):

- ``"t"``: Student t on the sample mean (asymptotically exact; assumes near-normal means).
- ``"bootstrap"``: percentile bootstrap of the mean; ``"bca"``: bias-corrected and accelerated (Efron 1987, the
  acceleration from the jackknife).
- ``"hoeffding"``: exact for any distribution on a known range [low, high] (Hoeffding 1963): conservative.
- ``"bernstein"``: the empirical Bernstein bound on [low, high] (Maurer & Pontil 2009, Theorem 4, split over the
  two sides), tighter than Hoeffding when the variance is small; conservative.

The range-based bounds need ``bounds=(low, high)`` that hold for every sample (for TIS: the weights' and returns'
extremes); they never cover less than nominally, at the price of width.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from qfin.errors import QfinError

__all__ = ["BOUND_METHODS", "confidence_interval"]

BOUND_METHODS = ("t", "bootstrap", "bca", "hoeffding", "bernstein")
Method = Literal["t", "bootstrap", "bca", "hoeffding", "bernstein"]


def confidence_interval(samples: np.ndarray, level: float = 0.95, method: Method = "t", *,
                        bounds: tuple[float, float] | None = None, n_bootstrap: int = 2000,
                        seed: int | np.random.Generator | None = 0) -> tuple[float, float]:
    """(lower, upper) confidence bounds on the mean of ``samples`` [n] at ``level`` by ``method``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise QfinError(f"confidence bounds need at least 2 finite samples in a 1-D array; got shape {x.shape}"
                        + ("" if x.size == 0 or np.all(np.isfinite(x)) else " with non-finite values"))
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise QfinError(f"level must lie in (0, 1), e.g. 0.95; got {level!r}")
    delta = 1.0 - level
    n, mean = x.size, float(x.mean())
    if method == "t":
        from scipy.stats import t

        half = t.ppf(1.0 - delta / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
        return mean - half, mean + half
    if method in ("bootstrap", "bca"):
        return _bootstrap(x, delta, method, n_bootstrap, seed)
    if method in ("hoeffding", "bernstein"):
        low, high = _range(x, bounds, method)
        width = high - low
        if method == "hoeffding":
            half = width * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
        else:
            log_term = math.log(4.0 / delta)
            half = math.sqrt(2.0 * x.var(ddof=1) * log_term / n) + 7.0 * width * log_term / (3.0 * (n - 1))
        return max(mean - half, low), min(mean + half, high)
    raise QfinError(f"method must be one of {', '.join(BOUND_METHODS)}; got {method!r}")


def _range(x: np.ndarray, bounds: tuple[float, float] | None, method: str) -> tuple[float, float]:
    if bounds is None or len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise QfinError(f"method {method!r} needs bounds=(low, high), a range every sample lies in; got {bounds!r}")
    low, high = float(bounds[0]), float(bounds[1])
    if x.min() < low or x.max() > high:
        raise QfinError(f"samples lie outside bounds=({low:g}, {high:g}): min {x.min():g}, max {x.max():g}")
    return low, high


def _bootstrap(x: np.ndarray, delta: float, method: str, n_bootstrap: int, seed) -> tuple[float, float]:
    from scipy.stats import norm

    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 100:
        raise QfinError(f"n_bootstrap must be an integer >= 100; got {n_bootstrap!r}")
    rng = np.random.default_rng(seed)
    n, mean = x.size, float(x.mean())
    means = np.sort(x[rng.integers(0, n, (n_bootstrap, n))].mean(axis=1))
    lo_q, hi_q = delta / 2, 1.0 - delta / 2
    if method == "bca":
        share = np.clip(np.mean(means < mean), 1.0 / n_bootstrap, 1.0 - 1.0 / n_bootstrap)
        z0 = norm.ppf(share)
        jack = (n * mean - x) / (n - 1)  # the mean without sample i
        d = jack.mean() - jack
        denominator = 6.0 * (d @ d) ** 1.5
        a = float((d ** 3).sum() / denominator) if denominator > 0 else 0.0
        lo_q, hi_q = (float(norm.cdf(z0 + (z0 + z) / (1.0 - a * (z0 + z)))) for z in norm.ppf([lo_q, hi_q]))
    return float(np.quantile(means, lo_q)), float(np.quantile(means, hi_q))
