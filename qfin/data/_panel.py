"""The market panel: one aligned block of bars, assets on columns, for every consumer of prices.

:func:`price_panel` loads a shipped dataset, a CSV/Parquet file of bars or prices, or an in-memory frame into a
:class:`MarketPanel`: ``timestamps`` [T], ``assets`` (N names) and the bar fields as float64 arrays [T, N]
(``close`` always; ``open``/``high``/``low``/``volume`` when the source has them). Multi-symbol bars are joined
on the timestamps every symbol has (an inner join), so each row is one bar of every asset. The backtest engine,
the environments and the strategies all read this one type; slicing is by views, never by copies.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataValidationError, QfinError
from ._datasets import dataset_info, list_datasets, load_dataset
from ._io import read_bars, read_prices, to_prices
from ._schemas import TIMESTAMP
from ._validation import as_polars, validate_bars, validate_prices

__all__ = ["PANEL_FIELDS", "MarketPanel", "price_panel"]

PANEL_FIELDS = ("open", "high", "low", "close", "volume")  # the Bars schema's order
_FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass(frozen=True, eq=False)
class MarketPanel:
    """Aligned bars of N assets over T timestamps.

    Attributes
    ----------
    timestamps : [T] datetime64[us], strictly increasing (None only for a panel built from bare arrays).
    assets : the N asset names, in column order.
    close : [T, N] float64 closing prices.
    open, high, low, volume : [T, N] float64, or None where the source has closes only.
    source : where the data came from (a dataset name, a file, "frame"), for messages.

    The panel from :func:`price_panel` is validated (positive, finite prices; consistent OHLC; sorted, unique
    timestamps); building one by hand checks shapes only.
    """

    timestamps: np.ndarray | None
    assets: tuple[str, ...]
    close: np.ndarray
    open: np.ndarray | None = None
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    volume: np.ndarray | None = None
    source: str = "arrays"

    def __post_init__(self) -> None:
        shape = np.shape(self.close)
        if len(shape) != 2 or shape[1] != len(self.assets):
            raise DataValidationError(f"{self.source}: close must be [T, N] with N = {len(self.assets)} assets; got "
                                      f"shape {shape}", rule="panel_shape", column="close")
        for name in PANEL_FIELDS:
            values = getattr(self, name)
            if values is not None and np.shape(values) != shape:
                raise DataValidationError(f"{self.source}: {name} has shape {np.shape(values)}; every field must "
                                          f"be [T, N] = {shape} like close", rule="panel_shape", column=name)
        if self.timestamps is not None and len(self.timestamps) != shape[0]:
            raise DataValidationError(f"{self.source}: {len(self.timestamps)} timestamps for {shape[0]} bars",
                                      rule="panel_shape", column=TIMESTAMP)

    @property
    def n_bars(self) -> int:
        return self.close.shape[0]

    @property
    def n_assets(self) -> int:
        return self.close.shape[1]

    @property
    def fields(self) -> tuple[str, ...]:
        """The bar fields this panel holds, in Bars-schema order (always including ``close``)."""
        return tuple(name for name in PANEL_FIELDS if getattr(self, name) is not None)

    def field(self, name: str) -> np.ndarray:
        """The [T, N] array of field ``name``; a :class:`DataValidationError` names the fields held if absent."""
        values = getattr(self, name, None) if name in PANEL_FIELDS else None
        if values is None:
            raise DataValidationError(f"{self.source} has no {name!r} field; it has {', '.join(self.fields)} "
                                      "(prices give close only; bars give open, high, low, close and volume)",
                                      rule="missing_field", column=str(name))
        return values

    def returns(self) -> np.ndarray:
        """[T - 1, N] simple returns ``close_t / close_{t-1} - 1``; row t - 1 ends at bar t."""
        return self.close[1:] / self.close[:-1] - 1.0

    def slice(self, start: int, stop: int) -> MarketPanel:
        """Bars ``start`` .. ``stop - 1`` (views of the same arrays)."""
        rows = slice(start, stop)
        return replace(self, timestamps=None if self.timestamps is None else self.timestamps[rows],
                       **{name: getattr(self, name)[rows] for name in self.fields})

    def window(self, bar: int, length: int | None = None) -> MarketPanel:
        """The bars up to and including ``bar`` (the last ``length`` of them): what a decision at ``bar`` sees."""
        return self.slice(0 if length is None else max(bar + 1 - length, 0), bar + 1)

    def select(self, assets: list[str] | tuple[str, ...]) -> MarketPanel:
        """The panel restricted to (and ordered as) ``assets``."""
        repeated = sorted({a for a in assets if list(assets).count(a) > 1})
        if repeated:
            raise DataValidationError(f"assets: {', '.join(map(str, repeated))} named more than once; name each asset "
                                      "once", rule="repeated_asset", column="assets")
        unknown = [a for a in assets if a not in self.assets]
        if unknown or not assets:
            what = f"{', '.join(map(str, unknown))} not in {self.source}" if unknown else "the list is empty"
            raise DataValidationError(f"assets: {what}; available: {', '.join(self.assets)}", rule="unknown_asset",
                                      column=str(unknown[0]) if unknown else None)
        columns = [self.assets.index(a) for a in assets]
        return replace(self, assets=tuple(assets), **{name: getattr(self, name)[:, columns] for name in self.fields})

    def to_bars(self, asset: str) -> pl.DataFrame:
        """One asset's bars as a Bars frame (timestamp, symbol, open, high, low, close, volume)."""
        missing = [name for name in PANEL_FIELDS if getattr(self, name) is None]
        if missing or self.timestamps is None:
            raise DataValidationError(f"{self.source}: Bars need timestamps and all of {', '.join(PANEL_FIELDS)}; "
                                      f"this panel lacks {', '.join(missing) or 'timestamps'}",
                                      rule="missing_field", column=missing[0] if missing else TIMESTAMP)
        j = self.assets.index(asset)
        columns = {TIMESTAMP: pl.Series(TIMESTAMP, self.timestamps, dtype=pl.Datetime("us")),
                   "symbol": pl.Series("symbol", [asset] * self.n_bars, dtype=pl.Utf8)}
        columns.update({name: pl.Series(name, getattr(self, name)[:, j], dtype=pl.Float64) for name in PANEL_FIELDS})
        return pl.DataFrame(columns)


def price_panel(data: Any, *, start: Any = None, end: Any = None, assets: list[str] | None = None) -> MarketPanel:
    """Load and validate a market panel.

    Parameters
    ----------
    data : a dataset name (``qfin.data.list_datasets()``), a path to a CSV/Parquet file of bars (long, with
        ``symbol``) or prices (wide), an in-memory Bars or Prices frame (polars or pandas), or a MarketPanel.
    start, end : optional inclusive bounds (dates, datetimes or ISO strings; a date ``end`` keeps that whole day).
    assets : optional subset of the assets, in the order wanted.

    Returns
    -------
    MarketPanel with ``close`` and, for bars, ``open``/``high``/``low``/``volume`` on the timestamps every asset
    has. Bad input raises :class:`DataValidationError` naming what is wrong and what is accepted.
    """
    panel = data if isinstance(data, MarketPanel) else _load(data)
    if assets is not None:
        panel = panel.select(list(assets))
    if start is not None or end is not None:
        panel = _between(panel, start, end)
    return panel


def _load(data: Any) -> MarketPanel:
    if isinstance(data, str) and data in list_datasets():
        kind = dataset_info(data).kind
        if kind not in ("bars", "prices"):
            raise DataValidationError(f"dataset {data!r} is a {kind}, not prices; use a bars or prices dataset "
                                      f"({', '.join(_price_datasets())})", rule="not_prices")
        return _from_frame(load_dataset(data), data, kind == "bars")
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if isinstance(data, str) and not path.name.lower().endswith(_FILE_SUFFIXES) and not path.exists():
            raise DataValidationError(f"unknown dataset {data!r}; accepted: a dataset name "
                                      f"({', '.join(list_datasets())}) or a CSV/Parquet file "
                                      f"({', '.join(_FILE_SUFFIXES)})", rule="unknown_dataset")
        try:
            return _from_frame(read_bars(path), str(path), bars=True)
        except QfinError as err:
            if getattr(err, "rule", None) != "missing_columns":
                raise
            return _from_frame(read_prices(path), str(path), bars=False)
    if isinstance(data, (pl.DataFrame, pl.LazyFrame)) or type(data).__module__.split(".")[0] == "pandas":
        frame = as_polars(data)
        return _from_frame(frame, "frame", bars="symbol" in frame.columns)
    raise DataValidationError(f"data must be a dataset name, a CSV/Parquet path, a Bars or Prices frame (polars or "
                              f"pandas) or a MarketPanel; got {type(data).__name__}", rule="frame_type")


def _price_datasets() -> list[str]:
    return [name for name in list_datasets() if dataset_info(name).kind in ("bars", "prices")]


def _from_frame(frame: pl.DataFrame, source: str, bars: bool) -> MarketPanel:
    if not bars:
        wide = validate_prices(frame)
        names = tuple(c for c in wide.columns if c != TIMESTAMP)
        return MarketPanel(_timestamps(wide), names, wide.select(names).to_numpy().astype(np.float64), source=source)
    frame = validate_bars(frame)
    wide = {name: to_prices(frame, field=name, how="inner") for name in PANEL_FIELDS}
    names = tuple(c for c in wide["close"].columns if c != TIMESTAMP)
    arrays = {name: w.select(names).to_numpy().astype(np.float64) for name, w in wide.items()}
    return MarketPanel(_timestamps(wide["close"]), names, source=source, **arrays)


def _timestamps(wide: pl.DataFrame) -> np.ndarray:
    return wide[TIMESTAMP].cast(pl.Datetime("us")).to_numpy().astype("datetime64[us]")


def _instant(value: Any, what: str, end: bool) -> np.datetime64:
    """``value`` as datetime64[us]; a whole-day ``end`` (a date, or an ISO date string) means the end of that day."""
    try:
        day = isinstance(value, dt.date) and not isinstance(value, dt.datetime) or (
            isinstance(value, str) and len(value.strip()) == 10)
        instant = np.datetime64(value, "us")
    except (TypeError, ValueError):
        raise DataValidationError(f"{what}={value!r} is not a date; accepted: a date, a datetime or an ISO string "
                                  "such as '2015-01-31'", rule="invalid_argument", column=TIMESTAMP) from None
    return instant + np.timedelta64(1, "D") - np.timedelta64(1, "us") if end and day else instant


def _between(panel: MarketPanel, start: Any, end: Any) -> MarketPanel:
    ts = panel.timestamps
    if ts is None:
        raise DataValidationError(f"{panel.source} has no timestamps to select start/end by; accepted: a panel from "
                                  "price_panel or with timestamps", rule="empty_span", column=TIMESTAMP)
    first = 0 if start is None else int(np.searchsorted(ts, _instant(start, "start", end=False), side="left"))
    stop = len(ts) if end is None else int(np.searchsorted(ts, _instant(end, "end", end=True), side="right"))
    if stop <= first:
        raise DataValidationError(f"{panel.source} has no bars between start={start!s} and end={end!s} (it spans "
                                  f"{ts[0].astype('M8[D]')} .. {ts[-1].astype('M8[D]')}); accepted: bounds inside "
                                  "that span, start before end", rule="empty_span", column=TIMESTAMP)
    return panel.slice(first, stop)
