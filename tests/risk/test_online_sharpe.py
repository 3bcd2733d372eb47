"""RunningSharpe: the prefix Sharpe ratio in O(1) per step equals qfin.risk.sharpe_ratio on every prefix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.risk import RunningSharpe, sharpe_ratio


def test_every_prefix_equals_the_two_pass_sharpe_ratio():
    r = np.random.default_rng(0).normal(0.0005, 0.01, 2000)
    running = RunningSharpe(periods_per_year=252)
    values = [running.update(x) for x in r]
    assert math.isnan(values[0])
    for k in (2, 3, 10, 500, 2000):
        assert values[k - 1] == pytest.approx(sharpe_ratio(r[:k], periods_per_year=252), rel=1e-12)


def test_degenerate_series_and_arguments():
    running = RunningSharpe(periods_per_year=1)
    assert math.isnan(running.update(0.01)) and running.update(0.01) == math.inf
    running.reset()
    assert math.isnan(running.update(0.0)) and math.isnan(running.update(0.0))
    with pytest.raises(QfinError, match="periods_per_year"):
        RunningSharpe(periods_per_year=0)
