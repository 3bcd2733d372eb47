"""K-line forecasts as backtest weights (``kind = "kline_forecast"`` in a ``qfin backtest`` spec).

At each decision bar t the strategy hands the trained :class:`KlinePredictor` each asset's last ``lookback``
OHLCV bars of the market panel up to t (:meth:`WeightStrategy.decide` cuts the panel at t, so nothing after
t's close can reach it), samples ``samples`` paths of the next ``pred_len`` bars and reduces each asset's
horizon return ``R = close_{t+pred_len} / close_t - 1`` over the paths to its mean m and variance s^2. Weights
follow :func:`kelly_weights` (fractional Kelly on each asset alone, capped, long-only, rest in cash).

The bars are the backtest's own (the spec's ``[data]``, named once), so they need open, high, low, close and
volume: a bars dataset such as ``sp500_index``, or a bars file.

The kind is registered on ``import qfin.kline`` (``qfin backtest`` imports it for specs that use the kind;
from Python, import it before :func:`qfin.backtests.run_backtest`). This module imports only the layer-0
strategy contract :mod:`qfin.strategy` (and the panel type); torch and the checkpoint load when a strategy is
built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qfin.data import PANEL_FIELDS, MarketPanel
from qfin.errors import DataValidationError, QfinError, SpecError
from qfin.strategy import NOT_IN_SPEC, StrategyFitError, WeightStrategy, is_int, is_real, register_strategy

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


@dataclass(frozen=True, kw_only=True)
class KlineForecastStrategy(WeightStrategy):
    """Fractional-Kelly weights from a K-line model's sampled forecasts (see the module docstring).

    Parameters
    ----------
    path : folder of a K-line checkpoint (``qfin kline train`` / ``models/pretrain_kline.py``).
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
        ``config.lookback`` / ``config.horizon``), used instead of ``path`` (Python only, not a spec key).
    """

    kind: ClassVar[str] = "kline_forecast"
    retired_keys: ClassVar[dict[str, str]] = {
        key: "moved to [data]: the strategy reads the backtest's own bars, so name the dataset (or path) once "
             "there and remove this key" for key in ("dataset", "bars")}
    name: str = "kline_forecast"
    path: str | Path = ""
    lookback: int = -1  # set from the model's lookback
    pred_len: int = -1  # set from the model's horizon
    samples: int = 64
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    threshold: float = 0.0
    max_weight: float = 1.0
    kelly_fraction: float = 0.5
    predictor: Any = field(default=None, repr=False, compare=False, metadata=NOT_IN_SPEC)

    def __post_init__(self) -> None:
        where = f"strategy {self.name!r} ({self.kind})"
        self._check_params(where)  # the cheap checks first: a typo should not wait for torch and a checkpoint
        predictor = self.predictor if self.predictor is not None else _load_predictor(self.path, where)
        if not callable(getattr(predictor, "predict", None)) or not hasattr(predictor, "config"):
            raise SpecError(f"{where}: predictor must be a KlinePredictor (or have its predict and config), got "
                            f"{type(predictor).__name__}")
        model_lookback, horizon = int(predictor.config.lookback), int(predictor.config.horizon)
        lookback = model_lookback if self.lookback == -1 else self.lookback
        if not is_int(lookback) or lookback < model_lookback:
            raise SpecError(f"{where}: lookback must be an integer number of bars >= the model's lookback "
                            f"{model_lookback}, got {self.lookback!r}; remove the key to use {model_lookback}")
        object.__setattr__(self, "predictor", predictor)
        object.__setattr__(self, "lookback", int(lookback))
        object.__setattr__(self, "pred_len", horizon if self.pred_len == -1 else self.pred_len)
        super().__post_init__()

    def _check_params(self, where: str) -> None:
        def real(value: Any) -> bool:
            return is_real(value) and bool(np.isfinite(value))

        checks = [
            ("path", isinstance(self.path, (str, Path)), "a checkpoint folder (a string)"),
            # -1: not given, the model's horizon (set once the checkpoint is loaded)
            ("pred_len", is_int(self.pred_len) and (self.pred_len >= 1 or self.pred_len == -1),
             "an integer number of bars >= 1"),
            ("samples", is_int(self.samples) and self.samples >= 2, "an integer >= 2 (a variance needs two)"),
            ("seed", is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
            ("temperature", real(self.temperature) and self.temperature >= 0.0, "a number >= 0 (0 = greedy)"),
            ("top_p", real(self.top_p) and 0.0 < self.top_p <= 1.0, "a number in (0, 1]"),
            ("threshold", real(self.threshold), "a finite number (a horizon return, e.g. 0.002)"),
            ("max_weight", real(self.max_weight) and 0.0 < self.max_weight <= 1.0, "a number in (0, 1]"),
            ("kelly_fraction", real(self.kelly_fraction) and self.kelly_fraction > 0.0, "a number > 0"),
        ]
        for key, ok, accepted in checks:
            if not ok:
                raise SpecError(f"{where}: {key} must be {accepted}, got {getattr(self, key)!r}")

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        raise SpecError(f"strategy {self.name!r} ({self.kind}) forecasts from OHLCV bars: call decide(panel, "
                        "decision_bars) with a bars panel, not target_weights(returns)")

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        """Weights [N + 1] (cash first) from each asset's last ``lookback`` bars of ``panel`` (which ends at the
        decision bar)."""
        where = f"strategy {self.name!r} ({self.kind})"
        missing = [name for name in PANEL_FIELDS if getattr(panel, name) is None]
        if missing or panel.timestamps is None:
            raise SpecError(f"{where}: the model forecasts from open, high, low, close and volume; {panel.source} "
                            f"has {', '.join(panel.fields)} only. Use a bars dataset (e.g. data.dataset = "
                            "'sp500_index') or a bars file as the backtest's data")
        context = panel.window(panel.n_bars - 1, self.lookback)
        when = f"{where} at {panel.timestamps[-1].astype('M8[D]')}"
        mean, variance = np.empty(panel.n_assets), np.empty(panel.n_assets)
        for j, asset in enumerate(panel.assets):
            try:
                forecast = self.predictor.predict(context.to_bars(asset), self.pred_len, self.samples,
                                                  temperature=float(self.temperature), top_p=float(self.top_p),
                                                  seed=int(self.seed), lookback=self.lookback)
            except QfinError as err:
                raise _with_context(err, f"{when}, {asset}") from err
            horizon_return = forecast.paths[:, -1, 3] / forecast.last_close - 1.0
            mean[j], variance[j] = horizon_return.mean(), horizon_return.var(ddof=1)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance))):
            raise StrategyFitError(f"non-finite forecast (mean {mean.tolist()}, variance {variance.tolist()})")
        return kelly_weights(mean, variance, float(self.threshold), float(self.max_weight),
                             float(self.kelly_fraction))


def _with_context(err: QfinError, where: str) -> QfinError:
    """The same error type with ``where`` in front of its message (and a DataValidationError's rule kept)."""
    if isinstance(err, DataValidationError):
        return DataValidationError(f"{where}: {err}", rule=err.rule, column=err.column, rows=err.rows)
    return type(err)(f"{where}: {err}")


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


register_strategy(KlineForecastStrategy.kind, KlineForecastStrategy)
