"""Lookback-only normalisation, its inverse, and the corpus windows (no look-ahead)."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.errors import DataValidationError
from qfin.kline import bars_to_features, denormalize, features_to_bars, normalize


def test_normalisation_uses_the_lookback_only():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(3, 40, 5))
    z, st = normalize(x, 30)
    x2 = x.copy()
    x2[:, 30:] *= 1000.0  # change every bar after the lookback
    z2, st2 = normalize(x2, 30)
    np.testing.assert_array_equal(z[:, :30], z2[:, :30])
    np.testing.assert_array_equal(st.mean, st2.mean)
    np.testing.assert_array_equal(st.scale, st2.scale)
    # the statistics are those of the lookback rows, computed by hand
    np.testing.assert_allclose(st.mean[1, 0], x[1, :30].mean(0))
    np.testing.assert_allclose(st.scale[1, 0], x[1, :30].std(0) + 1e-8)


def test_denormalize_inverts_normalize():
    rng = np.random.default_rng(1)
    x = 100 + rng.normal(size=(4, 20, 5))
    z, st = normalize(x, 16, clip=50.0)
    np.testing.assert_allclose(denormalize(z, st), x, rtol=0, atol=1e-10)
    raw = np.abs(x[0]) * 1e6
    np.testing.assert_allclose(features_to_bars(bars_to_features(raw)), raw, rtol=1e-12)


def test_clip_bounds_the_z_scores():
    x = np.ones((1, 12, 5))
    x[0, :10] += np.linspace(0, 1, 10)[:, None]
    x[0, 11] = 1e6
    z, _ = normalize(x, 10, clip=5.0)
    assert z.max() == 5.0


def test_bad_windows_raise():
    x = np.ones((2, 10, 5))
    x[1, 3, 2] = np.nan
    with pytest.raises(DataValidationError, match="NaN"):
        normalize(x, 5)
    with pytest.raises(DataValidationError, match="lookback"):
        normalize(np.ones((2, 10, 5)), 1)
    with pytest.raises(DataValidationError, match="lookback"):
        normalize(np.ones((2, 10, 5)), 11)


def test_corpus_windows_stay_in_their_split_and_use_past_stats(sp500_corpus):
    s = sp500_corpus.series[0]
    assert s.parts["train"][-1] < s.parts["validation"][0] < s.parts["test"][0]
    w = sp500_corpus.windows("validation", 24, 8, stride=8)
    lo, hi = s.parts["validation"][0], s.parts["validation"][-1]
    assert w.start.min() >= lo and (w.start + 32 - 1).max() <= hi
    # re-derive one window from the raw series: statistics of its first 24 bars only
    i = 5
    raw = s.features[w.start[i]:w.start[i] + 32]
    np.testing.assert_allclose(w.stats.mean[i, 0], raw[:24].mean(0))
    np.testing.assert_allclose(w.z[i], np.clip((raw - raw[:24].mean(0)) / (raw[:24].std(0) + 1e-8), -5, 5),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(DataValidationError, match="split"):
        sp500_corpus.windows("future", 24, 8)


def test_corpus_from_all_shipped_series_and_garch():
    from qfin.kline import KlineCorpus

    c = KlineCorpus.from_datasets()
    assert {s.name for s in c.series} == {"sp500_index:SPX", "nasdaq_index:IXIC", "msft:MSFT"}
    n = len(c.windows("train", 32, 8, stride=16))
    c.add_synthetic_garch(2, 300, seed=3)
    assert len(c.windows("train", 32, 8, stride=16)) > n
    assert len(c.windows("test", 32, 8, stride=16)) == len(KlineCorpus.from_datasets().windows(
        "test", 32, 8, stride=16))  # synthetic K-lines never enter the test split
    with pytest.raises(Exception, match="OHLCV|german_credit|no OHLCV"):
        KlineCorpus.from_datasets(("german_credit",))
