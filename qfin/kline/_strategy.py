"""K-line forecasts as backtest weights (``kind = "kline_forecast"`` in a ``qfin backtest`` spec).

At each decision bar t the strategy hands the trained :class:`KlinePredictor` each asset's last ``lookback``
OHLCV bars with timestamp <= t (nothing after t's close), samples ``samples`` paths of the next ``pred_len``
bars and reduces each asset's horizon return ``R = close_{t+pred_len} / close_t - 1`` over the paths to its
mean m and variance s^2. Weights follow :func:`kelly_weights` (fractional Kelly on each asset alone, capped,
long-only, rest in cash).

The backtest engine hands strategies closes only, but the predictor needs OHLCV, so the strategy reads the
bars itself (``dataset`` = the spec's dataset name, or ``bars`` = a CSV/Parquet file or a Bars frame) and
slices them by the decision timestamps that :meth:`WeightStrategy.decide` already receives. The backtest's
columns are matched to symbols by their closes up to the first decision, and each decision checks that the
symbol's last bar is the decision bar with the same close, so a strategy reading other data than the spec
is an error, not a silent mismatch.

The kind is registered on ``import qfin.kline`` (``qfin backtest`` imports it for specs that use the kind;
from Python, import it before :func:`qfin.backtests.run_backtest`). This module imports only the strategy
registry, the :class:`WeightStrategy` base and its errors from the layer-0 contract :mod:`qfin.strategy`;
torch, the checkpoint and the bars load when a strategy is built.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qfin.errors import DatasetNotFoundError, DataValidationError, QfinError, SpecError
from qfin.strategy import StrategyFallbackWarning, StrategyFitError, WeightStrategy, register_strategy

from ._normalize import FEATURES

__all__ = ["KlineForecastStrategy", "kelly_weights"]


def kelly_weights(mean: np.ndarray, variance: np.ndarray, threshold: float = 0.0, max_weight: float = 1.0,
                  kelly_fraction: float = 0.5) -> np.ndarray:
    """Long-only fractional-Kelly weights [N + 1] (cash first) from forecast horizon returns.

    ``mean`` and ``variance`` [N] are each asset's forecast mean m_i and variance s_i^2 of its simple return
    over the horizon. An asset is held only if m_i > ``threshold``, with
    ``w_i = min(max_weight, kelly_fraction * m_i / s_i^2)`` (``max_weight`` when s_i^2 = 0) floored at 0;
    if the w_i add up to more than 1 they are scaled down in proportion (no leverage, caps still hold);
    cash is 1 - sum w_i.

    Why: m / s^2 is the growth-optimal (Kelly) fraction of a single asset against cash earning nothing,
    f* = (m - r) / s^2 with r = 0 (Thorp, "The Kelly criterion in blackjack, sports betting and the stock
    market", 2006, sec. 7), and m / s^2 does not depend on the horizon when m and s^2 both grow with it.
    The predictor samples each asset alone, so its paths carry no cross-asset dependence: the diagonal
    (per-asset) form is the one the forecast supports. Full Kelly is too aggressive when m is itself an
    estimate, hence a fraction (half by default) and a cap.
    """
    mean = np.asarray(mean, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        kelly = np.where(variance > 0.0, kelly_fraction * mean / variance, np.inf)
    risky = np.where(mean > threshold, np.clip(kelly, 0.0, max_weight), 0.0)
    total = risky.sum()
    if total > 1.0:
        risky = risky / total
    return np.concatenate(([1.0 - risky.sum()], risky))


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and bool(np.isfinite(value)))


@dataclass(frozen=True, kw_only=True)
class KlineForecastStrategy(WeightStrategy):
    """Fractional-Kelly weights from a K-line model's sampled forecasts (see the module docstring).

    Parameters
    ----------
    path : folder of a K-line checkpoint (``qfin kline train`` / ``models/pretrain_kline.py``).
    dataset : name of the OHLCV bars dataset the spec trades (``qfin data list``); or
    bars : a CSV/Parquet bars file or a polars Bars frame (exactly one of ``dataset`` / ``bars``).
    lookback : bars of context per forecast; default and minimum the model's training lookback.
    pred_len : forecast horizon in bars (default the model's training horizon); pick it near the number of
        bars between rebalances.
    samples : sample paths per asset and decision (>= 2, for a variance).
    seed : every forecast is drawn with this seed, so a decision's weights depend only on the bars up to it
        and the seed, not on where the backtest starts.
    temperature, top_p : sampling temperature (0 = greedy) and nucleus mass of the predictor.
    threshold : hold an asset only if its forecast mean horizon return exceeds this (e.g. 0.002 = 0.2 %).
    max_weight : cap on each asset's weight, in (0, 1].
    kelly_fraction : multiple of the Kelly fraction m / s^2, > 0 (0.5 = half Kelly).
    predictor : an already loaded :class:`KlinePredictor` (or any object with its ``predict`` and
        ``config.lookback`` / ``config.horizon``), used instead of ``path``.
    """

    kind: ClassVar[str] = "kline_forecast"
    name: str = "kline_forecast"
    path: str | Path = ""
    dataset: str = ""
    bars: Any = field(default=None, repr=False, compare=False)
    lookback: int = -1  # set from the model's lookback
    pred_len: int = -1  # set from the model's horizon
    samples: int = 64
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    threshold: float = 0.0
    max_weight: float = 1.0
    kelly_fraction: float = 0.5
    predictor: Any = field(default=None, repr=False, compare=False)
    _symbols: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __new__(cls, **params: Any):
        # Unknown keys from a spec would otherwise surface as a bare TypeError from the dataclass __init__.
        accepted = sorted(f.name for f in dataclasses.fields(cls) if f.init)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise SpecError(f"strategy {params.get('name', cls.kind)!r} ({cls.kind}): unknown key(s) "
                            f"{', '.join(unknown)}; accepted: {', '.join(accepted)}")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        where = f"strategy {self.name!r} ({self.kind})"
        self._check_params(where)  # the cheap checks first: a typo should not wait for torch and a checkpoint
        predictor = self.predictor if self.predictor is not None else _load_predictor(self.path, where)
        if not callable(getattr(predictor, "predict", None)) or not hasattr(predictor, "config"):
            raise SpecError(f"{where}: predictor must be a KlinePredictor (or have its predict and config), got "
                            f"{type(predictor).__name__}")
        model_lookback, horizon = int(predictor.config.lookback), int(predictor.config.horizon)
        lookback = model_lookback if self.lookback == -1 else self.lookback
        if not _is_int(lookback) or lookback < model_lookback:
            raise SpecError(f"{where}: lookback must be an integer number of bars >= the model's lookback "
                            f"{model_lookback}, got {self.lookback!r}; remove the key to use {model_lookback}")
        object.__setattr__(self, "predictor", predictor)
        object.__setattr__(self, "lookback", int(lookback))
        object.__setattr__(self, "pred_len", horizon if self.pred_len == -1 else self.pred_len)
        super().__post_init__()
        object.__setattr__(self, "_symbols", _load_bars(self.dataset, self.bars, where))

    def _check_params(self, where: str) -> None:
        checks = [
            ("path", isinstance(self.path, (str, Path)), "a checkpoint folder (a string)"),
            ("dataset", isinstance(self.dataset, str), "a dataset name (a string)"),
            # -1: not given, the model's horizon (set once the checkpoint is loaded)
            ("pred_len", _is_int(self.pred_len) and (self.pred_len >= 1 or self.pred_len == -1),
             "an integer number of bars >= 1"),
            ("samples", _is_int(self.samples) and self.samples >= 2, "an integer >= 2 (a variance needs two)"),
            ("seed", _is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
            ("temperature", _is_real(self.temperature) and self.temperature >= 0.0, "a number >= 0 (0 = greedy)"),
            ("top_p", _is_real(self.top_p) and 0.0 < self.top_p <= 1.0, "a number in (0, 1]"),
            ("threshold", _is_real(self.threshold), "a finite number (a horizon return, e.g. 0.002)"),
            ("max_weight", _is_real(self.max_weight) and 0.0 < self.max_weight <= 1.0, "a number in (0, 1]"),
            ("kelly_fraction", _is_real(self.kelly_fraction) and self.kelly_fraction > 0.0, "a number > 0"),
        ]
        for key, ok, accepted in checks:
            if not ok:
                raise SpecError(f"{where}: {key} must be {accepted}, got {getattr(self, key)!r}")

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        raise StrategyFitError(f"{self.kind} decides from OHLCV bars and timestamps: call decide(close, "
                               "decision_bars, timestamps=...), not target_weights(returns)")

    def decide(self, close: np.ndarray, decision_bars: np.ndarray, progress: Callable[[], object] | None = None,
               timestamps: np.ndarray | None = None) -> np.ndarray:
        """Target weights [R, N + 1] (cash first) at each decision bar, from the bars with timestamp <= that
        bar's timestamp. ``close`` [T, N] and ``timestamps`` [>= T] are the backtest's (required here)."""
        close, bars = self._check_inputs(close, decision_bars)
        where = f"strategy {self.name!r} ({self.kind})"
        if timestamps is None or len(timestamps) < len(close):
            raise SpecError(f"{where}: decide needs the backtest's timestamps (one per close row) to slice the bars "
                            "up to each decision")
        ts = np.asarray(timestamps).astype("datetime64[us]")[: len(close)]
        targets = np.empty((len(bars), close.shape[1] + 1))
        if not len(bars):
            return targets
        columns = self._match_columns(close, ts, int(bars[0]), where)
        for k, bar in enumerate(bars):
            date = ts[bar].astype("M8[D]")
            try:
                targets[k] = self._decision_weights(columns, ts[bar], close[bar], f"{where} at bar {bar} ({date})")
            except StrategyFitError as err:
                if self.fallback == "previous" and k > 0:
                    warnings.warn(f"{err}; kept the previous target (fallback='previous')",
                                  StrategyFallbackWarning, stacklevel=2)
                    targets[k] = targets[k - 1]
                else:
                    raise
            if progress is not None:
                progress()
        return targets

    def _match_columns(self, close: np.ndarray, ts: np.ndarray, first: int, where: str) -> list[str]:
        """The symbol of each backtest column: the one whose closes equal the column's up to the first
        decision (only the past of every decision is used to identify the assets)."""
        columns = []
        past = {s: _closes_at(sts, ohlcv, ts[: first + 1]) for s, (sts, ohlcv, _) in self._symbols.items()}
        for j in range(close.shape[1]):
            found = [s for s, c in past.items()
                     if c is not None and np.allclose(c, close[: first + 1, j], rtol=1e-9, atol=0.0)]
            if len(found) != 1:
                raise SpecError(f"{where}: backtest column {j} matches {len(found)} symbols of the strategy's bars "
                                f"({', '.join(found) or 'none'}) by close up to the first decision; give the "
                                f"strategy the spec's own data (symbols: {', '.join(self._symbols)})")
            columns.append(found[0])
        return columns

    def _decision_weights(self, columns: list[str], when: np.datetime64, close_now: np.ndarray,
                          where: str) -> np.ndarray:
        mean, variance = np.empty(len(columns)), np.empty(len(columns))
        for j, symbol in enumerate(columns):
            sts, ohlcv, frame = self._symbols[symbol]
            end = int(np.searchsorted(sts, when, side="right"))  # bars with timestamp <= the decision's
            if end < self.lookback:
                raise SpecError(f"{where}: {symbol} has {end} bars up to the decision; lookback needs "
                                f"{self.lookback}; start the backtest later")
            if sts[end - 1] != when or not np.isclose(ohlcv[end - 1, 3], close_now[j], rtol=1e-9, atol=0.0):
                raise DataValidationError(f"{where}: {symbol}'s last bar up to the decision "
                                          f"({sts[end - 1].astype('M8[s]')}, close {ohlcv[end - 1, 3]:.6g}) is not "
                                          f"the backtest's bar (close {close_now[j]:.6g}); use the spec's data",
                                          rule="misaligned_bars", column=symbol)
            try:
                forecast = self.predictor.predict(frame.slice(end - self.lookback, self.lookback), self.pred_len,
                                                  self.samples, temperature=float(self.temperature),
                                                  top_p=float(self.top_p), seed=int(self.seed),
                                                  lookback=self.lookback)
            except QfinError as err:
                raise _with_context(err, f"{where}, {symbol}") from err
            horizon_return = forecast.paths[:, -1, 3] / forecast.last_close - 1.0
            mean[j], variance[j] = horizon_return.mean(), horizon_return.var(ddof=1)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance))):
            raise StrategyFitError(f"{where}: non-finite forecast (mean {mean.tolist()}, variance "
                                   f"{variance.tolist()})")
        return kelly_weights(mean, variance, float(self.threshold), float(self.max_weight),
                             float(self.kelly_fraction))


def _with_context(err: QfinError, where: str) -> QfinError:
    """The same error type with ``where`` in front of its message (and a DataValidationError's rule kept)."""
    if isinstance(err, DataValidationError):
        return DataValidationError(f"{where}: {err}", rule=err.rule, column=err.column, rows=err.rows)
    return type(err)(f"{where}: {err}")


def _closes_at(sts: np.ndarray, ohlcv: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
    """The symbol's closes at timestamps ``ts``, or None if it lacks a bar at any of them."""
    idx = np.searchsorted(sts, ts)
    if np.any(idx >= len(sts)) or np.any(sts[np.minimum(idx, len(sts) - 1)] != ts):
        return None
    return ohlcv[idx, 3]


def _load_predictor(path: str | Path, where: str):
    if not path:
        raise SpecError(f"{where}: set path = a K-line checkpoint folder (written by `qfin kline train` or "
                        "models/pretrain_kline.py, e.g. models/artifacts/kline-cpu)")
    from ._predictor import KlinePredictor  # torch loads here, when the strategy is built

    try:
        return KlinePredictor.from_checkpoint(path)
    except Exception as err:  # missing folder, incomplete or damaged files, another config's weights
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SpecError(f"{where}: path {str(path)!r} is not a usable K-line checkpoint ({first}); train one "
                        "with `qfin kline train` or `.venv/bin/python models/pretrain_kline.py`") from err


def _load_bars(dataset: str, bars: Any, where: str) -> dict[str, tuple[np.ndarray, np.ndarray, Any]]:
    """{symbol: (timestamps [T] datetime64[us], OHLCV [T, 5] float64, Bars frame)} sorted by time."""
    import polars as pl

    from qfin.data import dataset_info, list_datasets, load_dataset, read_bars, validate_bars

    if bool(dataset) == (bars is not None):
        raise SpecError(f"{where}: give exactly one of dataset = the spec's OHLCV dataset name or bars = a "
                        "CSV/Parquet bars file (the predictor needs open, high, low, close and volume)")
    ohlcv_sets = [n for n in list_datasets() if dataset_info(n).kind == "bars"]
    if dataset:
        try:
            kind = dataset_info(dataset).kind
        except DatasetNotFoundError as err:
            raise SpecError(f"{where}: {err}") from None
        if kind != "bars":
            raise SpecError(f"{where}: dataset {dataset!r} holds {kind}, not OHLCV bars; the predictor needs "
                            f"open, high, low, close and volume: use one of {', '.join(ohlcv_sets)}")
        frame = load_dataset(dataset)
    elif isinstance(bars, pl.DataFrame):
        frame = validate_bars(bars)
    else:
        try:
            frame = read_bars(bars)
        except DataValidationError as err:
            if err.rule != "missing_columns":
                raise
            raise SpecError(f"{where}: bars file {str(bars)!r} is not OHLCV bars ({err}); the predictor needs "
                            "timestamp, symbol, open, high, low, close, volume") from None
    out = {}
    for symbol in frame["symbol"].unique(maintain_order=True).to_list():
        part = frame.filter(pl.col("symbol") == symbol).sort("timestamp")
        out[symbol] = (part["timestamp"].cast(pl.Datetime("us")).to_numpy().astype("datetime64[us]"),
                       part.select(FEATURES).to_numpy().astype(np.float64), part)
    return out


register_strategy(KlineForecastStrategy.kind, KlineForecastStrategy)
