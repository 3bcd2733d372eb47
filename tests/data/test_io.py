"""read_bars / read_prices on files, to_prices, atomic_path and write_parquet."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl
import pytest

from qfin.data import BARS_SCHEMA, atomic_path, read_bars, read_prices, to_prices, write_parquet
from qfin.errors import DataValidationError, QfinError

from .conftest import GOOD_ROWS, csv_text


def expect(path: Path, rule: str, column: str | None = None, rows: list[int] | None = None,
           **kwargs) -> DataValidationError:
    """read_bars(path) must fail with this rule/column/rows, and the message must name the file."""
    with pytest.raises(DataValidationError) as info:
        read_bars(path, **kwargs)
    err = info.value
    assert err.rule == rule, str(err)
    assert err.column == column
    if rows is not None:
        assert err.rows == rows
        if rows:
            assert f"row {rows[0]}" in str(err)
    assert str(path) in str(err)
    if column:
        assert repr(column) in str(err)
    return err


def with_row(index: int, **values):
    rows = [list(r) for r in GOOD_ROWS]
    names = ["date", "open", "high", "low", "close", "volume"]
    for key, value in values.items():
        rows[index][names.index(key)] = value
    return [tuple(r) for r in rows]


# ------------------------------------------------------------------------------------------ happy paths


def test_yahoo_layout_uses_close_not_adj_close(tmp_path):
    path = tmp_path / "spx.csv"
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n"
                    "1/4/1999,1229.22998,1248.810059,1219.099976,1228.099976,999.0,877000000\n"
                    "1/5/1999,1228.099976,1246.109985,1228.099976,1244.780029,998.0,775000000\n")
    out = read_bars(path)
    assert out.schema == BARS_SCHEMA
    assert out["timestamp"].to_list() == [dt.datetime(1999, 1, 4), dt.datetime(1999, 1, 5)]
    assert out["symbol"].to_list() == ["SPX", "SPX"]  # from the file stem
    assert out["close"].to_list() == [1228.099976, 1244.780029]
    assert out["volume"].to_list() == [877000000.0, 775000000.0]


def test_adj_close_used_when_no_close(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("date,open,high,low,adj_close,volume\n2020-01-02,1,2,0.5,1.5,10\n")
    assert read_bars(path)["close"].to_list() == [1.5]


def test_lower_case_short_names_and_symbol_argument(write_csv):
    path = write_csv(header="timestamp,o,h,l,c,vol")
    out = read_bars(path, symbol="XYZ")
    assert out["symbol"].unique().to_list() == ["XYZ"]
    assert out["open"].to_list() == [r[1] for r in GOOD_ROWS]


def test_ticker_column_and_symbol_filter(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text("Ticker,Datetime,Open,High,Low,Close,Volume\n"
                    "AAA,2020-01-02 09:30:00,1,2,0.5,1.5,10\n"
                    "BBB,2020-01-02 09:30:00,5,6,4,5.5,20\n"
                    "AAA,2020-01-02 09:31:00,1.5,2,1,1.75,30\n")
    out = read_bars(path)
    assert out["symbol"].to_list() == ["AAA", "BBB", "AAA"]
    assert out["timestamp"][2] == dt.datetime(2020, 1, 2, 9, 31)
    only = read_bars(path, symbol="BBB")
    assert only["close"].to_list() == [5.5]
    expect(path, "unknown_symbol", "symbol", symbol="ZZZ")


def test_separate_date_and_time_columns(tmp_path):
    path = tmp_path / "intraday.csv"
    path.write_text("Date,Time,Open,High,Low,Close,Volume\n2020-01-02,09:30,1,2,0.5,1.5,10\n"
                    "2020-01-02,09:31,1,2,0.5,1.5,10\n")
    assert read_bars(path)["timestamp"].to_list() == [dt.datetime(2020, 1, 2, 9, 30), dt.datetime(2020, 1, 2, 9, 31)]


def test_gzip_csv_and_crlf_and_bom(tmp_path):
    path = tmp_path / "gz.csv.gz"
    text = "\ufeff" + csv_text(GOOD_ROWS).replace("\n", "\r\n")
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    out = read_bars(path)
    assert out.height == len(GOOD_ROWS)
    assert out["symbol"][0] == "GZ"


def test_parquet_round_trip(tmp_path, write_csv):
    bars = read_bars(write_csv())
    target = write_parquet(bars, tmp_path / "out" / "bars.parquet")
    back = read_bars(target)
    assert back.equals(bars)


def test_parquet_with_other_spellings_and_tz(tmp_path):
    frame = pl.DataFrame({
        "Date": pl.Series([dt.datetime(2020, 1, 2, 15),
                           dt.datetime(2020, 1, 3, 15)]).dt.replace_time_zone("Europe/Berlin"),
        "Open": [1, 2], "High": [2, 3], "Low": [0.5, 1], "Close": [1.5, 2.5], "Volume": [1, 2],
    })
    path = tmp_path / "b.parquet"
    frame.write_parquet(path)
    out = read_bars(path)
    assert out["timestamp"].to_list() == [dt.datetime(2020, 1, 2, 14), dt.datetime(2020, 1, 3, 14)]
    assert out["symbol"][0] == "B"


def test_read_prices_csv(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Date,AAA,BBB\n2020-01-02,1,10\n2020-01-03,2,\n")
    with pytest.raises(DataValidationError) as info:
        read_prices(path)
    assert (info.value.rule, info.value.column, info.value.rows) == ("missing_values", "BBB", [1])
    assert str(path) in str(info.value)
    out = read_prices(path, allow_missing=True)
    assert out.columns == ["timestamp", "AAA", "BBB"]
    assert out["BBB"].to_list() == [10.0, None]


# ------------------------------------------------------------------------------------------ bad inputs


def test_missing_column(write_csv):
    path = write_csv(header="Date,Open,High,Close,Volume", rows=[(r[0], r[1], r[2], r[4], r[5]) for r in GOOD_ROWS])
    err = expect(path, "missing_columns", "low", [])
    assert "Low" in str(err) and "found" in str(err)


def test_nan_in_price(write_csv):
    expect(write_csv(with_row(2, close="NaN")), "missing_values", "close", [2])


def test_empty_price_field(write_csv):
    expect(write_csv(with_row(1, open="")), "missing_values", "open", [1])


def test_inf_in_price(write_csv):
    expect(write_csv(with_row(3, high="inf")), "infinite_values", "high", [3])


def test_negative_price(write_csv):
    err = expect(write_csv(with_row(1, low=-100.0)), "non_positive_price", "low", [1])
    assert "line 3" in str(err)  # row r is CSV line r + 2


def test_high_below_low(write_csv):
    expect(write_csv(with_row(0, high=98.0, low=99.5)), "high_below_open_close", "high", [0])


def test_high_below_max_open_close(write_csv):
    expect(write_csv(with_row(2, high=102.0)), "high_below_open_close", "high", [2])


def test_low_above_min_open_close(write_csv):
    expect(write_csv(with_row(1, low=100.75)), "low_above_open_close", "low", [1])


def test_negative_volume(write_csv):
    expect(write_csv(with_row(3, volume=-1)), "negative_volume", "volume", [3])


def test_duplicate_timestamps(write_csv):
    expect(write_csv(with_row(2, date="2020-01-03")), "duplicate_timestamps", "timestamp", [2])


def test_unsorted_timestamps(write_csv):
    expect(write_csv(with_row(3, date="2020-01-01")), "unsorted_timestamps", "timestamp", [3])


def test_non_numeric_price(write_csv):
    expect(write_csv(with_row(1, close="n/a?")), "non_numeric", "close", [1])


def test_unparseable_date(write_csv):
    expect(write_csv(with_row(2, date="2020-13-45")), "unparseable_timestamp", "timestamp", [2])


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    expect(path, "empty_file", None, [])


def test_header_only_file(write_csv):
    expect(write_csv(rows=[]), "empty", None, [])


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(csv_text(GOOD_ROWS).encode() + "2020-01-08,1,2,0.5,1,5 \u00e9t\u00e9\n".encode("latin-1"))
    err = expect(path, "encoding", None, [])
    assert "line 6" in str(err) and "UTF-8" in str(err)


def test_malformed_csv(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(csv_text(GOOD_ROWS) + "2020-01-08,1,2,0.5,1,5,7,8\n")
    expect(path, "malformed_csv", None, [])


def test_missing_file(tmp_path):
    expect(tmp_path / "nope.csv", "file_not_found", None, [])


def test_unsupported_extension(tmp_path):
    path = tmp_path / "bars.xlsx"
    path.write_bytes(b"PK")
    err = expect(path, "unsupported_extension", None, [])
    assert ".parquet" in str(err)


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    expect(folder, "not_a_file", None, [])


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    expect(path, "malformed_parquet", None, [])


def test_ambiguous_columns(tmp_path):
    path = tmp_path / "amb.csv"
    path.write_text("Date,Open,open,High,Low,Close,Volume\n2020-01-02,1,1,2,0.5,1.5,10\n")
    expect(path, "ambiguous_columns", "open", [])


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(QfinError) as info:
        read_bars(path)
    assert str(path) in str(info.value)


# -------------------------------------------------------------------------------------------- to_prices


def two_symbols() -> pl.DataFrame:
    d = [dt.datetime(2020, 1, day) for day in (2, 3, 6)]
    return pl.DataFrame({
        "timestamp": [d[0], d[0], d[1], d[2], d[2]],
        "symbol": ["BBB", "AAA", "BBB", "BBB", "AAA"],
        "open": [10.0, 1.0, 11.0, 12.0, 2.0], "high": [11.0, 1.5, 12.0, 13.0, 2.5],
        "low": [9.0, 0.5, 10.0, 11.0, 1.5], "close": [10.5, 1.25, 11.5, 12.5, 2.25],
        "volume": [1.0, 2.0, 3.0, 4.0, 5.0],
    })


def test_to_prices_inner():
    wide = to_prices(two_symbols())
    assert wide.columns == ["timestamp", "BBB", "AAA"]  # first appearance
    assert wide["timestamp"].to_list() == [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 6)]
    assert wide["BBB"].to_list() == [10.5, 12.5]
    assert wide["AAA"].to_list() == [1.25, 2.25]


def test_to_prices_outer_open():
    wide = to_prices(two_symbols(), field="open", how="outer")
    assert wide["timestamp"].to_list() == [dt.datetime(2020, 1, d) for d in (2, 3, 6)]
    assert wide["AAA"].to_list() == [1.0, None, 2.0]
    assert wide["BBB"].to_list() == [10.0, 11.0, 12.0]


def test_to_prices_bad_arguments():
    with pytest.raises(DataValidationError, match="field='adj'"):
        to_prices(two_symbols(), field="adj")
    with pytest.raises(DataValidationError, match="how='left'"):
        to_prices(two_symbols(), how="left")


# ---------------------------------------------------------------------------------------- atomic writes


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "report.html"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".html" and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_path_nothing_written_is_an_error(tmp_path):
    with pytest.raises(QfinError):
        with atomic_path(tmp_path / "x.txt"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_failure_leaves_nothing(tmp_path):
    class Boom:
        pass

    with pytest.raises(QfinError):
        write_parquet(Boom(), tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []
