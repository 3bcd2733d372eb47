"""read_bars/read_prices' typed CSV fast path (pyarrow, timestamps parsed while reading) gives exactly what the
text path (polars, then validation's timestamp formats) gives: the same frame, or the same error."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

from qfin.data import _io, read_bars, read_prices
from qfin.errors import DataValidationError

HEADER = "timestamp,symbol,open,high,low,close,volume\n"
ROWS = {
    "iso_datetime": ["2020-01-02 09:30:00,AAA,10,11,9,10.5,100", "2020-01-02 09:31:00,AAA,10.5,11,10,10.75,200"],
    "iso_date": ["2020-01-02,AAA,10,11,9,10.5,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "t_separator_fraction": ["2020-01-02T09:30:00.250,AAA,10,11,9,10.5,100",
                             "2020-01-02T09:30:01.5,AAA,10.5,11,10,10.75,200"],
    "no_seconds": ["2020-01-02 09:30,AAA,10,11,9,10.5,100", "2020-01-02 09:31,AAA,10.5,11,10,10.75,200"],
    "utc_offset": ["2020-01-02T09:30:00+01:00,AAA,10,11,9,10.5,100", "2020-01-02T09:31:00Z,AAA,10.5,11,10,10.75,200"],
    "us_dates": ["1/2/2020,AAA,10,11,9,10.5,100", "1/3/2020,AAA,10.5,11,10,10.75,200"],
    "quoted": ['"2020-01-02","AAA","10","11","9","10.5","100"', '"2020-01-03","AAA","10.5","11","10","10.75","200"'],
    "empty_volume": ["2020-01-02,AAA,10,11,9,10.5,", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "nan_price": ["2020-01-02,AAA,10,11,9,NaN,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "text_price": ["2020-01-02,AAA,10,11,9,n/a,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "empty_symbol": ["2020-01-02,,10,11,9,10.5,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "bad_date": ["2020-13-02,AAA,10,11,9,10.5,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "unsorted": ["2020-01-03,AAA,10,11,9,10.5,100", "2020-01-02,AAA,10.5,11,10,10.75,200"],
    "ragged": ["2020-01-02,AAA,10,11,9,10.5,100,7", "2020-01-03,AAA,10.5,11,10,10.75,200"],
}


def _outcome(read, path):
    try:
        return read(path)
    except DataValidationError as err:
        return f"{type(err).__name__}: {err} [{err.rule}]"


@pytest.mark.parametrize("case", sorted(ROWS))
@pytest.mark.parametrize("compressed", [False, True])
def test_typed_path_equals_text_path(tmp_path, monkeypatch, case, compressed):
    text = HEADER + "\n".join(ROWS[case]) + "\n"
    path = tmp_path / ("bars.csv.gz" if compressed else "bars.csv")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    fast = _outcome(read_bars, path)
    monkeypatch.setattr(_io, "_read_csv_typed", lambda *args: None)
    slow = _outcome(read_bars, path)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, pl.DataFrame) and fast.schema == slow.schema and fast.equals(slow)


def test_typed_path_is_taken_for_iso_files(tmp_path, monkeypatch):
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n".join(ROWS["iso_datetime"]) + "\n")
    calls = []
    original = _io._read_csv_typed
    monkeypatch.setattr(_io, "_read_csv_typed", lambda *args: calls.append(original(*args)) or calls[-1])
    read_bars(path)
    assert calls and isinstance(calls[0], pl.DataFrame)
    assert calls[0].schema["timestamp"] == pl.Datetime("us")


def test_read_prices_typed_path_equals_text_path(tmp_path, monkeypatch):
    path = tmp_path / "prices.csv"
    path.write_text("Date,AAA,BBB\n2020-01-02,10,20\n2020-01-03,10.5,\n2020-01-06,11,21\n")
    fast = read_prices(path, allow_missing=True)
    monkeypatch.setattr(_io, "_read_csv_typed", lambda *args: None)
    slow = read_prices(path, allow_missing=True)
    assert fast.equals(slow) and fast.schema == slow.schema
