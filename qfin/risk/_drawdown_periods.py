"""Drawdown periods: each stretch of bars under a running peak, with its start, trough, recovery and depth.

quantstats' ``drawdown_details`` lists the same periods (start, valley, end, max drawdown); here a period is in bar
positions, ``recovery`` is the first bar back at the peak (quantstats' ``end`` is the bar before it) and the length
is counted in bars rather than calendar days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qfin.risk._backend import as_samples
from qfin.risk._returns import _drawdowns

__all__ = ["DrawdownPeriod", "drawdown_periods"]


@dataclass(frozen=True)
class DrawdownPeriod:
    """One drawdown: positions into the returns it came from (return t is the value after bar t).

    ``start`` is the first bar under the previous peak, ``trough`` the bar of the lowest value (the first such
    bar), ``recovery`` the first bar back at or above the peak (None if the series ends under water), ``length``
    the bars under water (``recovery - start``, or up to the last bar), ``depth`` the fall at the trough (< 0).
    """

    start: int
    trough: int
    recovery: int | None
    length: int
    depth: float


def drawdown_periods(returns: Any, top: int | None = 5) -> list[DrawdownPeriod]:
    """The drawdown periods of [T] simple returns, worst (most negative depth) first; at most ``top`` (None: all).

    The drawdown is :func:`qfin.risk.drawdown_series`'s (the starting value 1 counts as a peak, so a series that
    opens with a loss is in drawdown from bar 0). Ties in depth keep time order.
    """
    r = as_samples(returns, "returns", ndims=(1,), allow_tensor=False)
    dd = _drawdowns(r)
    under = dd < 0.0
    edges = np.diff(np.concatenate(([False], under, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)  # one past the last bar under water
    periods = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        trough = start + int(np.argmin(dd[start:stop]))
        periods.append(DrawdownPeriod(start, trough, stop if stop < r.shape[0] else None, stop - start,
                                      float(dd[trough])))
    periods.sort(key=lambda p: p.depth)  # stable: equal depths stay in time order
    return periods if top is None else periods[:top]
