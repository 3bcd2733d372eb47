"""Monte Carlo prices of any payoff (:mod:`qfin.data.simulate` payoffs or a user's callable) on risk-neutral
paths, with control variates and a standard error.

The estimate is the regression (optimal linear) control-variate estimator (Glasserman 2003, §4.1): with Y the
discounted payoffs and X the controls of known means mu, ``price = mean(Y) - beta . (mean(X) - mu)``, beta the
least-squares coefficients of Y on X; its standard error is that of the residuals. The default control is the
discounted terminal spot, whose risk-neutral mean is today's spot; an arithmetic Asian gains most from the
geometric Asian's closed form as a second control.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.simulate._payoffs import check_payoff
from ..errors import QfinError

__all__ = ["MCPrice", "mc_price"]


@dataclass(frozen=True)
class MCPrice:
    """``value`` and ``std_error`` of a Monte Carlo price from ``n_paths`` paths, and the control coefficients."""

    value: float
    std_error: float
    n_paths: int
    beta: tuple[float, ...] = ()

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return self.value - z * self.std_error, self.value + z * self.std_error


def mc_price(payoff: Callable[[np.ndarray], Any], paths: Any, rate: float, maturity: float,
             controls: Sequence[tuple[np.ndarray, float]] | None = None, terminal_control: bool = True) -> MCPrice:
    """Price ``payoff`` on risk-neutral spot ``paths`` [n_paths, n_steps + 1] at continuously compounded ``rate``
    to ``maturity`` (years). ``controls``: extra (values [n_paths], known mean) pairs, already discounted;
    ``terminal_control`` adds the discounted terminal spot (mean: today's spot)."""
    p = np.asarray(paths, dtype=np.float64)
    values = check_payoff(payoff, p)
    if not (np.isfinite(maturity) and maturity > 0 and np.isfinite(rate)):
        raise QfinError(f"mc_price needs a maturity > 0 and a finite rate; got maturity={maturity!r}, rate={rate!r}")
    discount = math.exp(-rate * maturity)
    y = discount * values
    pairs = list(controls or [])
    if terminal_control:
        pairs.append((discount * p[:, -1], float(p[0, 0])))
    n = len(y)
    if n < len(pairs) + 3:
        raise QfinError(f"mc_price needs more paths than controls + 2; got {n} paths and {len(pairs)} controls")
    if not pairs:
        return MCPrice(float(y.mean()), float(y.std(ddof=1) / math.sqrt(n)), n)
    x = np.column_stack([np.asarray(v, dtype=np.float64) for v, _ in pairs])
    if x.shape[0] != n:
        raise QfinError(f"each control needs one value per path ({n}); got {x.shape[0]}")
    mu = np.array([m for _, m in pairs], dtype=np.float64)
    xc, yc = x - x.mean(axis=0), y - y.mean()
    beta = np.linalg.lstsq(xc, yc, rcond=None)[0]
    value = y.mean() - beta @ (x.mean(axis=0) - mu)
    residual = yc - xc @ beta
    std_error = math.sqrt(residual @ residual / (n - 1 - len(pairs)) / n)
    return MCPrice(float(value), std_error, n, tuple(float(b) for b in beta))
