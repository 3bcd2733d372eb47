"""The strategy contract (layer 0): the base class every weight strategy derives from, the registry of strategy
kinds that backtest specs name, each kind's spec parameters as a pydantic model, and the strategy errors.

A strategy decides target weights with CASH AT INDEX 0 from the market panel (:class:`qfin.data.MarketPanel`)
up to and including the decision bar. :meth:`WeightStrategy.decide` hands :meth:`WeightStrategy.weights_at`
the panel cut at each decision bar b (``panel.window(b)``: bars 0 .. b), so nothing after bar b's close can
reach the decision (no look-ahead) whatever a strategy reads: closes, OHLCV or timestamps. The default
:meth:`~WeightStrategy.weights_at` passes :meth:`WeightStrategy.target_weights` the ``lookback`` simple returns
ending at b, r_t = close_t / close_{t-1} - 1 for t = b - lookback + 1 .. b.

Capabilities add their kinds with :func:`register_strategy` (the built-in baselines live in
``qfin.backtests``, the K-line forecast in ``qfin.kline``, trained agents in ``qfin.agents``), so the backtest
runner finds every kind here without importing the packages that define them. A kind's spec keys are its
dataclass fields (:func:`params_model`), so a spec is checked with :func:`qfin.specs.parse_model`'s one-line
errors and the two lists can never drift apart.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from qfin.data import MarketPanel
from qfin.errors import DataValidationError, QfinError, SpecError
from qfin.specs import parse_model

__all__ = [
    "NOT_IN_SPEC", "STRATEGIES", "Fallback", "StrategyFallbackWarning", "StrategyFitError", "StrategyOutputError",
    "WeightStrategy", "is_int", "is_real", "params_model", "register_strategy", "strategy_params",
]

Fallback = Literal["raise", "previous"]
NOT_IN_SPEC = {"spec": False}  # dataclass field metadata: a Python-only argument (an object), never a spec key


class StrategyFitError(QfinError):
    """A strategy's fit failed on a window (solver error, infeasible problem, non-finite weights)."""


class StrategyOutputError(QfinError):
    """A strategy or policy returned weights of the wrong shape, non-finite, or not summing to one."""


class StrategyFallbackWarning(UserWarning):
    """A strategy built with ``fallback="previous"`` kept its previous target because a fit failed."""


def is_int(value: Any) -> bool:
    """An integer (Python or numpy), not a bool: the type check of every count-like strategy parameter."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A real number (Python or numpy int or float), not a bool; NaN and inf pass (check finiteness apart)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True, kw_only=True)
class WeightStrategy:
    """Base of the weight strategies.

    Attributes
    ----------
    name : label of the strategy in reports (defaults to its kind).
    lookback : bars of return history a decision needs (0 = none).
    fallback : "raise" (default): a failed fit raises :class:`StrategyFitError`; "previous": keep the previous
        target for that decision (the engine rebalances back to it) and warn. A failure at the first decision
        always raises: there is no previous target to keep.
    rebalances : class flag; False for strategies that trade only at their first decision (the runner then
        passes only the first decision bar).
    retired_keys : class table of spec keys a kind no longer takes, each with where it went.

    Subclasses implement :meth:`target_weights` (from returns) or override :meth:`weights_at` (from the panel).
    """

    kind: ClassVar[str] = "weights"
    rebalances: ClassVar[bool] = True
    uses_history: ClassVar[bool] = True  # False: the targets ignore returns, so lookback must be 0
    min_lookback: ClassVar[int] = 0  # smallest lookback the fit can work with
    retired_keys: ClassVar[dict[str, str]] = {}  # spec key -> where it went (a one-line SpecError if still given)
    extra_keys: ClassVar[str | None] = None  # a field that takes the spec keys the model does not know (user kinds)

    name: str = "weights"
    lookback: int = 0
    fallback: Fallback = "raise"

    def __post_init__(self) -> None:
        if type(self) is WeightStrategy:
            raise TypeError("WeightStrategy is the base class; subclass it with target_weights or weights_at")
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpecError(f"strategy ({self.kind}): name must be a non-empty string, got {self.name!r}")
        where = f"strategy {self.name!r} ({self.kind})"
        if not self.uses_history and self.lookback != 0:
            raise SpecError(f"{where}: uses no return history, so it takes no lookback (got {self.lookback!r}); "
                            "remove the lookback key")
        if not is_int(self.lookback) or self.lookback < self.min_lookback:
            raise SpecError(f"{where}: lookback must be an integer number of bars >= {self.min_lookback}, "
                            f"got {self.lookback!r}")
        if self.fallback not in ("raise", "previous"):
            raise SpecError(f"{where}: fallback must be 'raise' or 'previous', got {self.fallback!r}")
        self._check_params(where)

    def _check_params(self, where: str) -> None:  # noqa: B027 (optional hook)
        """Validate subclass parameters at construction; ``where`` names the strategy in messages."""

    def _check_assets(self, n_assets: int, where: str) -> None:  # noqa: B027 (optional hook)
        """Validate parameters that depend on the number of assets N (checked once per :meth:`decide`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.target_weights is WeightStrategy.target_weights and cls.weights_at is WeightStrategy.weights_at:
            raise TypeError(f"{cls.__name__} must define target_weights(returns) or weights_at(panel)")

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        """Target weights [N + 1], cash first, summing to one, from a [lookback, N] window of simple returns (what
        the default :meth:`weights_at` calls; a strategy that reads more of the panel defines weights_at instead)."""
        raise StrategyOutputError(f"{type(self).__name__} decides from the market panel (weights_at), not from a "
                                  "window of returns")

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        """Target weights [N + 1] at the panel's last bar (the decision bar), from the panel up to it.

        The default builds the ``lookback`` simple returns ending at that bar from ``panel.close`` and calls
        :meth:`target_weights`; strategies that read more (OHLCV, timestamps) override this instead.
        """
        close = panel.close[panel.n_bars - self.lookback - 1:]
        return self.target_weights(close[1:] / close[:-1] - 1.0)

    def decide(self, panel: MarketPanel | np.ndarray, decision_bars: np.ndarray,
               progress: Callable[[], object] | None = None, timestamps: np.ndarray | None = None) -> np.ndarray:
        """Target weights at each decision bar, each from the panel up to and including that bar.

        Parameters
        ----------
        panel : the market (:func:`qfin.data.price_panel`), or a [T, N] array of closing prices (a closes-only
            panel), positive and finite.
        decision_bars : [R] strictly increasing bar indices, each >= ``lookback`` (a window needs
            ``lookback`` returns, i.e. ``lookback + 1`` closes, ending at the bar).
        progress : called with no argument once per decision (e.g. to advance a progress bar).
        timestamps : with an array of closes only, optional [T] datetime64 used to print dates in messages (a
            panel carries its own).

        Returns
        -------
        [R, N + 1] float64 targets, cash first, rows summing to one.
        """
        panel, bars = self._check_inputs(panel, decision_bars, timestamps)
        dates = panel.timestamps
        targets = np.empty((len(bars), panel.n_assets + 1))
        for k, bar in enumerate(bars):
            try:
                targets[k] = self.weights_at(panel.window(int(bar)))
            except StrategyFitError as err:
                where = _where(self.name, k, bar, dates)
                if self.fallback == "previous" and k > 0:
                    warnings.warn(f"{where}: {err}; kept the previous target (fallback='previous')",
                                  StrategyFallbackWarning, stacklevel=2)
                    targets[k] = targets[k - 1]
                elif self.fallback == "previous":
                    raise StrategyFitError(f"{where}: {err} (no previous target to keep at the first "
                                           "decision)") from err
                else:
                    raise StrategyFitError(f"{where}: {err}; build the strategy with fallback = 'previous' to "
                                           "keep the previous target instead") from err
            except StrategyOutputError as err:
                raise StrategyOutputError(f"{_where(self.name, k, bar, dates)}: {err}") from err
            if progress is not None:
                progress()
        return targets

    def _check_inputs(self, panel: MarketPanel | np.ndarray, decision_bars: np.ndarray,
                      timestamps: np.ndarray | None) -> tuple[MarketPanel, np.ndarray]:
        where = f"strategy {self.name!r} ({self.kind})"
        if isinstance(panel, MarketPanel):
            if timestamps is not None:
                raise SpecError(f"{where}: timestamps go with an array of closes only; a MarketPanel carries its own")
            close = panel.close
        else:
            close = np.asarray(panel, dtype=np.float64)
            if close.ndim != 2 or close.shape[1] == 0:
                raise SpecError(f"{where}: close must be a [T, N] array of prices with N >= 1, got shape "
                                f"{close.shape}")
            panel = MarketPanel(timestamps, tuple(f"asset {j}" for j in range(close.shape[1])), close)
        bad = ~np.isfinite(close) | (close <= 0.0)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])[:5].tolist()
            raise DataValidationError(f"{where}: close prices must be positive and finite; bad rows {rows}",
                                      rule="non_positive_price", column="close", rows=rows)
        bars = np.asarray(decision_bars)
        if bars.ndim != 1 or (len(bars) and not np.issubdtype(bars.dtype, np.integer)):
            raise SpecError(f"{where}: decision_bars must be a 1-D array of integer bar indices, got "
                            f"dtype {bars.dtype} with shape {bars.shape}")
        bars = bars.astype(np.int64)
        if len(bars) and (bars[0] < 0 or bars[-1] >= len(close) or np.any(np.diff(bars) <= 0)):
            raise SpecError(f"{where}: decision_bars must be strictly increasing bar indices in "
                            f"[0, {len(close) - 1}], got {bars[:5].tolist()}{' ...' if len(bars) > 5 else ''}")
        if len(bars) and bars[0] < self.lookback:
            raise SpecError(f"{where}: lookback {self.lookback} bars needs decisions at bar >= {self.lookback}, "
                            f"but the first decision is at bar {bars[0]}; start later or shorten the lookback")
        self._check_assets(close.shape[1], where)
        return panel, bars


def _where(name: str, k: int, bar: int, timestamps: np.ndarray | None) -> str:
    date = f", {timestamps[bar].astype('M8[D]')}" if timestamps is not None else ""
    return f"strategy {name!r} at decision {k} (bar {bar}{date})"


# kind -> strategy class; filled by register_strategy as the packages that define strategies are imported
STRATEGIES: dict[str, type[WeightStrategy]] = {}


def register_strategy(kind: str, cls: type[WeightStrategy]) -> type[WeightStrategy]:
    """Make ``kind`` (the ``kind`` key of a backtest spec's strategy) build ``cls``; returns ``cls``.

    Registering the same class again is a no-op; a kind already taken by another class is an error, so two
    packages can never silently shadow each other's strategies.
    """
    if not isinstance(kind, str) or not kind.strip():
        raise SpecError(f"register_strategy: kind must be a non-empty string, got {kind!r}")
    if not (isinstance(cls, type) and issubclass(cls, WeightStrategy)):
        raise SpecError(f"register_strategy({kind!r}): expected a WeightStrategy subclass, got {cls!r}")
    known = STRATEGIES.get(kind)
    if known is not None and known is not cls:
        raise SpecError(f"register_strategy: kind {kind!r} is already taken by {known.__module__}."
                        f"{known.__qualname__}; choose another kind")
    STRATEGIES[kind] = cls
    return cls


_PARAMS_MODELS: dict[type, type] = {}


def params_model(cls: type[WeightStrategy]) -> type:
    """The pydantic model of ``cls``'s spec keys: ``kind``, then the dataclass's init fields (``name``,
    ``lookback``, ``fallback`` and the strategy's own) except those marked :data:`NOT_IN_SPEC`; strict types,
    unknown keys refused. Built from the fields on first use (pydantic loads only then) and cached."""
    model = _PARAMS_MODELS.get(cls)
    if model is None:
        from typing import get_type_hints

        from pydantic import ConfigDict, Field, create_model

        hints = get_type_hints(cls)
        fields: dict[str, Any] = {"kind": (Literal[cls.kind], ...)}
        for f in dataclasses.fields(cls):
            if f.init and f.metadata.get("spec", True):
                default = (Field(default_factory=f.default_factory) if f.default_factory is not dataclasses.MISSING
                           else ... if f.default is dataclasses.MISSING else f.default)
                fields[f.name] = (hints[f.name], default)
        config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)  # a class type: isinstance
        model = create_model(f"{cls.__name__}Spec", __config__=config,
                             __doc__=f"Spec keys of strategy kind {cls.kind!r}.", **fields)
        _PARAMS_MODELS[cls] = model
    return model


def strategy_params(cls: type[WeightStrategy], raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Check one spec strategy table ``raw`` (``kind``, optional ``name``, parameters) against ``cls``'s
    :func:`params_model`; returns the keys given (``kind`` dropped), ready for ``cls(**params)``. A problem is one
    :class:`SpecError` line starting with ``source``."""
    for key, moved in cls.retired_keys.items():
        if key in raw:
            raise SpecError(f"{source}: key {key!r} {moved}")
    model = params_model(cls)
    extras = {k: v for k, v in raw.items() if k not in model.model_fields} if cls.extra_keys else {}
    known = {k: v for k, v in raw.items() if k not in extras}
    params = parse_model(model, known, source).model_dump(exclude_unset=True, exclude={"kind"})
    return {**params, cls.extra_keys: extras} if cls.extra_keys else params
