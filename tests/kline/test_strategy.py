"""KlineForecastStrategy: the Kelly rule against hand-computed weights, the rule on a forecast the test controls
(fed the market panel's own bars), no look-ahead (perturbed future bars), seeds, valid weights, a backtest spec
end to end, and bad inputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from qfin.backtests import STRATEGIES, StrategyFallbackWarning, StrategyFitError, rebalance_bars, run_backtest
from qfin.backtests._run import _build_weight_strategy
from qfin.backtests._spec import StrategySpec
from qfin.data import load_dataset, price_panel
from qfin.errors import SpecError
from qfin.kline import KlineForecast, KlineForecastStrategy, kelly_weights


@pytest.fixture(scope="module")
def spx_2016():
    """S&P 500 index bars 2015-10 .. 2016-06: enough history for the tiny model's 24-bar lookback."""
    spx = load_dataset("sp500_index")
    return spx.filter(pl.col("timestamp").is_between(pl.datetime(2015, 10, 1), pl.datetime(2016, 6, 30)))


# -- the rule ---------------------------------------------------------------------------------------------------
def test_kelly_weights_match_hand_computed_values():
    # unscaled: w = 0.5 m / s^2 = 0.5 * 0.01 / 0.05 = 0.1 and 0.5 * 0.003 / 0.01 = 0.15; cash 0.75
    np.testing.assert_allclose(kelly_weights([0.01, 0.003], [0.05, 0.01]), [0.75, 0.1, 0.15], rtol=1e-14)
    # capped at 0.6 (Kelly 1.0 and 12.5), below-threshold assets dropped, then scaled 1.2 -> 1: 0.5 each
    w = kelly_weights([0.02, 0.01, -0.01, 0.004], [0.01, 0.0004, 0.01, 0.0], threshold=0.005, max_weight=0.6)
    np.testing.assert_allclose(w, [0.0, 0.5, 0.5, 0.0, 0.0], atol=1e-15)
    # zero variance with a mean above the threshold: the cap; long-only even with a negative threshold
    np.testing.assert_allclose(kelly_weights([0.001, -0.002], [0.0, 0.01], threshold=-0.01, max_weight=0.3),
                               [0.7, 0.3, 0.0], atol=1e-15)
    # kelly_fraction scales linearly below the cap: 0.25 * 0.01 / 0.05 = 0.05
    np.testing.assert_allclose(kelly_weights([0.01], [0.05], kelly_fraction=0.25), [0.95, 0.05], rtol=1e-14)


def _two_symbol_bars(n: int = 60) -> pl.DataFrame:
    """Deterministic OHLCV of symbols A (rising) and B (falling) on business days, valid bars."""
    ts = np.busday_offset(np.datetime64("2020-01-01"), np.arange(n), roll="forward").astype("datetime64[us]")
    frames = []
    for symbol, drift in (("A", 0.002), ("B", -0.001)):
        close = 100.0 * np.exp(drift * np.arange(n) + 0.01 * np.sin(np.arange(n)))
        open_ = np.concatenate(([close[0]], close[:-1]))
        frames.append(pl.DataFrame({"timestamp": ts, "symbol": symbol, "open": open_,
                                    "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
                                    "close": close, "volume": np.full(n, 1e6)}))
    return pl.concat(frames)


class KnownForecast:
    """A predictor whose horizon returns the test sets: symbol A -> {0.01, 0.03} (mean 0.02, sample variance
    0.0002), symbol B -> {-0.02, 0.01} (mean -0.005). It records the context it was given."""

    def __init__(self):
        self.config = SimpleNamespace(lookback=24, horizon=5)
        self.returns = {"A": np.array([0.01, 0.03]), "B": np.array([-0.02, 0.01])}
        self.calls = []

    def predict(self, bars, pred_len, samples, temperature=1.0, top_p=1.0, seed=0, freq=None, repair=True,
                lookback=None):
        self.calls.append((bars, pred_len, samples, seed, lookback))
        symbol, last = bars["symbol"][0], float(bars["close"][-1])
        paths = np.full((samples, pred_len, 5), last)
        paths[:, -1, 3] = last * (1.0 + np.resize(self.returns[symbol], samples))
        return KlineForecast(paths=paths, timestamps=np.zeros(pred_len, "datetime64[us]"), symbol=symbol,
                             last_close=last)


def test_rule_on_a_known_forecast_fed_the_panels_own_bars():
    bars = _two_symbol_bars()
    fake = KnownForecast()
    strategy = KlineForecastStrategy(predictor=fake, samples=2, seed=7, max_weight=0.4)
    assert (strategy.lookback, strategy.pred_len) == (24, 5)  # the model's, when not given
    panel = price_panel(bars, assets=["B", "A"])  # the backtest's columns in another order than the bars
    ts = panel.timestamps
    decisions = np.array([30, 45, 59])
    targets = strategy.decide(panel, decisions)
    # A: Kelly 0.5 * 0.02 / 0.0002 = 50 -> cap 0.4; B: mean -0.005 <= 0 -> 0; cash 0.6. Columns are [B, A].
    np.testing.assert_allclose(targets, np.tile([0.6, 0.0, 0.4], (3, 1)), atol=1e-12)
    # each forecast saw exactly the last 24 bars of its symbol ending at the decision bar
    assert len(fake.calls) == 6
    for (ctx, pred_len, samples, seed, lookback), (bar, symbol) in zip(
            fake.calls, [(b, s) for b in decisions for s in ("B", "A")], strict=True):
        assert (pred_len, samples, seed, lookback) == (5, 2, 7, 24)
        assert ctx.height == 24 and ctx["symbol"].unique().to_list() == [symbol]
        assert ctx["timestamp"][-1] == ts[bar].astype("datetime64[us]").item()
        mine = bars.filter(pl.col("symbol") == symbol)
        assert ctx.equals(mine.filter(pl.col("timestamp") <= ts[bar].item()).tail(24))
    # a threshold above A's mean leaves everything in cash
    flat = KlineForecastStrategy(predictor=KnownForecast(), samples=2, threshold=0.025)
    np.testing.assert_array_equal(flat.decide(panel, decisions), np.tile([1.0, 0.0, 0.0], (3, 1)))


def test_non_finite_forecast_raises_or_keeps_the_previous_target():
    panel = price_panel(_two_symbol_bars())
    ts = panel.timestamps

    def strategy(fallback):
        fake = KnownForecast()
        fake.returns = {"A": np.array([0.01, 0.03]), "B": np.array([0.0, 0.01])}
        original = fake.predict

        def predict(ctx, *args, **kw):  # NaN paths for every forecast made after bar 40
            fc = original(ctx, *args, **kw)
            if ctx["timestamp"][-1] > ts[40].item():
                fc.paths[:] = np.nan
            return fc

        fake.predict = predict
        return KlineForecastStrategy(predictor=fake, samples=2, fallback=fallback, max_weight=0.3)

    with pytest.raises(StrategyFitError, match=r"at decision 1 \(bar 50, 2020-03-11\): non-finite forecast"):
        strategy("raise").decide(panel, np.array([30, 50]))
    with pytest.warns(StrategyFallbackWarning, match="kept the previous target"):
        targets = strategy("previous").decide(panel, np.array([30, 50]))
    np.testing.assert_allclose(targets, [[0.4, 0.3, 0.3], [0.4, 0.3, 0.3]], atol=1e-12)


# -- the trained tiny model -------------------------------------------------------------------------------------
def _strategy(trained, **kw):
    params = {"samples": 12, "pred_len": 4, "kelly_fraction": 0.02, "max_weight": 0.8, "threshold": -1.0} | kw
    return KlineForecastStrategy(path=str(trained[1]), **params)


def test_no_lookahead_perturbed_future_bars_change_no_earlier_target(trained, spx_2016):
    panel = price_panel(spx_2016)
    decisions = np.arange(30, panel.n_bars, 15)
    base = _strategy(trained).decide(panel, decisions)
    cut = decisions[3]
    later = pl.col("timestamp") > pl.lit(panel.timestamps[cut].item())
    perturbed = spx_2016.with_columns(
        *[pl.when(later).then(pl.col(c) * 0.7).otherwise(pl.col(c)).alias(c) for c in ("open", "high", "low", "close")],
        pl.when(later).then(pl.col("volume") * 3.0).otherwise(pl.col("volume")).alias("volume"))
    moved = _strategy(trained).decide(price_panel(perturbed), decisions)
    np.testing.assert_array_equal(moved[: 4], base[: 4])  # decisions at or before the cut
    assert not np.allclose(moved[4:], base[4:])  # the perturbation does reach the later decisions


def test_seed_and_valid_weights(trained, spx_2016):
    panel = price_panel(spx_2016)
    decisions = np.arange(30, panel.n_bars, 10)
    a = _strategy(trained, seed=3).decide(panel, decisions)
    b = _strategy(trained, seed=3).decide(panel, decisions)
    c = _strategy(trained, seed=4).decide(panel, decisions)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (len(decisions), 2)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(a[:, 1] >= 0.0) and np.all(a[:, 1] <= 0.8) and np.all(a[:, 0] >= 0.2 - 1e-12)
    assert len(np.unique(a[:, 1])) > 2  # sized by the forecast, not all at the cap or in cash


def test_backtest_spec_runs_and_trades_the_decided_targets(trained, tmp_path):
    params = {"path": str(trained[1]), "samples": 12, "pred_len": 4, "kelly_fraction": 0.02, "threshold": -1.0}
    spec = {"name": "kline", "data": {"dataset": "sp500_index", "start": "2016-01-01", "end": "2016-06-30"},
            "rebalance": "monthly", "report": {"plots": False},
            "strategies": [{"kind": "kline_forecast", **params}, {"kind": "buy_and_hold"}]}
    result = run_backtest(spec, out_dir=tmp_path / "out", progress=False)
    assert set(result.metrics) == {"kline_forecast", "buy_and_hold"} and (tmp_path / "out" / "metrics.json").exists()
    run = result.runs["kline_forecast"]
    assert np.all(np.isfinite(run.equity)) and run.n_trades >= 2
    # without costs, the end-of-bar weights at each decision bar (filled at its close) are the targets
    spx = price_panel(load_dataset("sp500_index"))
    first = int(np.searchsorted(spx.timestamps, result.timestamps[0]))
    decisions = first + np.unique(np.concatenate(([0], rebalance_bars(result.timestamps, "monthly"))))
    targets = KlineForecastStrategy(**params).decide(spx.slice(0, first + len(result.timestamps)), decisions)
    np.testing.assert_allclose(run.weights[decisions - first], targets, atol=1e-12)


def test_cli_imports_qfin_kline_for_specs_that_use_the_kind(trained, tmp_path):
    spec = tmp_path / "kline.toml"
    spec.write_text(f'''name = "kline cli"
rebalance = "quarterly"
[data]
dataset = "sp500_index"
start = 2016-01-01
end = 2016-03-31
[report]
plots = false
[[strategies]]
kind = "kline_forecast"
path = "{trained[1].as_posix()}"
samples = 4
pred_len = 2
''')
    # A fresh interpreter has no kind registered: only the command's own `import qfin.kline` can register it.
    result = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(spec), "--out", str(tmp_path / "o"),
                             "--no-progress"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "metrics.json").exists()


# -- bad inputs -------------------------------------------------------------------------------------------------
def _build(**params):
    return _build_weight_strategy(StrategySpec(kind="kline_forecast", **params))


def test_bad_inputs_give_clear_spec_errors(trained, tmp_path):
    path = str(trained[1])
    with pytest.raises(SpecError, match="set path = a K-line checkpoint folder"):
        _build()
    with pytest.raises(SpecError, match="is not a usable K-line checkpoint.*config.json not found"):
        _build(path=str(tmp_path / "nowhere"))
    damaged = tmp_path / "damaged"
    shutil.copytree(trained[1], damaged)
    (damaged / "model.pt").write_bytes(b"not a state dict")
    with pytest.raises(SpecError, match="is not a usable K-line checkpoint"):
        _build(path=str(damaged))
    with pytest.raises(SpecError, match="lookback must be an integer number of bars >= the model's lookback 24"):
        _build(path=path, lookback=16)
    with pytest.raises(SpecError, match=r"unknown key 'horizon'; accepted: kind, name, lookback, fallback, path, "
                                        r"pred_len, .*top_p.*kelly_fraction$"):
        _build(path=path, horizon=4)
    for key, value, accepted in [("samples", 1, "samples must be an integer >= 2"),
                                 ("top_p", 0.0, r"top_p must be a number in \(0, 1\]"),
                                 ("max_weight", 1.5, r"max_weight must be a number in \(0, 1\]"),
                                 ("kelly_fraction", 0, "kelly_fraction must be a number > 0"),
                                 ("pred_len", 0, "pred_len must be an integer number of bars >= 1"),
                                 ("threshold", "0.1", "threshold: Input should be a valid number"),
                                 ("samples", 2.0, "samples: Input should be a valid integer")]:
        with pytest.raises(SpecError, match=rf"strategy 'kline_forecast' \(kline_forecast\): {accepted}"):
            # checked before any loading: the checkpoint path does not exist
            _build(**({"path": str(tmp_path / "nowhere")} | {key: value}))


@pytest.mark.parametrize("key", ["dataset", "bars"])
def test_the_old_strategy_level_data_key_says_it_moved_to_data(key):
    with pytest.raises(SpecError, match=rf"^strategy 'kline_forecast' \(kline_forecast\): key '{key}' moved to "
                                        r"\[data\].*remove this key$"):
        _build(path="nowhere", **{key: "sp500_index"})


def test_closes_only_data_is_refused_naming_what_the_model_needs(trained):
    spec = {"data": {"dataset": "sp500_stocks", "assets": ["AAPL"], "start": "2016-01-01", "end": "2016-03-31"},
            "report": {"plots": False}, "strategies": [{"kind": "kline_forecast", "path": str(trained[1])}]}
    with pytest.raises(SpecError, match=r"open, high, low, close and volume; sp500_stocks has close only\. Use a "
                                        "bars dataset") as info:
        run_backtest(spec, progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(SpecError, match="has close only"):
        _strategy(trained).decide(price_panel("sp500_index").close, np.array([40]))  # bare closes: no bars


def test_unregistered_kind_names_the_import(monkeypatch):
    monkeypatch.delitem(STRATEGIES, "kline_forecast")
    with pytest.raises(SpecError, match="kind 'kline_forecast' is registered by `import qfin.kline`"):
        _build(path="x")


def test_importing_the_package_registers_the_kind_without_torch(fresh_python):
    fresh_python("import sys, qfin.kline; from qfin.backtests._strategies import STRATEGIES; "
                 "assert 'kline_forecast' in STRATEGIES; assert 'torch' not in sys.modules, 'torch imported'; "
                 "qfin.kline.KlinePredictor; assert 'torch' in sys.modules")
