"""The bars a K-line command works on: one symbol from a dataset or a file, cut at a date, checked with
one-line errors (what the CLI and scripts share)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import SpecError

__all__ = ["bars_from", "select_bars"]


def select_bars(dataset: str | None = None, path: str | Path | None = None, symbol: str | None = None,
                end: str | None = None) -> tuple[pl.DataFrame, str]:
    """(bars of one symbol sorted by time, their source): exactly one of ``dataset`` (a shipped or imported
    dataset of OHLCV bars) or ``path`` (CSV/Parquet bars); ``symbol`` picks one of several; ``end`` (inclusive;
    a bare date keeps that whole day) drops later bars."""
    from ..data import load_dataset, read_bars

    if (dataset is None) == (path is None):
        raise SpecError("pass exactly one of --dataset NAME or --path FILE")
    if dataset is not None:
        bars = load_dataset(dataset)
        if not {"timestamp", "symbol", "close"} <= set(bars.columns):
            raise SpecError(f"--dataset {dataset}: not a dataset of OHLCV bars (columns {bars.columns[:6]}...)")
        source = dataset
    else:
        bars = read_bars(path, symbol=symbol)
        source = str(path)
    symbols = bars["symbol"].unique(maintain_order=True).to_list()
    if symbol is not None and dataset is not None:
        if symbol not in symbols:
            raise SpecError(f"--symbol {symbol}: not in {source}; it holds {symbols[:20]}")
        bars = bars.filter(pl.col("symbol") == symbol)
    elif len(symbols) > 1:
        raise SpecError(f"{source} holds {len(symbols)} symbols {symbols[:20]}; pick one with --symbol")
    bars = bars.sort("timestamp")
    if end is not None:
        first = bars["timestamp"].min()
        bars = bars.filter(_naive_timestamp(bars) <= _date_bound(end, "--end", whole_day=True))
        if bars.height == 0:
            raise SpecError(f"--end {end}: no bars on or before it in {source} (it starts at {first})")
    return bars, source


def bars_from(bars: pl.DataFrame, start: str, option: str = "--calibrate-start") -> pl.DataFrame:
    """The bars at or after ``start`` (a date or datetime)."""
    return bars.filter(_naive_timestamp(bars) >= _date_bound(start, option, whole_day=False))


def _date_bound(text: str, option: str, whole_day: bool) -> datetime:
    """``text`` as a datetime; with ``whole_day``, a bare date means the last microsecond of that day."""
    try:
        t = np.datetime64(text)
    except ValueError:
        raise SpecError(f"{option} {text!r}: not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if whole_day and np.datetime_data(t.dtype)[0] in ("Y", "M", "W", "D"):
        return (t.astype("datetime64[D]") + np.timedelta64(1, "D") - np.timedelta64(1, "us")).item()
    return t.astype("datetime64[us]").item()


def _naive_timestamp(bars: pl.DataFrame) -> pl.Expr:
    """The timestamp column as an expression comparable with naive datetimes (UTC wall time if tz-aware)."""
    ts = pl.col("timestamp")
    return ts.dt.replace_time_zone(None) if getattr(bars["timestamp"].dtype, "time_zone", None) else ts
