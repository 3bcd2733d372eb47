"""Predictor: seeded paths, Bars schema with future timestamps, OHLC repair, bad inputs, calibration;
evaluation helpers against closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

from qfin.data import load_dataset
from qfin.errors import DataValidationError, SpecError
from qfin.kline import future_timestamps, infer_frequency, realized_vol_of_paths, repair_ohlc, stylized_facts
from qfin.kline._evaluate import crps_gaussian, crps_samples, discriminative_score


@pytest.fixture(scope="module")
def spx():
    return load_dataset("sp500_index")


def _context(spx, end="2016-01-01"):
    return spx.filter(pl.col("timestamp") < pl.lit(end).str.to_datetime())


def test_forecast_paths_schema_seed_and_repair(predictor, spx):
    bars = _context(spx)
    fc = predictor.predict(bars, pred_len=6, samples=20, seed=3)
    assert fc.paths.shape == (20, 6, 5) and fc.paths.dtype == np.float64
    # every sample path is kept, not averaged away
    assert np.unique(fc.paths[:, -1, 3]).size > 1
    again = predictor.predict(bars, pred_len=6, samples=20, seed=3)
    np.testing.assert_array_equal(fc.paths, again.paths)
    other = predictor.predict(bars, pred_len=6, samples=20, seed=4)
    assert not np.array_equal(fc.paths, other.paths)
    p = fc.paths
    assert (p[..., 1] >= np.maximum(p[..., 0], p[..., 3])).all()
    assert (p[..., 2] <= np.minimum(p[..., 0], p[..., 3])).all()
    med = fc.median()
    assert med.columns == ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    assert med["timestamp"].dtype == pl.Datetime("us") and med["symbol"].unique().to_list() == ["SPX"]
    # the last bar is Thursday 2015-12-31: next business days are Fri 1 Jan, Mon 4 Jan, ...
    assert med["timestamp"].dt.strftime("%Y-%m-%d").to_list()[:3] == ["2016-01-01", "2016-01-04", "2016-01-05"]
    np.testing.assert_allclose(med["close"].to_numpy(), np.median(p[..., 3], axis=0))
    np.testing.assert_allclose(fc.mean()["volume"].to_numpy(), p[..., 4].mean(0))
    np.testing.assert_allclose(fc.quantile(0.9)["low"].to_numpy(), np.quantile(p[..., 2], 0.9, axis=0))
    assert fc.path_frame().height == 120
    # prices land on the scale of the context (de-normalisation with the lookback statistics)
    assert 0.8 < np.median(p[..., 3]) / bars["close"][-1] < 1.25


def test_normalisation_of_the_context_ignores_bars_after_the_origin(predictor, spx):
    """Forecasts from an origin use the lookback only: appending later bars to a *different* copy of the
    frame and cutting them off again gives identical paths."""
    a = predictor.predict(_context(spx, "2016-01-01"), 4, 8, seed=0)
    longer = _context(spx, "2016-06-01")
    cut = longer.filter(pl.col("timestamp") < pl.lit("2016-01-01").str.to_datetime())
    b = predictor.predict(cut, 4, 8, seed=0)
    np.testing.assert_array_equal(a.paths, b.paths)


def test_repair_ohlc():
    p = np.array([[[10.0, 9.0, 11.0, 10.5, -1.0]]])
    r = repair_ohlc(p)
    np.testing.assert_array_equal(r, [[[10.0, 10.5, 10.0, 10.5, 0.0]]])


def test_generate_and_forecast_volatility(predictor, spx):
    bars = _context(spx)
    g = predictor.generate(bars, n_steps=5, n_paths=3, seed=1)
    assert g.height == 15 and sorted(g["symbol"].unique().to_list()) == ["SPX~0", "SPX~1", "SPX~2"]
    assert g.equals(predictor.generate(bars, n_steps=5, n_paths=3, seed=1))
    # one chunk covering every step is exactly predict()'s sampling
    fc1 = predictor.predict(bars, 5, 3, seed=1)
    np.testing.assert_allclose(g["close"].to_numpy(), fc1.paths[..., 3].ravel(), rtol=1e-12)
    # chunked: each chunk re-normalised on the path's own last lookback bars; still seeded and consistent
    long = predictor.generate(bars, n_steps=20, n_paths=3, seed=1, chunk=8)
    assert long.equals(predictor.generate(bars, n_steps=20, n_paths=3, seed=1, chunk=8))
    assert np.allclose(long.filter(pl.col("symbol") == "SPX~0")["close"].to_numpy()[:8],
                       predictor.generate(bars, 8, 3, seed=1).filter(pl.col("symbol") == "SPX~0")["close"])
    o, h, lo, c = (long[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and np.isfinite(c).all()
    fc = predictor.predict(bars, 5, 16, seed=2)
    closes = np.concatenate([np.full((16, 1), fc.last_close), fc.paths[..., 3]], 1)
    brute = math.sqrt(np.mean([np.sum(np.diff(np.log(c)) ** 2) for c in closes]))
    assert predictor.forecast_volatility(bars, 5, 16, seed=2) == pytest.approx(brute, rel=1e-12)
    assert realized_vol_of_paths(fc.paths[None, ..., 3], np.array([fc.last_close]))[0] == pytest.approx(brute)


def test_bad_inputs_raise_clear_errors(predictor, spx):
    bars = _context(spx)
    nan = bars.with_columns(pl.when(pl.int_range(pl.len()) == 10).then(float("nan")).otherwise(pl.col("close"))
                            .alias("close"))
    with pytest.raises(DataValidationError, match="close"):
        predictor.predict(nan, 4, 4)
    with pytest.raises(DataValidationError, match="lookback"):
        predictor.predict(bars.tail(10), 4, 4)
    with pytest.raises(DataValidationError, match="lookback"):
        predictor.predict(bars, 4, 4, lookback=4)
    with pytest.raises(SpecError, match="unknown frequency"):
        predictor.predict(bars, 4, 4, freq="3d")
    odd = bars.tail(40).with_columns(
        (pl.lit(np.datetime64("2020-01-01T00:00")) + pl.duration(minutes=7 * pl.int_range(pl.len())))
        .cast(pl.Datetime("us")).alias("timestamp"))
    with pytest.raises(SpecError, match="unknown frequency"):
        predictor.predict(odd, 4, 4)
    with pytest.raises(ValueError, match="top_p"):
        predictor.predict(bars, 4, 4, top_p=0.0)
    two = pl.concat([bars.tail(30), bars.tail(30).with_columns(pl.lit("X").alias("symbol"))])
    with pytest.raises(DataValidationError, match="one symbol"):
        predictor.predict(two, 4, 4)


def test_frequencies():
    ts = np.array(["2024-01-04T16:00", "2024-01-05T16:00", "2024-01-08T16:00", "2024-01-09T16:00"],
                  dtype="datetime64[us]")
    assert infer_frequency(ts) == "1b"
    assert str(future_timestamps(ts[-1], 2, "1b")[1]) == "2024-01-11T16:00:00.000000"
    assert str(future_timestamps(ts[1], 1, "1b")[0]) == "2024-01-08T16:00:00.000000"  # Friday -> Monday
    hourly = np.arange(np.datetime64("2024-01-06T00:00"), np.datetime64("2024-01-06T05:00"),
                       np.timedelta64(1, "h")).astype("datetime64[us]")
    assert infer_frequency(hourly) == "1h"
    assert str(future_timestamps(hourly[-1], 1, "1h")[0]) == "2024-01-06T05:00:00.000000"


def test_conformal_calibration_covers_on_its_own_span(predictor, spx):
    val = spx.filter((pl.col("timestamp") > pl.lit("2013-01-01").str.to_datetime())
                     & (pl.col("timestamp") <= pl.lit("2015-06-30").str.to_datetime()))
    adj = predictor.calibrate(val, pred_len=4, levels=(0.8,), n_origins=25, samples=16, seed=0)
    assert adj[0.8].shape == (4,)
    fc = predictor.predict(_context(spx), 4, 16, seed=0)
    _lo_raw, hi_raw = fc.close_interval(0.8, calibrated=False)
    lo, hi = fc.close_interval(0.8)
    assert np.all(hi - lo >= 0) and np.allclose(np.log(hi / hi_raw), adj[0.8])
    with pytest.raises(ValueError, match="no calibration"):
        fc.close_interval(0.5)
    # split-conformal guarantee on the calibration origins: coverage >= level (finite-sample quantile)
    closes = val["close"].to_numpy()
    from qfin.kline import bars_to_features, calendar_features
    from qfin.kline._predictor import _log_interval
    origins = np.unique(np.linspace(predictor.config.lookback - 1, len(closes) - 5, 25).astype(int))
    paths = predictor.origins_sample(bars_to_features(val.select(["open", "high", "low", "close", "volume"])
                                                      .to_numpy()), calendar_features(val["timestamp"]),
                                     origins, 4, 16, 1)
    lo, hi = _log_interval(paths[..., 3], closes[origins], 0.8)
    y = np.log(closes[origins[:, None] + np.arange(1, 5)] / closes[origins][:, None])
    cover = ((y >= lo - adj[0.8]) & (y <= hi + adj[0.8])).mean()
    assert cover >= 0.7  # other seed: near the 0.8 target


def test_crps_against_brute_force_and_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 25))
    y = np.array([0.1, -2.0, 0.7])
    brute = np.abs(x - y[:, None]).mean(1) - 0.5 * np.abs(x[:, :, None] - x[:, None, :]).mean((1, 2))
    np.testing.assert_allclose(crps_samples(x, y), brute, rtol=1e-12)
    # Gaussian closed form against the integral of (F(x) - 1{x >= y})^2
    mu, sig, yy = 0.3, 1.7, -0.4
    num = integrate.quad(lambda t: stats.norm.cdf(t, mu, sig) ** 2, -np.inf, yy)[0] + integrate.quad(
        lambda t: (1 - stats.norm.cdf(t, mu, sig)) ** 2, yy, np.inf)[0]
    assert crps_gaussian(np.array(mu), np.array(sig), np.array(yy)) == pytest.approx(num, rel=1e-7)


def test_stylized_facts_and_discriminative_score():
    from qfin.data.simulate import garch

    prices = garch(40, 200, omega=1e-5, alpha=0.15, beta=0.8, seed=0, innovations="t", nu=5.0)
    r = np.diff(np.log(prices), axis=1)
    sf = stylized_facts(r)
    iid = stylized_facts(np.random.default_rng(0).normal(size=(40, 200)))
    assert sf["excess_kurtosis"] > 1.0 and abs(iid["excess_kurtosis"]) < 0.2
    assert sf["abs_acf_1_5"] > 0.05 and abs(iid["abs_acf_1_5"]) < 0.02
    rng = np.random.default_rng(1)
    same = discriminative_score(rng.normal(size=(100, 16)), rng.normal(size=(100, 16)), epochs=20)
    easy = discriminative_score(rng.normal(size=(100, 16)), 5 + rng.normal(size=(100, 16)), epochs=20)
    assert same > 0.3 and easy < 0.1


def test_evaluate_kline_end_to_end(predictor, spx):
    from qfin.kline import evaluate_kline

    bars = spx.filter(pl.col("timestamp") < pl.lit("2016-03-01").str.to_datetime())
    res = evaluate_kline(predictor, bars, np.datetime64("2015-07-01"), np.datetime64("2014-06-01"), pred_len=4,
                         samples=8, n_calibration=15, generation_len=8)
    assert res["n_origins"] >= 30
    for level in ("0.8", "0.9"):
        assert all(0.0 <= v <= 1.0 for v in res["coverage"][level].values())
    assert abs(res["return"]["rank_ic"]) <= 1 and res["return"]["rank_ic_se"] > 0
    # the persistence baseline by hand: realized vol of the previous 4 bars vs the next 4, at each origin
    closes = bars["close"].to_numpy()
    ts = bars["timestamp"].to_numpy()
    first = int(np.searchsorted(ts, np.datetime64("2015-07-01"))) - 1
    errs = []
    for o in range(max(first, 63), len(closes) - 4, 4):
        past = math.sqrt(sum(math.log(closes[j] / closes[j - 1]) ** 2 for j in range(o - 3, o + 1)))
        nxt = math.sqrt(sum(math.log(closes[j] / closes[j - 1]) ** 2 for j in range(o + 1, o + 5)))
        errs.append(abs(past - nxt))
    assert res["n_origins"] == len(errs)
    assert res["volatility"]["persistence"]["mae"] == pytest.approx(np.mean(errs), rel=1e-10)
    assert 0.0 <= res["generation"]["discriminative_score"] <= 1.0


def test_save_and_plot_forecast(predictor, spx, tmp_path):
    from qfin.kline import plot_forecast, save_forecast

    bars = _context(spx)
    fc = predictor.predict(bars, 4, 6, seed=0)
    for name in ("paths.csv", "paths.parquet"):
        back = pl.read_csv(save_forecast(fc, tmp_path / name), try_parse_dates=True) if name.endswith(
            "csv") else pl.read_parquet(save_forecast(fc, tmp_path / name))
        np.testing.assert_allclose(back["close"].to_numpy(), fc.paths[..., 3].ravel())
        assert back["path"].max() == 5
    with pytest.raises(ValueError, match="csv or .parquet"):
        save_forecast(fc, tmp_path / "paths.xlsx")
    png = plot_forecast(fc, bars, tmp_path / "fc.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
