"""Backtest specs: TOML parsed into pydantic models that reject unknown keys and impossible values.

A spec names the data, the period, the strategies to compare, the costs, the fill convention, the rebalance
frequency and the report options. Every strategy of a spec runs on the same dates, costs and execution.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qfin.errors import SpecError

__all__ = ["BacktestSpec", "CostSpec", "DataSpec", "ReportSpec", "StrategySpec", "load_spec", "parse_spec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Strict):
    """Where prices come from: a shipped or imported dataset name, or a file path (CSV/Parquet bars or prices)."""

    dataset: str | None = None
    path: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    assets: list[str] | None = None

    @model_validator(mode="after")
    def _one_source_and_ordered_dates(self) -> DataSpec:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of data.dataset (a dataset name) or data.path (a CSV/Parquet file)")
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
    """One strategy: ``kind`` picks it, ``name`` labels it, other keys are its parameters (checked by the strategy)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    name: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def label(self) -> str:
        return self.name or self.kind


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
    try:
        return BacktestSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(f"{source}: {_describe(err, raw)}") from None


def load_spec(path: str | Path) -> BacktestSpec:
    """Read and validate a TOML spec; relative data paths are taken relative to the spec's folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: not valid TOML ({err})") from None
    spec = parse_spec(raw, str(path))
    if spec.data.path is not None and not spec.data.path.is_absolute():
        data = spec.data.model_copy(update={"path": (path.parent / spec.data.path).resolve()})
        spec = spec.model_copy(update={"data": data})
    return spec


def _describe(err: ValidationError, raw: dict[str, Any]) -> str:
    """The first validation problem as one line: where, what, and what is accepted."""
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "spec"
    if problem["type"] == "extra_forbidden":
        model = _model_at(problem["loc"][:-1])
        allowed = ", ".join(model.model_fields) if model else "see the docs"
        return f"unknown key {where!r}; allowed keys here: {allowed}"
    if problem["type"] == "missing":
        return f"missing key {where!r}"
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the keys at ``loc`` (for listing allowed keys)."""
    model: type[BaseModel] | None = BacktestSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model
