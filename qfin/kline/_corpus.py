"""The K-line training corpus: shipped OHLCV series plus synthetic K-lines (GARCH, Heston, regime, jump models
with intrabar sub-steps), split chronologically into train / validation / test, cut into windows z-scored over
their lookback only. Windows are listed as (series, start) pairs and built batch by batch, so a corpus of
millions of bars never sits in memory as windows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import DataValidationError
from ._normalize import FEATURES, WindowStats, bars_to_features, normalize

SHIPPED_OHLCV = ("sp500_index", "nasdaq_index", "msft")
SPLITS = ("train", "validation", "test")


def calendar_features(timestamps: pl.Series) -> np.ndarray:
    """``[T, 2]`` int64: day of week (0 = Monday .. 6) and month (0 = January .. 11)."""
    ts = timestamps.cast(pl.Datetime("us"))
    return np.stack([(ts.dt.weekday() - 1).to_numpy(), (ts.dt.month() - 1).to_numpy()], axis=1).astype(np.int64)


@dataclass
class Series:
    """One OHLCV series: features ``[T, 5]`` (float64), calendar ``[T, 2]`` and its split positions."""

    name: str
    features: np.ndarray
    calendar: np.ndarray
    timestamps: np.ndarray
    parts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Windows:
    """Normalised windows of one split: ``z [N, W, 5]`` float32, ``calendar [N, W, 2]`` int64, the lookback
    statistics, and ``source`` (series name) and ``start`` (first row in that series) of each window."""

    z: np.ndarray
    calendar: np.ndarray
    stats: WindowStats
    source: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return int(self.z.shape[0])


def _series_from_bars(name: str, bars: pl.DataFrame, log_volume: bool, train_end, validation_end,
                      embargo: int, kind: str = "price") -> Series:
    from ..data import time_split

    bars = bars.sort("timestamp")
    ohlcv = bars.select(FEATURES).to_numpy().astype(np.float64)
    ts = bars["timestamp"]
    split = time_split(ts, train_end=train_end, validation_end=validation_end, embargo=embargo)
    return Series(name=name, features=bars_to_features(ohlcv, log_volume, kind), calendar=calendar_features(ts),
                  timestamps=ts.to_numpy(),
                  parts={"train": split.train, "validation": split.validation, "test": split.test})


@dataclass
class KlineCorpus:
    """Chronologically split OHLCV series ready to be windowed.

    Build it with :meth:`from_datasets` (the shipped series) and optionally :meth:`add_synthetic_garch`. Every
    series is split at the same calendar boundaries (``train_end``, ``validation_end``, inclusive), with
    ``embargo`` bars dropped at the start of validation and test, so no window straddles a boundary.
    """

    series: list[Series]
    log_volume: bool = True
    kind: str = "price"

    @classmethod
    def from_datasets(cls, names=SHIPPED_OHLCV, train_end: str = "2012-12-31",
                      validation_end: str = "2015-06-30", embargo: int = 0, log_volume: bool = True,
                      kind: str = "price") -> KlineCorpus:
        """Load the named shipped OHLCV datasets (one series per symbol) and split them in time."""
        from ..data import load_dataset

        out = []
        for name in names:
            frame = load_dataset(name)
            if not set(FEATURES) <= set(frame.columns):
                raise DataValidationError(f"dataset {name!r} has no OHLCV bars (columns {frame.columns}); "
                                          f"use one of {SHIPPED_OHLCV}", rule="missing_columns")
            for (symbol,), part in frame.group_by("symbol", maintain_order=True):
                out.append(_series_from_bars(f"{name}:{symbol}", part, log_volume, train_end, validation_end,
                                             embargo, kind))
        return cls(series=out, log_volume=log_volume, kind=kind)

    def add_synthetic(self, n_paths: int, n_bars: int, models=("garch", "heston", "regime", "jump"),
                      seed: int = 0, substeps: int = 16) -> KlineCorpus:
        """Append ``n_paths`` K-lines of ``n_bars`` bars from each of ``models``
        (:func:`qfin.data.simulate.simulate_klines`, seeded by ``(seed, model number)``), training part only:
        they enlarge the training set, never the evaluation."""
        from ..data.simulate import simulate_klines

        ts = pl.datetime_range(pl.datetime(2000, 1, 3), pl.datetime(2100, 1, 1), "1d", eager=True)
        ts = ts.filter(ts.dt.weekday() <= 5)[:n_bars]
        cal, stamps = calendar_features(ts), ts.to_numpy()
        for j, model in enumerate(models):
            bars = simulate_klines(n_paths, n_bars, model, substeps=substeps,
                                   seed=np.random.default_rng([seed, 7919, j]))
            for i in range(n_paths):
                self.series.append(Series(name=f"{model}:{i}", features=bars_to_features(
                    bars[i], self.log_volume, self.kind), calendar=cal, timestamps=stamps,
                    parts={"train": np.arange(n_bars), "validation": np.arange(0), "test": np.arange(0)}))
        return self

    def add_synthetic_garch(self, n_paths: int, n_steps: int, seed: int = 0, omega: float = 2e-6,
                            alpha: float = 0.08, beta: float = 0.9) -> KlineCorpus:
        """Append ``n_paths`` synthetic daily K-lines built on :func:`qfin.data.simulate.garch` closes (training
        part only): open = previous close, high/low = max/min of open and close widened by a half-normal
        intraday range, log-normal volume. They are made to enlarge the training set, never to evaluate on."""
        from ..data.simulate import garch

        rng = np.random.default_rng(seed)
        prices = garch(n_paths, n_steps, omega=omega, alpha=alpha, beta=beta, s0=100.0, seed=rng)
        ts = pl.datetime_range(pl.datetime(2000, 1, 3), pl.datetime(2100, 1, 1), "1d", eager=True)
        ts = ts.filter(ts.dt.weekday() <= 5)[:n_steps]
        sigma = np.sqrt(omega / (1 - alpha - beta))
        for i in range(n_paths):
            close = prices[i, 1:]
            open_ = prices[i, :-1]
            hi = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.5 * sigma, n_steps)))
            lo = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.5 * sigma, n_steps)))
            vol = np.exp(rng.normal(15.0, 0.3, n_steps))
            ohlcv = np.stack([open_, hi, lo, close, vol], axis=1)
            self.series.append(Series(name=f"garch:{i}", features=bars_to_features(ohlcv, self.log_volume,
                                                                                    self.kind),
                                      calendar=calendar_features(ts), timestamps=ts.to_numpy(),
                                      parts={"train": np.arange(n_steps), "validation": np.arange(0),
                                             "test": np.arange(0)}))
        return self

    def window_index(self, split: str, width: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(series number, first row) of every window of ``width`` bars inside ``split`` at ``stride``."""
        if split not in SPLITS:
            raise DataValidationError(f"split must be one of {SPLITS}; got {split!r}", rule="bad_split")
        which, starts = [], []
        for k, s in enumerate(self.series):
            pos = s.parts[split]
            if pos.size < width:
                continue
            begin = np.arange(int(pos[0]), int(pos[0]) + pos.size - width + 1, stride)
            which.append(np.full(begin.size, k))
            starts.append(begin)
        if not starts:
            raise DataValidationError(f"no series has {width} bars in its {split!r} part; shorten the window "
                                      f"({width} bars)", rule="too_short_lookback")
        return np.concatenate(which), np.concatenate(starts)

    def gather(self, which: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, clip: float = 5.0
               ) -> tuple[np.ndarray, np.ndarray]:
        """The windows ``(which, starts)`` (see :meth:`window_index`) z-scored on their lookback: float32 ``z
        [N, W, 5]`` and int64 calendar ``[N, W, 2]``."""
        width = lookback + horizon
        offs = np.arange(width)
        zs = np.stack([self.series[k].features[a + offs] for k, a in zip(which, starts, strict=True)])
        cal = np.stack([self.series[k].calendar[a + offs] for k, a in zip(which, starts, strict=True)])
        z, _ = normalize(zs, lookback, clip=clip)
        return z.astype(np.float32), cal

    def windows(self, split: str, lookback: int, horizon: int, stride: int = 1, clip: float = 5.0) -> Windows:
        """All windows of ``lookback + horizon`` consecutive bars lying inside ``split`` of one series, each
        z-scored with the statistics of its own first ``lookback`` bars (:func:`normalize`)."""
        if split not in SPLITS:
            raise DataValidationError(f"split must be one of {SPLITS}; got {split!r}", rule="bad_split")
        width = lookback + horizon
        zs, cals, src, starts = [], [], [], []
        for s in self.series:
            pos = s.parts[split]
            if pos.size < width:
                continue
            lo = int(pos[0])
            begin = np.arange(lo, lo + pos.size - width + 1, stride)
            idx = begin[:, None] + np.arange(width)[None, :]
            zs.append(s.features[idx])
            cals.append(s.calendar[idx])
            src.append(np.full(begin.size, s.name, dtype=object))
            starts.append(begin)
        if not zs:
            raise DataValidationError(f"no series has {width} bars in its {split!r} part; shorten lookback "
                                      f"({lookback}) or horizon ({horizon})", rule="too_short_lookback")
        raw = np.concatenate(zs)
        z, stats = normalize(raw, lookback, clip=clip)
        return Windows(z=z.astype(np.float32), calendar=np.concatenate(cals), stats=stats,
                       source=np.concatenate(src), start=np.concatenate(starts))
