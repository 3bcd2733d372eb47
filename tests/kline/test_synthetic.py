"""Synthetic K-lines for the pre-training corpus: valid OHLCV bars, seeded, with the ranges and the clustering
they are made to carry; the corpus lists windows and builds them batch by batch, equal to the windows it holds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qfin.data import validate_bars
from qfin.data.simulate import KLINE_MODELS, simulate_klines
from qfin.errors import DataValidationError
from qfin.kline import KlineCorpus


def _frame(ohlcv: np.ndarray) -> pl.DataFrame:
    ts = pl.datetime_range(pl.datetime(2000, 1, 3), pl.datetime(2100, 1, 1), "1d", eager=True)[:len(ohlcv)]
    return pl.DataFrame({"timestamp": ts, "symbol": ["s"] * len(ohlcv),
                         **{k: ohlcv[:, j] for j, k in enumerate(("open", "high", "low", "close", "volume"))}})


@pytest.mark.parametrize("model", KLINE_MODELS)
def test_bars_are_valid_ohlcv_and_the_seed_reproduces_them(model):
    bars = simulate_klines(4, 300, model, seed=3)
    assert bars.shape == (4, 300, 5) and np.isfinite(bars).all()
    assert (bars[..., 1] >= np.maximum(bars[..., 0], bars[..., 3])).all()
    assert (bars[..., 2] <= np.minimum(bars[..., 0], bars[..., 3])).all()
    assert (bars[..., 4] > 0).all()
    for path in bars:
        validate_bars(_frame(path))
    np.testing.assert_array_equal(bars, simulate_klines(4, 300, model, seed=3))
    assert not np.array_equal(bars, simulate_klines(4, 300, model, seed=4))


def test_the_range_carries_the_volatility_and_volume_clusters():
    bars = simulate_klines(64, 500, "garch", seed=0)
    r = np.diff(np.log(bars[..., 3]), axis=1)
    span = np.log(bars[:, 1:, 1] / bars[:, 1:, 2])
    # bars with large moves have wide ranges; |r| and log volume are autocorrelated (clustering)
    assert np.corrcoef(np.abs(r).ravel(), span.ravel())[0, 1] > 0.5
    a = np.abs(r)
    assert np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1] > 0.1
    lv = np.log(bars[..., 4])
    lv = lv - lv.mean(1, keepdims=True)
    assert np.corrcoef(lv[:, :-1].ravel(), lv[:, 1:].ravel())[0, 1] > 0.5
    # daily volatility within the fitted range (annual 10% .. 50%)
    assert 0.10 / np.sqrt(252) < r.std() < 0.50 / np.sqrt(252)


@pytest.mark.parametrize(("kwargs", "match"), [({"model": "arima"}, "unknown K-line model"),
                                               ({"n_bars": 1}, "n_bars"), ({"substeps": 0}, "substeps"),
                                               ({"s0": -1.0}, "s0")])
def test_bad_arguments_are_one_line_errors(kwargs, match):
    args = {"n_paths": 2, "n_bars": 10, **kwargs}
    with pytest.raises(DataValidationError, match=match) as err:
        simulate_klines(**args)
    assert "\n" not in str(err.value)


def test_corpus_gathers_the_windows_it_lists():
    corpus = KlineCorpus.from_datasets(("sp500_index",), kind="return").add_synthetic(3, 200, seed=1)
    assert sum(s.name.startswith("heston:") for s in corpus.series) == 3
    which, starts = corpus.window_index("train", 40, 8)
    z, cal = corpus.gather(which, starts, 32, 8)
    w = corpus.windows("train", 32, 8, stride=8)
    np.testing.assert_array_equal(z, w.z)
    np.testing.assert_array_equal(cal, w.calendar)
    again = KlineCorpus.from_datasets(("sp500_index",), kind="return").add_synthetic(3, 200, seed=1)
    np.testing.assert_array_equal(again.series[-1].features, corpus.series[-1].features)
