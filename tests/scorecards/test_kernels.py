"""The compiled binning passes against numpy statements of the same routing rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qfin.scorecards import StumpBinner, WoEEncoder, _kernels


def _reference_bins(x, thresholds, specials):
    """searchsorted on float32 (XGBoost's x < t goes left), then the missing bin, then one bin per special."""
    out = np.searchsorted(thresholds, x.astype(np.float32), side="right")
    out[np.isnan(x)] = thresholds.size + 1
    for s, v in enumerate(specials):
        out[x == v] = thresholds.size + 2 + s
    return out


@pytest.mark.parametrize("order", ["C", "F"])
def test_bin_pass_counts_and_lookups_match_searchsorted(order):
    rng = np.random.default_rng(0)
    n = 50_000  # more than one block of rows per thread
    X = np.asarray(rng.normal(size=(n, 4)), order=order)
    X[rng.random(n) < 0.05, 1] = np.nan
    X[rng.random(n) < 0.03, 2] = -999.0
    X[:5, 3] = np.float32(0.25)  # values exactly on a float32 threshold go right
    y = (rng.random(n) < 0.3).astype(np.float64)
    thresholds = [np.sort(rng.normal(size=k)).astype(np.float32) for k in (3, 0, 5)] + [np.float32([0.25])]
    specials = [[], [], [-999.0, 7.0], []]
    packed = _kernels.pack(thresholds, specials)
    counts, bads = _kernels.bin_pass(X, packed, y=y)
    table = np.arange(counts.shape[1], dtype=np.int64)[None, :] * 10 + np.arange(4)[:, None]
    looked_up = _kernels.bin_pass(X, packed, table=table)
    for j in range(4):
        expected = _reference_bins(X[:, j], thresholds[j], specials[j])
        width = thresholds[j].size + 2 + len(specials[j])
        np.testing.assert_array_equal(counts[j, :width], np.bincount(expected, minlength=width))
        np.testing.assert_array_equal(bads[j, :width], np.bincount(expected, weights=y, minlength=width))
        assert counts[j, width:].sum() == 0
        np.testing.assert_array_equal(looked_up[:, j], expected * 10 + j)
    assert looked_up[:5, 3].tolist() == [1 * 10 + 3] * 5  # bin 1: on the threshold goes right


def test_value_range_skips_nan():
    X = np.array([[np.nan, 2.0, np.nan], [1.0, -3.0, np.nan], [5.0, 0.0, np.nan]])
    low, high = _kernels.value_range(X)
    np.testing.assert_array_equal(low[:2], [1.0, -3.0])
    np.testing.assert_array_equal(high[:2], [5.0, 2.0])
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_training_counts_and_woe_lookup_agree_with_bin_indices():
    rng = np.random.default_rng(1)
    n = 30_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                      "c": rng.choice(["u", "v", "w", "z"], size=n, p=[0.5, 0.3, 0.19, 0.01])})
    X.loc[rng.random(n) < 0.04, "a"] = np.nan
    X.loc[rng.random(n) < 0.02, "b"] = -1.0
    logit = -1.5 + X["a"].fillna(0) + 0.5 * (X["c"] == "v") + 0.3 * X["b"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    enc = WoEEncoder(StumpBinner(special_values={"b": [-1.0]}, max_search_rows=10_000)).fit(X, y)
    bins = enc.binner_.transform(X).to_numpy()
    for j, (cnt, bad) in enumerate(enc.binner_.bin_counts_):
        np.testing.assert_array_equal(cnt, np.bincount(bins[:, j], minlength=cnt.size))
        np.testing.assert_array_equal(bad, np.bincount(bins[:, j], weights=y, minlength=cnt.size))
    woe = enc.transform(X).to_numpy()
    for j, w in enumerate(enc.woe_):
        np.testing.assert_array_equal(woe[:, j], w[bins[:, j]])
    assert enc.binner_.bins_[1].labels[-1] == "Special=-1"
