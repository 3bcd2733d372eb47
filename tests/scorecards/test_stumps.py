"""The histogram stump booster against XGBoost's own depth-1 model: the same cut points and gains."""

import numpy as np
import pytest

from qfin.scorecards._binning import stump_thresholds
from qfin.scorecards._stumps import prebin_cuts, sorted_histogram, stump_boost


@pytest.mark.parametrize("case", ["rounded_normal", "integers", "rounded_missing", "integers_missing"])
def test_stump_boost_equals_xgboost_where_the_cuts_are_the_distinct_values(case):
    rng = np.random.default_rng(11)
    n = 4000
    x = np.round(rng.normal(size=n), 1) if case.startswith("rounded") else rng.integers(0, 200, n).astype(float)
    z = x if case.startswith("rounded") else x / 100.0
    logit = -1.0 + 0.8 * z + 0.3 * np.sin(3 * z)
    if case.endswith("missing"):
        x[rng.random(n) < 0.1] = np.nan
        logit = np.where(np.isnan(x), 0.4, logit)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    (t_xgb, g_xgb), = stump_thresholds(x[:, None], y)
    t, g = stump_boost(x, y)
    assert t.dtype == np.float32 and np.array_equal(t, t_xgb) and t.size >= 8
    assert g == pytest.approx(g_xgb, rel=1e-4)  # XGBoost sums gradients in float32 in places


def test_prebin_cuts():
    x = np.array([3.0, 1.0, np.nan, 2.0, 2.0, 5.0])
    assert prebin_cuts(x, 256).tolist() == [2.0, 3.0, 5.0]  # distinct values above the least
    q = prebin_cuts(np.arange(10_000, dtype=float), 4)
    assert q.tolist() == [2500.0, 5000.0, 7500.0]
    assert stump_boost(np.full(5, np.nan), np.array([0, 1, 0, 1, 1]))[0].size == 0


def test_sorted_histogram_equals_a_direct_count():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=3000) * 3, 1)
    x[:40] = -0.0
    x[40:60] = np.nan
    x[60:70] = -1e30
    y = (rng.random(3000) < 0.3).astype(np.int8)
    for max_prebins in (256, 16):
        cuts, cnt, bad, miss_cnt, miss_bad = sorted_histogram(x, y, max_prebins)
        ok = ~np.isnan(x)
        idx = np.searchsorted(cuts, x[ok].astype(np.float32), side="right")
        assert np.array_equal(cuts, prebin_cuts(x, max_prebins))
        assert np.array_equal(cnt, np.bincount(idx, minlength=cuts.size + 1))
        assert np.array_equal(bad, np.bincount(idx, weights=y[ok], minlength=cuts.size + 1))
        assert (miss_cnt, miss_bad) == (20.0, float(y[40:60].sum()))
