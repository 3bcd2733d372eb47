"""validate_bars / validate_prices on in-memory frames: each rule, its error fields, and the happy path."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

from qfin.data import BARS_COLUMNS, BARS_SCHEMA, PRICE_FIELDS, validate_bars, validate_prices
from qfin.errors import DataValidationError, QfinError


def bars(**override) -> pl.DataFrame:
    """Three valid bars of symbol A (override any column with a list)."""
    data = {
        "timestamp": [dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 2), dt.datetime(2021, 3, 3)],
        "symbol": ["A", "A", "A"],
        "open": [10.0, 11.0, 12.0],
        "high": [11.0, 12.5, 12.5],
        "low": [9.5, 10.5, 11.5],
        "close": [10.5, 12.0, 12.2],
        "volume": [100.0, 200.0, 0.0],
    }
    data.update(override)
    return pl.DataFrame(data, strict=False)


def reject(frame, rule: str, column: str | None, rows: list[int], validate=validate_bars) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate(frame)
    err = info.value
    assert err.rule == rule
    assert err.column == column
    assert err.rows == rows
    message = str(err)
    assert rule in message
    if column:
        assert repr(column) in message
    for row in rows[:1]:
        assert f"row {row}" in message
    assert "Accepted" in message
    return err


def test_constants():
    assert BARS_COLUMNS == ("timestamp", "symbol", "open", "high", "low", "close", "volume")
    assert PRICE_FIELDS == ("open", "high", "low", "close")
    assert list(BARS_SCHEMA) == list(BARS_COLUMNS)


def test_valid_frame_is_cast_to_schema_in_same_order():
    frame = bars(volume=[100, 200, 0], symbol=["B", "A", "B"],
                 timestamp=[dt.datetime(2021, 3, 2), dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 3)])
    out = validate_bars(frame.with_columns(extra=pl.lit(1)))
    assert out.schema == BARS_SCHEMA
    assert out["symbol"].to_list() == ["B", "A", "B"]  # row order kept, not sorted
    assert out["volume"].to_list() == [100.0, 200.0, 0.0]


def test_text_numbers_and_dates_are_parsed():
    frame = bars(timestamp=["1/4/1999", "1/5/1999", "12/31/1999"], open=["10", " 11 ", "1.2e1"])
    out = validate_bars(frame)
    assert out["timestamp"].to_list() == [dt.datetime(1999, 1, 4), dt.datetime(1999, 1, 5),
                                          dt.datetime(1999, 12, 31)]
    assert out["open"].to_list() == [10.0, 11.0, 12.0]


def test_tz_aware_timestamps_become_naive_utc():
    ts = pl.Series([dt.datetime(2021, 3, 1, 9, 30), dt.datetime(2021, 3, 2, 9, 30), dt.datetime(2021, 3, 3, 9, 30)])
    frame = bars(timestamp=ts.dt.replace_time_zone("America/New_York"))
    out = validate_bars(frame)
    # 09:30 EST (UTC-5; US DST starts 2021-03-14) is 14:30 UTC.
    assert out["timestamp"].dtype == pl.Datetime("us")
    assert out["timestamp"].to_list()[0] == dt.datetime(2021, 3, 1, 14, 30)


def test_iso_offset_and_z_text_become_utc():
    frame = bars(timestamp=["2021-03-01T09:30:00Z", "2021-03-01T11:30:00+01:00", "2021-03-01T12:00:00+00:00"])
    out = validate_bars(frame)
    assert out["timestamp"].to_list() == [dt.datetime(2021, 3, 1, 9, 30), dt.datetime(2021, 3, 1, 10, 30),
                                          dt.datetime(2021, 3, 1, 12, 0)]


def test_pandas_frame_with_datetime_index():
    pdf = bars().to_pandas().set_index("timestamp")
    out = validate_bars(pdf)
    assert out.schema == BARS_SCHEMA
    assert out["timestamp"][0] == dt.datetime(2021, 3, 1)


def test_pandas_mixed_object_column_is_a_qfin_error():
    pdf = bars().to_pandas()
    pdf["open"] = pd.Series([1.0, "x", b"y"], dtype=object)
    with pytest.raises(QfinError):
        validate_bars(pdf)


def test_not_a_frame():
    with pytest.raises(DataValidationError) as info:
        validate_bars({"open": [1.0]})
    assert info.value.rule == "frame_type"


def test_missing_columns_lists_missing_and_found():
    err = reject(bars().drop("low", "volume"), "missing_columns", "low", [])
    assert "'volume'" in str(err) and "found" in str(err) and "'close'" in str(err)


def test_empty_frame():
    reject(bars().head(0), "empty", None, [])


def test_nan_price():
    reject(bars(close=[10.5, math.nan, 12.2]), "missing_values", "close", [1])


def test_null_price():
    reject(bars(open=[None, 11.0, 12.0]), "missing_values", "open", [0])


def test_inf_price():
    reject(bars(high=[11.0, math.inf, 12.5]), "infinite_values", "high", [1])


def test_nan_volume():
    reject(bars(volume=[1.0, 2.0, math.nan]), "missing_values", "volume", [2])


def test_non_positive_price():
    reject(bars(low=[9.5, 0.0, -1.0]), "non_positive_price", "low", [1, 2])


def test_high_below_max_open_close():
    err = reject(bars(high=[11.0, 11.5, 12.5]), "high_below_open_close", "high", [1])
    assert "open=11.0" in str(err) and "close=12.0" in str(err)


def test_high_below_low_is_caught():
    reject(bars(high=[11.0, 10.0, 12.5], low=[9.5, 10.5, 11.5]), "high_below_open_close", "high", [1])


def test_low_above_min_open_close():
    reject(bars(low=[10.1, 10.5, 11.5]), "low_above_open_close", "low", [0])


def test_negative_volume():
    reject(bars(volume=[1.0, -5.0, 2.0]), "negative_volume", "volume", [1])


def test_duplicate_timestamps_per_symbol():
    ts = [dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 2), dt.datetime(2021, 3, 2)]
    err = reject(bars(timestamp=ts), "duplicate_timestamps", "timestamp", [2])
    assert "already at row 1" in str(err)


def test_same_timestamp_in_two_symbols_is_fine():
    ts = [dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 2)]
    out = validate_bars(bars(timestamp=ts, symbol=["A", "B", "A"]))
    assert out.height == 3


def test_unsorted_timestamps_per_symbol():
    ts = [dt.datetime(2021, 3, 2), dt.datetime(2021, 3, 3), dt.datetime(2021, 3, 1)]
    err = reject(bars(timestamp=ts), "unsorted_timestamps", "timestamp", [2])
    assert "2021-03-03" in str(err)  # names the previous timestamp


def test_interleaved_symbols_each_sorted_is_fine():
    ts = [dt.datetime(2021, 3, 2), dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 3)]
    assert validate_bars(bars(timestamp=ts, symbol=["A", "B", "A"])).height == 3


def test_non_numeric_text():
    reject(bars(volume=["1", "lots", "3"]), "non_numeric", "volume", [1])


def test_boolean_price_column_is_rejected():
    with pytest.raises(DataValidationError) as info:
        validate_bars(bars(open=[True, False, True]))
    assert (info.value.rule, info.value.column) == ("non_numeric", "open")


def test_unparseable_timestamp_text():
    reject(bars(timestamp=["2021-03-01", "March 2nd", "2021-03-03"]), "unparseable_timestamp", "timestamp", [1])


def test_integer_timestamps_rejected():
    with pytest.raises(DataValidationError) as info:
        validate_bars(bars(timestamp=[1, 2, 3]))
    assert (info.value.rule, info.value.column) == ("timestamp_type", "timestamp")


def test_missing_symbol():
    reject(bars(symbol=["A", None, "A"]), "missing_values", "symbol", [1])


def test_first_five_rows_only_and_count():
    n = 12
    frame = pl.DataFrame({
        "timestamp": pl.datetime_range(dt.datetime(2021, 1, 1), dt.datetime(2021, 1, 12), "1d", eager=True),
        "symbol": ["A"] * n, "open": [1.0] * n, "high": [2.0] * n, "low": [0.5] * n, "close": [1.0] * n,
        "volume": [-1.0 if i % 2 else 1.0 for i in range(n)],
    })
    err = reject(frame, "negative_volume", "volume", [1, 3, 5, 7, 9])
    assert "in 6 row(s)" in str(err)


# --------------------------------------------------------------------------------------------- prices


def prices(**override) -> pl.DataFrame:
    data = {"timestamp": [dt.date(2021, 3, 1), dt.date(2021, 3, 2), dt.date(2021, 3, 3)],
            "AAA": [1.0, 2.0, 3.0], "BBB": [10, 20, 30]}
    data.update(override)
    return pl.DataFrame(data, strict=False)


def test_prices_cast():
    out = validate_prices(prices())
    assert out.schema == pl.Schema({"timestamp": pl.Datetime("us"), "AAA": pl.Float64, "BBB": pl.Float64})


def test_prices_missing_value_rejected_unless_allowed():
    frame = prices(AAA=[1.0, math.nan, None])
    reject(frame, "missing_values", "AAA", [1, 2], validate=validate_prices)
    out = validate_prices(frame, allow_missing=True)
    assert out["AAA"].to_list() == [1.0, None, None]  # NaN turned into null


def test_prices_inf_and_non_positive():
    reject(prices(BBB=[1.0, math.inf, 2.0]), "infinite_values", "BBB", [1], validate=validate_prices)
    reject(prices(BBB=[1.0, -2.0, 2.0]), "non_positive_price", "BBB", [1], validate=validate_prices)


def test_prices_duplicate_and_unsorted():
    dup = [dt.date(2021, 3, 1), dt.date(2021, 3, 1), dt.date(2021, 3, 3)]
    reject(prices(timestamp=dup), "duplicate_timestamps", "timestamp", [1], validate=validate_prices)
    back = [dt.date(2021, 3, 2), dt.date(2021, 3, 1), dt.date(2021, 3, 3)]
    reject(prices(timestamp=back), "unsorted_timestamps", "timestamp", [1], validate=validate_prices)


def test_prices_needs_timestamp_and_an_asset():
    reject(prices().drop("timestamp"), "missing_columns", "timestamp", [], validate=validate_prices)
    with pytest.raises(DataValidationError) as info:
        validate_prices(prices().select("timestamp"))
    assert info.value.rule == "no_assets"


def test_prices_numpy_datetime64_pandas():
    pdf = pd.DataFrame({"AAA": [1.0, 2.0]}, index=pd.DatetimeIndex(np.array(["2020-01-01", "2020-01-02"],
                                                                                 dtype="datetime64[ns]")))
    out = validate_prices(pdf)
    assert out["timestamp"].to_list() == [dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2)]
