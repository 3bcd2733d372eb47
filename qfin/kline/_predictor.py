"""Forecasts, volatility forecasts and synthetic K-lines from a trained tokenizer + model, with every sample
path kept, a seed, OHLC repair, and split-conformal calibration of the intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from ..errors import DataValidationError, SpecError
from ._config import KlineTrainConfig
from ._corpus import calendar_features
from ._model import KlineModel
from ._normalize import FEATURES, WindowStats, bars_to_features, denormalize, features_to_bars, normalize
from ._tokenizer import KlineTokenizer

FREQUENCIES = {"1m": np.timedelta64(1, "m"), "5m": np.timedelta64(5, "m"), "15m": np.timedelta64(15, "m"),
               "30m": np.timedelta64(30, "m"), "1h": np.timedelta64(1, "h"), "4h": np.timedelta64(4, "h"),
               "1d": np.timedelta64(1, "D"), "1b": None, "1w": np.timedelta64(7, "D")}
"""Accepted bar frequencies; ``1b`` is business days (Monday to Friday)."""


def future_timestamps(last: np.datetime64, n: int, freq: str) -> np.ndarray:
    """``n`` timestamps after ``last`` at ``freq`` (one of :data:`FREQUENCIES`), datetime64[us]."""
    if freq not in FREQUENCIES:
        raise SpecError(f"unknown frequency {freq!r}; accepted: {sorted(FREQUENCIES)}")
    last = np.datetime64(last, "us")
    if freq == "1b":
        day = last.astype("datetime64[D]")
        days = np.busday_offset(day, np.arange(1, n + 1), roll="forward")
        return days.astype("datetime64[us]") + (last - day.astype("datetime64[us]"))
    return last + np.arange(1, n + 1) * FREQUENCIES[freq].astype("timedelta64[us]")


def infer_frequency(timestamps: np.ndarray) -> str:
    """The bar frequency of sorted timestamps: the most common spacing, business days when no bar falls on a
    weekend and the spacing is daily. Raises :class:`SpecError` when it matches none of :data:`FREQUENCIES`."""
    ts = np.asarray(timestamps, dtype="datetime64[us]")
    if ts.size < 2:
        raise SpecError("cannot infer the frequency from fewer than 2 bars; pass freq=")
    values, counts = np.unique(np.diff(ts).astype(np.int64), return_counts=True)
    step = values[counts.argmax()]
    for name, delta in FREQUENCIES.items():
        if delta is not None and step == delta.astype("timedelta64[us]").astype(np.int64):
            if name == "1d" and not np.any(np.is_busday(ts.astype("datetime64[D]")) == 0):
                return "1b"
            return name
    raise SpecError(f"unknown frequency: most common bar spacing {np.timedelta64(int(step), 'us')}; pass freq= "
                    f"one of {sorted(FREQUENCIES)}")


def _quantile_frame(values: np.ndarray, timestamps: np.ndarray, symbol: str) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": timestamps, "symbol": [symbol] * len(timestamps),
                         **{f: values[:, j] for j, f in enumerate(FEATURES)}}).with_columns(
        pl.col("timestamp").cast(pl.Datetime("us")))


def check_sampling(temperature: float, top_p: float) -> None:
    """Sampling settings a forecast can use: ``top_p`` in (0, 1] (1 = the whole distribution) and
    ``temperature >= 0`` (0 = greedy)."""
    if not 0.0 < top_p <= 1.0:
        raise SpecError(f"top_p (--top-p) {top_p}: must be in (0, 1]; 1 samples from the whole distribution")
    if not temperature >= 0.0:
        raise SpecError(f"temperature (--temperature) {temperature}: must be >= 0 (0 = greedy)")


@dataclass
class KlineForecast:
    """Sample paths of future bars and their reducers.

    ``paths [samples, pred_len, 5]`` (float64; open, high, low, close, volume), ``timestamps [pred_len]``,
    ``last_close`` (the forecast origin's close), and ``calibration`` ({level: additive widening of the
    log-return interval per step, ``[pred_len]``}) when the predictor was calibrated.
    """

    paths: np.ndarray
    timestamps: np.ndarray
    symbol: str
    last_close: float
    calibration: dict[float, np.ndarray] = field(default_factory=dict)

    def mean(self) -> pl.DataFrame:
        """Per-step mean over paths, in the Bars schema."""
        return _quantile_frame(self.paths.mean(0), self.timestamps, self.symbol)

    def median(self) -> pl.DataFrame:
        """Per-step median over paths, in the Bars schema."""
        return self.quantile(0.5)

    def quantile(self, q: float) -> pl.DataFrame:
        """Per-step, per-field ``q``-quantile over paths, in the Bars schema (fields separately: not a bar)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1]; got {q}")
        return _quantile_frame(np.quantile(self.paths, q, axis=0), self.timestamps, self.symbol)

    def path_frame(self) -> pl.DataFrame:
        """Every path in long form: the Bars schema plus a ``path`` column (0 .. samples - 1)."""
        s, h, _ = self.paths.shape
        flat = self.paths.reshape(s * h, 5)
        return pl.DataFrame({"path": np.repeat(np.arange(s), h), "timestamp": np.tile(self.timestamps, s),
                             "symbol": [self.symbol] * (s * h),
                             **{f: flat[:, j] for j, f in enumerate(FEATURES)}}).with_columns(
            pl.col("timestamp").cast(pl.Datetime("us")))

    def close_interval(self, level: float, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval of the close at every step ``[pred_len]`` each; widened by the
        conformal adjustment when calibrated (raises if ``calibrated`` and no calibration for ``level``)."""
        lo, hi = _log_interval(self.paths[None, :, :, 3], self.last_close, level)
        if calibrated:
            if level not in self.calibration:
                raise ValueError(f"no calibration for level {level}; calibrated levels: "
                                 f"{sorted(self.calibration)} (or pass calibrated=False)")
            adj = self.calibration[level]
            lo, hi = lo - adj, hi + adj
        return self.last_close * np.exp(lo[0]), self.last_close * np.exp(hi[0])


def _log_interval(closes: np.ndarray, last_close, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central interval of ``log(close / last_close)`` over paths: closes ``[N, S, H]`` -> ``[N, H]`` each."""
    r = np.log(np.maximum(closes, 1e-300) / np.reshape(last_close, (-1, 1, 1)))
    a = (1.0 - level) / 2.0
    return np.quantile(r, a, axis=1), np.quantile(r, 1.0 - a, axis=1)


def repair_ohlc(paths: np.ndarray) -> np.ndarray:
    """Make every bar consistent: ``high >= max(open, close)``, ``low <= min(open, close)``, volume >= 0."""
    p = paths.copy()
    oc_max = np.maximum(p[..., 0], p[..., 3])
    oc_min = np.minimum(p[..., 0], p[..., 3])
    p[..., 1] = np.maximum(p[..., 1], oc_max)
    p[..., 2] = np.minimum(p[..., 2], oc_min)
    p[..., 4] = np.maximum(p[..., 4], 0.0)
    return p


class KlinePredictor:
    """Sampling front end of a trained :class:`KlineTokenizer` and :class:`KlineModel`.

    ``predict`` keeps all sample paths (nothing is averaged away), takes a ``seed`` (same seed, same paths),
    repairs OHLC consistency on request and z-scores with the lookback only. ``calibrate`` fits split-conformal
    adjustments (Romano et al., "Conformalized quantile regression", NeurIPS 2019, eq. 6-7, on log returns)
    on a validation span so ``close_interval`` covers what it claims.
    """

    def __init__(self, tokenizer: KlineTokenizer, model: KlineModel, config: KlineTrainConfig) -> None:
        self.tokenizer, self.model, self.config = tokenizer.eval(), model.eval(), config
        self.calibration: dict[float, np.ndarray] = {}
        self.calibration_horizon = 0
        self.card: dict = {}

    @classmethod
    def from_checkpoint(cls, out_dir: str | Path) -> KlinePredictor:
        """Load a predictor from a :func:`train_kline` checkpoint folder (``weights_only=True``)."""
        from ._train import load_kline

        config, tok, model = load_kline(out_dir)
        predictor = cls(tok, model, config)
        calibration = Path(out_dir) / "calibration.json"
        if calibration.exists():
            import json

            data = json.loads(calibration.read_text(encoding="utf-8"))
            predictor.calibration = {float(k): np.asarray(v, dtype=np.float64) for k, v in data["levels"].items()}
            predictor.calibration_horizon = int(data["horizon"])
        return predictor

    @classmethod
    def from_pretrained(cls, name: str = "small") -> KlinePredictor:
        """Load a checkpoint shipped inside the package (``qfin/kline/pretrained/<name>.pt``, no download,
        ``weights_only=True``); its model card is ``predictor.card``."""
        from ._pretrained import load_pretrained

        config, tok, model, card = load_pretrained(name)
        predictor = cls(tok, model, config)
        predictor.card = card
        return predictor

    @classmethod
    def load(cls, spec: str | Path) -> KlinePredictor:
        """A checkpoint folder, or the name of a shipped checkpoint (e.g. ``"small"``) when no such folder
        exists: what ``--checkpoint`` accepts."""
        from ._pretrained import pretrained_names

        if not Path(spec).exists() and str(spec) in pretrained_names():
            return cls.from_pretrained(str(spec))
        if not Path(spec).exists():
            from ..errors import CheckpointError

            raise CheckpointError(f"{spec}: no such checkpoint folder, and not a shipped checkpoint name "
                                  f"{pretrained_names()}")
        return cls.from_checkpoint(spec)

    # -- input checks ------------------------------------------------------------------------------------
    def _context(self, bars: pl.DataFrame, lookback: int | None, freq: str | None):
        from ..data import validate_bars

        lookback = self.config.lookback if lookback is None else int(lookback)
        if lookback < 8:
            raise DataValidationError(f"lookback must be at least 8 bars; got {lookback}",
                                      rule="too_short_lookback")
        if not isinstance(bars, pl.DataFrame):
            raise DataValidationError(f"bars must be a polars DataFrame in the Bars schema; got "
                                      f"{type(bars).__name__}", rule="bad_type")
        bars = validate_bars(bars)
        symbols = bars["symbol"].unique().to_list()
        if len(symbols) != 1:
            raise DataValidationError(f"bars must hold one symbol; got {len(symbols)}: {symbols[:5]}",
                                      rule="several_symbols", column="symbol")
        if bars.height < lookback:
            raise DataValidationError(f"need at least lookback={lookback} bars; got {bars.height}",
                                      rule="too_short_lookback")
        prev_close = float(bars["close"][-lookback - 1]) if bars.height > lookback else None
        bars = bars.tail(lookback)
        ts = bars["timestamp"].cast(pl.Datetime("us")).to_numpy()
        freq = infer_frequency(ts) if freq is None else freq
        if freq not in FREQUENCIES:
            raise SpecError(f"unknown frequency {freq!r}; accepted: {sorted(FREQUENCIES)}")
        return bars, ts, freq, symbols[0], prev_close

    def _features(self, ohlcv: np.ndarray, prev_close=None) -> np.ndarray:
        """Model features of OHLCV rows ``[..., T, 5]`` (``prev_close``: the close before row 0)."""
        return bars_to_features(ohlcv, self.config.log_volume, self.config.features, prev_close)

    # -- core sampler, batched over origins ----------------------------------------------------------------
    def sample_normalized(self, z: np.ndarray, calendar: np.ndarray, pred_len: int, samples: int,
                          temperature: float = 1.0, top_p: float = 1.0, seed: int = 0,
                          use_cache: bool = True) -> np.ndarray:
        """Normalised contexts ``z [N, L, 5]``, calendar ``[N, L + pred_len, 2]`` -> normalised sample paths
        ``[N, samples, pred_len, 5]`` (float64). One ``torch.Generator`` seeded with ``seed``."""
        n, lb, _ = z.shape
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            c, f = self.tokenizer.encode(torch.from_numpy(np.asarray(z, dtype=np.float32)))
            cal = torch.from_numpy(np.asarray(calendar, dtype=np.int64))
            nc, nf = self.model.generate(c, f, cal, pred_len, temperature, top_p, gen, use_cache, repeat=samples)
            c, f = c.repeat_interleave(samples, 0), f.repeat_interleave(samples, 0)
            dec = self.tokenizer.decode(torch.cat([c, nc], 1), torch.cat([f, nf], 1))[:, lb:]
        return dec.double().numpy().reshape(n, samples, pred_len, -1)

    def _to_bars(self, zpaths: np.ndarray, stats: WindowStats, repair: bool,
                 anchor: np.ndarray | None = None) -> np.ndarray:
        """Normalised paths ``[N, S, H, 5]`` to bars; ``anchor [N]`` is each origin's close (return features)."""
        # stats [N, 1, F] broadcast over [N, S, H, F]
        x = denormalize(zpaths, WindowStats(stats.mean[:, None], stats.scale[:, None]))
        if anchor is not None:
            anchor = np.broadcast_to(np.asarray(anchor, dtype=np.float64)[:, None], x.shape[:2])
        x = features_to_bars(x, self.config.log_volume, self.config.features, anchor)
        return repair_ohlc(x) if repair else x

    def predict(self, bars: pl.DataFrame, pred_len: int, samples: int = 64, temperature: float = 1.0,
                top_p: float = 1.0, seed: int = 0, freq: str | None = None, repair: bool = True,
                lookback: int | None = None) -> KlineForecast:
        """Sample ``samples`` paths of the next ``pred_len`` bars after ``bars`` (one symbol, Bars schema; the
        last ``lookback`` bars are the context). ``freq`` (one of :data:`FREQUENCIES`) is inferred when None.
        Returns a :class:`KlineForecast` with future timestamps."""
        if pred_len < 1 or samples < 1:
            raise ValueError(f"pred_len and samples must be >= 1; got {pred_len}, {samples}")
        check_sampling(temperature, top_p)
        ctx, ts, freq, symbol, prev_close = self._context(bars, lookback, freq)
        fut = future_timestamps(ts[-1], pred_len, freq)
        feats = self._features(ctx.select(FEATURES).to_numpy(), prev_close)
        z, stats = normalize(feats[None], feats.shape[0], clip=self.config.clip)
        cal = np.concatenate([calendar_features(ctx["timestamp"]), calendar_features(pl.Series(fut))])[None]
        zp = self.sample_normalized(z, cal, pred_len, samples, temperature, top_p, seed)
        paths = self._to_bars(zp, stats, repair, np.array([ctx["close"][-1]]))[0]
        calib = {k: v[:pred_len] for k, v in self.calibration.items() if self.calibration_horizon >= pred_len}
        return KlineForecast(paths=paths, timestamps=fut, symbol=symbol, last_close=float(ctx["close"][-1]),
                             calibration=calib)

    def generate(self, bars: pl.DataFrame, n_steps: int, n_paths: int = 16, seed: int = 0,
                 temperature: float = 1.0, top_p: float = 1.0, freq: str | None = None,
                 chunk: int | None = None) -> pl.DataFrame:
        """Synthetic K-lines: ``n_paths`` continuations of ``n_steps`` bars after the context ``bars``, OHLC
        repaired, in the Bars schema with symbols ``"<symbol>~<i>"``. Same seed, same K-lines.

        Paths are generated ``chunk`` bars at a time (default: the config's ``horizon``); before each chunk a
        path is re-normalised on its own last ``lookback`` bars, real or generated. With one normalisation
        for the whole run, long paths would be pulled back to the first context's price range (z-scores
        are clipped); re-normalising lets them drift as prices do.
        """
        if n_steps < 1 or n_paths < 1:
            raise ValueError(f"n_steps and n_paths must be >= 1; got {n_steps}, {n_paths}")
        check_sampling(temperature, top_p)
        chunk = self.config.horizon if chunk is None else int(chunk)
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1; got {chunk}")
        ctx, ts, freq, symbol, first_prev = self._context(bars, None, freq)
        lb = ctx.height
        fut = future_timestamps(ts[-1], n_steps, freq)
        cal_all = np.concatenate([calendar_features(ctx["timestamp"]), calendar_features(pl.Series(fut))])
        hist = np.repeat(ctx.select(FEATURES).to_numpy().astype(np.float64)[None], n_paths, axis=0)
        done = 0
        while done < n_steps:
            k = min(chunk, n_steps - done)
            prev = hist[:, -lb - 1, 3] if hist.shape[1] > lb else first_prev
            z, stats = normalize(self._features(hist[:, -lb:], prev), lb, clip=self.config.clip)
            cal = np.repeat(cal_all[done:done + lb + k][None], n_paths, axis=0)
            zp = self.sample_normalized(z, cal, k, 1, temperature, top_p, seed + done)
            new = self._to_bars(zp, stats, True, hist[:, -1, 3])[:, 0]
            hist = np.concatenate([hist, new], axis=1)
            done += k
        paths = repair_ohlc(hist[:, lb:])
        fc = KlineForecast(paths=paths, timestamps=fut, symbol=symbol, last_close=float(ctx["close"][-1]))
        frame = fc.path_frame()
        return frame.with_columns((pl.col("symbol") + "~" + pl.col("path").cast(pl.Utf8)).alias("symbol")
                                  ).drop("path")

    def forecast_volatility(self, bars: pl.DataFrame, horizon: int, samples: int = 64, seed: int = 0,
                            freq: str | None = None) -> float:
        """Forecast of the realized volatility ``sqrt(sum_{h=1..horizon} r_h^2)`` of close-to-close log returns
        over the next ``horizon`` bars: ``sqrt`` of its mean over the sample paths."""
        fc = self.predict(bars, horizon, samples, seed=seed, freq=freq)
        return float(realized_vol_of_paths(fc.paths[None, :, :, 3], np.array([fc.last_close]))[0])

    # -- calibration --------------------------------------------------------------------------------------
    def origins_sample(self, features: np.ndarray, calendar: np.ndarray, origins: np.ndarray, pred_len: int,
                       samples: int, seed: int, temperature: float = 1.0, batch: int = 16,
                       closes: np.ndarray | None = None) -> np.ndarray:
        """Price paths ``[len(origins), samples, pred_len, 5]`` from a feature array ``[T, 5]`` (model features,
        :func:`bars_to_features`) at forecast origins (index of the last context bar). ``closes [T]`` (the series'
        closes) are needed with return features, to compound the paths from each origin's close."""
        if self.config.features == "return" and closes is None:
            raise ValueError("origins_sample with return features needs closes=, the series' closes")
        lb = self.config.lookback
        out = []
        for i in range(0, len(origins), batch):
            o = np.asarray(origins[i:i + batch])
            idx = o[:, None] + np.arange(-lb + 1, 1)[None, :]
            z, stats = normalize(features[idx], lb, clip=self.config.clip)
            cidx = np.minimum(o[:, None] + np.arange(-lb + 1, pred_len + 1)[None, :], len(calendar) - 1)
            zp = self.sample_normalized(z, calendar[cidx], pred_len, samples, temperature, 1.0, seed + i)
            out.append(self._to_bars(zp, stats, True, None if closes is None else np.asarray(closes)[o]))
        return np.concatenate(out)

    def calibrate(self, bars: pl.DataFrame, pred_len: int, levels=(0.8, 0.9), n_origins: int = 60,
                  samples: int = 64, seed: int = 0) -> dict[float, np.ndarray]:
        """Split-conformal calibration of central close intervals on ``bars`` (a validation span the model did
        not train on). For each origin and step, the conformity score is
        ``E = max(q_lo - y, y - q_hi)`` on ``y = log(close / last_close)``; the adjustment per step is the
        ``ceil((n + 1) level) / n`` empirical quantile of E (CQR, Romano et al. 2019). Returns and stores
        ``{level: adjustment [pred_len]}``."""
        bars = bars.sort("timestamp")
        feats = self._features(bars.select(FEATURES).to_numpy())
        cal = calendar_features(bars["timestamp"])
        lb = self.config.lookback
        last = len(feats) - 1 - pred_len
        if last < lb - 1:
            raise DataValidationError(f"calibration span has {len(feats)} bars; need more than lookback + "
                                      f"pred_len = {lb + pred_len}", rule="too_short_lookback")
        origins = np.unique(np.linspace(lb - 1, last, n_origins).astype(int))
        closes = bars["close"].to_numpy()
        paths = self.origins_sample(feats, cal, origins, pred_len, samples, seed, closes=closes)
        y = np.log(closes[origins[:, None] + np.arange(1, pred_len + 1)] / closes[origins][:, None])
        n = len(origins)
        self.calibration = {}
        for level in levels:
            lo, hi = _log_interval(paths[..., 3], closes[origins], level)
            e = np.maximum(lo - y, y - hi)
            k = min(math.ceil((n + 1) * level) / n, 1.0)
            self.calibration[float(level)] = np.quantile(e, k, axis=0, method="higher")
        self.calibration_horizon = pred_len
        return self.calibration


def realized_vol_of_paths(closes: np.ndarray, last_close: np.ndarray) -> np.ndarray:
    """Closes ``[N, S, H]`` and origin closes ``[N]`` -> ``sqrt(mean_s sum_h r^2)`` ``[N]`` (log returns)."""
    full = np.concatenate([np.broadcast_to(np.reshape(last_close, (-1, 1, 1)), closes.shape[:2] + (1,)),
                           closes], axis=2)
    r = np.diff(np.log(np.maximum(full, 1e-300)), axis=2)
    return np.sqrt((r ** 2).sum(2).mean(1))
