"""The two frame layouts every qfin module exchanges: Bars (long OHLCV) and Prices (wide closes).

Bars (long, one row per symbol and bar)::

    timestamp  Datetime("us"), naive (tz-aware input is converted to UTC, then the zone is dropped)
    symbol     Utf8
    open, high, low, close, volume   Float64

Prices (wide, one row per bar)::

    timestamp  Datetime("us"), naive, strictly increasing
    <asset>    Float64, one column per asset (the column name is the asset's symbol)
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "BARS_COLUMNS",
    "BARS_SCHEMA",
    "PRICE_FIELDS",
    "TIMESTAMP",
    "TIMESTAMP_DTYPE",
]

#: Name of the time column in both layouts.
TIMESTAMP = "timestamp"
#: Microsecond, naive: the unit polars and numpy ``datetime64[us]`` share; UTC where a zone was given.
TIMESTAMP_DTYPE = pl.Datetime("us")
#: The price columns of a bar; each must be finite and > 0.
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")
#: Column order of the Bars schema.
BARS_COLUMNS: tuple[str, ...] = (TIMESTAMP, "symbol", *PRICE_FIELDS, "volume")
#: The Bars schema as a polars schema (column -> dtype).
BARS_SCHEMA = pl.Schema({
    TIMESTAMP: TIMESTAMP_DTYPE,
    "symbol": pl.Utf8,
    **{field: pl.Float64 for field in PRICE_FIELDS},
    "volume": pl.Float64,
})
