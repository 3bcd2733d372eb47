"""read_bars/read_prices' typed CSV fast path (pyarrow, timestamps parsed while reading) gives exactly what the
text path (polars, then validation's timestamp formats) gives: the same frame, or the same error."""

from __future__ import annotations

import gzip

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qfin.data import _io, read_bars, read_prices
from qfin.errors import DataValidationError

HEADER = "timestamp,symbol,open,high,low,close,volume\n"
ROWS = {
    "iso_datetime": ["2020-01-02 09:30:00,AAA,10,11,9,10.5,100", "2020-01-02 09:31:00,AAA,10.5,11,10,10.75,200"],
    "iso_date": ["2020-01-02,AAA,10,11,9,10.5,100", "2020-01-03,AAA,10.5,11,10,10.75,200"],
    "t_separator_fraction": ["2020-01-02T09:30:00.250,AAA,10,11,9,10.5,100",
                             "2020-01-02T09:30:01.5,AAA,10.5,11,10,10.75,200"],
    # a date among datetimes is its midnight on both paths (hypothesis found the two disagreeing here)
    "iso_date_and_datetime": ["2020-01-02,AAA,10,11,9,10.5,100", "2020-01-03 09:30,AAA,10.5,11,10,10.75,200"],
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
        assert isinstance(fast, str) and fast == slow, fast
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


NUMBERS = ["10.5", "1e1", "+10.5", ".5", "5.", "1_0", "0x10", " 10.5", "Infinity", "-inf", "NaN", "", "-3",
           "10.50000000000000000001", "1.7976931348623157e309", "4.9e-325", "abc", "12"]
STAMPS = ["2020-01-02", "2020-01-03 09:30", "2020-01-04T09:30:00Z", "2020-01-05 09:30:00.1234567", "20200106",
          "2020-1-7", "2020/01/08", " 2020-01-09", "2020-01-10 24:00:00", "2020-02-30", "1/11/2020", ""]


@given(rows=st.lists(st.tuples(st.sampled_from(STAMPS), st.sampled_from(["A", "B", ""]),
                               *[st.sampled_from(NUMBERS)] * 5), min_size=1, max_size=5))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_typed_and_text_paths_agree_on_random_files(tmp_path, rows):
    path = tmp_path / "fuzz.csv"
    path.write_text(HEADER + "".join(",".join(f'"{v}"' if "," in v else v for v in row) + "\n" for row in rows))
    fast = _outcome(read_bars, path)
    original = _io._read_csv_typed
    _io._read_csv_typed = lambda *args: None
    try:
        slow = _outcome(read_bars, path)
    finally:
        _io._read_csv_typed = original
    if isinstance(slow, str):
        assert isinstance(fast, str) and fast == slow, fast
    else:
        assert isinstance(fast, pl.DataFrame) and fast.schema == slow.schema and fast.equals(slow)
