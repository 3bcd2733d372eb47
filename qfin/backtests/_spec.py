"""Backtest specs: TOML parsed into pydantic models that reject unknown keys and impossible values.

A spec names the data, the period, the strategies to compare, the costs, the fill convention, the rebalance
frequency and the report options. Every strategy of a spec runs on the same dates, costs and execution.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qfin.specs import parse_model, read_toml

from ._order_keys import ORDER_KEYS, Orders, check_orders

__all__ = ["SIGNAL_PARAMS", "BacktestSpec", "CostSpec", "DataSpec", "ReportSpec", "SmaCrossoverParams", "StrategySpec",
           "load_spec", "parse_spec", "signal_params"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Strict):
    """Where prices come from: a shipped or imported dataset name, or a file path (CSV/Parquet bars or prices);
    neither when the market is handed to :func:`qfin.backtests.run_backtest` as ``data=`` (a frame)."""

    dataset: str | None = None
    path: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    assets: list[str] | None = None

    @model_validator(mode="after")
    def _one_source_and_ordered_dates(self) -> DataSpec:
        if self.dataset is not None and self.path is not None:
            raise ValueError("give one of data.dataset (a dataset name) or data.path (a CSV/Parquet file), not both")
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"data.end {self.end} is not after data.start {self.start}")
        return self


class CostSpec(_Strict):
    """Frictions: proportional fees on traded value (``fee`` both ways, or ``buy``/``sell``), slippage, fixed."""

    fee: float = Field(0.0, ge=0.0, lt=0.5)
    buy: float | None = Field(None, ge=0.0, lt=0.5)
    sell: float | None = Field(None, ge=0.0, lt=0.5)
    slippage: float = Field(0.0, ge=0.0, lt=0.5)
    fixed: float = Field(0.0, ge=0.0)
    method: Literal["exact", "l1"] = "exact"


class StrategySpec(BaseModel):
    """One strategy: ``kind`` picks it, ``name`` labels it, other keys are its parameters.

    Kinds are registered as their packages are imported (``qfin.kline``, ``qfin.agents``), possibly after the spec
    is read, so the parameters are checked when the backtest builds the strategy: against the kind's model,
    :func:`qfin.strategy.params_model` for a weight strategy or :data:`SIGNAL_PARAMS` for a signal one.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    name: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def table(self) -> dict[str, Any]:
        """The strategy's table as the spec gave it (kind, name if set, parameters), for its kind's model."""
        return {"kind": self.kind, **({"name": self.name} if self.name is not None else {}), **self.params}

    @property
    def where(self) -> str:
        """How messages name this strategy."""
        return f"strategy {self.label!r} ({self.kind})"


class SmaCrossoverParams(BaseModel):
    """``kind = "sma_crossover"``: fast/slow simple-moving-average windows (whole bars >= 1), long/flat or
    long/short, whole shares or fractional, and the traded asset (needed when the data holds several).

    Nothing is coerced: a window is an integer (10.9 or "10" is refused, never truncated), a switch is a TOML
    boolean or 0/1 (the spelling of ``qfin sweep --grid long_short=0,1``); "false" or "no" is refused, since a
    string that reads as false is exactly the typo that must not turn a switch on."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: Literal["sma_crossover"]
    name: str | None = None
    fast: int = 10
    slow: int = 30
    long_short: bool = False
    integer_shares: bool = False
    asset: str | None = None
    # orders (qfin.backtests._orders); checked by check_orders, which names the key and its accepted range
    sl_stop: Any = None
    tp_stop: Any = None
    tsl_stop: Any = None
    limit_entry: Any = None
    limit_window: Any = None
    fractional: Any = None

    @field_validator("fast", "slow", mode="before")
    @classmethod
    def _whole_bars(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be a whole number of bars >= 1 (an integer such as 10), got {value!r}")
        return value

    @field_validator("long_short", "integer_shares", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"must be true or false (or 0 / 1), got {value!r}")

    @model_validator(mode="after")
    def _orders_checked(self) -> SmaCrossoverParams:
        orders = self.orders()
        if self.integer_shares and self.fractional is not None and orders.fractional:
            raise ValueError("integer_shares = true and fractional = true contradict each other; keep one")
        return self

    def orders(self) -> Orders:
        """The checked order keys; whole shares with ``integer_shares`` or ``fractional = false``."""
        values = {key: getattr(self, key) for key in ORDER_KEYS}
        if values["fractional"] is None:
            values["fractional"] = not self.integer_shares
        return check_orders(values)


SIGNAL_PARAMS: dict[str, type[BaseModel]] = {"sma_crossover": SmaCrossoverParams}  # the signal kinds' models


def signal_params(item: StrategySpec) -> SmaCrossoverParams:
    """A signal strategy's parameters checked against its kind's model (one-line :class:`SpecError` if not)."""
    return parse_model(SIGNAL_PARAMS[item.kind], item.table, item.where)


class ReportSpec(_Strict):
    """Report options: rolling-Sharpe window (bars), whether to draw PNGs and the HTML page."""

    rolling_window: int = Field(126, ge=2)
    plots: bool = True


class BacktestSpec(_Strict):
    """A whole backtest: see the module docstring and backtests/sp500.toml for an annotated example."""

    name: str = "backtest"
    data: DataSpec
    strategies: list[StrategySpec] = Field(min_length=1)
    costs: CostSpec = CostSpec()
    execution: Literal["close", "next_open"] = "close"
    rebalance: Literal["daily", "weekly", "monthly", "quarterly", "yearly"] = "monthly"
    initial_cash: float = Field(1_000_000.0, gt=0.0)
    periods_per_year: int = Field(252, ge=1)
    benchmark: str | None = None  # an asset of the data or a strategy's name (qfin.backtests._relative)
    report: ReportSpec = ReportSpec()

    @field_validator("strategies")
    @classmethod
    def _unique_labels(cls, strategies: list[StrategySpec]) -> list[StrategySpec]:
        labels = [s.label for s in strategies]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"strategy names must be unique; repeated: {', '.join(duplicates)} (set `name = ...`)")
        return strategies


def parse_spec(raw: dict[str, Any], source: str = "spec") -> BacktestSpec:
    """Validate a spec given as a dict (e.g. from TOML); errors become one-line :class:`SpecError` messages."""
    return parse_model(BacktestSpec, raw, source)


def load_spec(path: str | Path) -> BacktestSpec:
    """Read and validate a TOML spec; relative paths (``data.path``, a user strategy's ``entry`` file) are taken
    relative to the spec's folder."""
    path = Path(path)
    spec = parse_spec(read_toml(path), str(path))
    if spec.data.path is not None and not spec.data.path.is_absolute():
        data = spec.data.model_copy(update={"path": (path.parent / spec.data.path).resolve()})
        spec = spec.model_copy(update={"data": data})
    strategies = [_entry_from(item, path.parent) for item in spec.strategies]
    return spec.model_copy(update={"strategies": strategies})


def _entry_from(item: StrategySpec, folder: Path) -> StrategySpec:
    """``item`` with a relative ``entry = "file.py:function"`` made absolute from ``folder``."""
    entry = item.params.get("entry")
    if not isinstance(entry, str):
        return item
    target, sep, name = entry.rpartition(":")
    if not sep or not target.endswith(".py") or Path(target).is_absolute():
        return item
    return StrategySpec.model_validate({**item.table, "entry": f"{(folder / target).resolve()}:{name}"})
