"""price_panel: one panel from a dataset name, a file, or a frame (polars or pandas), checked against the source
values; selection by assets and dates; views that cut at a bar; one-line DataValidationErrors for bad input."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qfin.data import PANEL_FIELDS, MarketPanel, load_dataset, price_panel
from qfin.errors import DataValidationError

from .conftest import GOOD_ROWS


def test_bars_dataset_gives_every_field_equal_to_the_source():
    panel = price_panel("sp500_index")
    bars = load_dataset("sp500_index")
    assert panel.assets == ("SPX",) and panel.fields == PANEL_FIELDS and panel.source == "sp500_index"
    assert panel.timestamps.dtype == np.dtype("datetime64[us]") and panel.close.dtype == np.float64
    for name in PANEL_FIELDS:
        np.testing.assert_array_equal(panel.field(name)[:, 0], bars[name].to_numpy())
    np.testing.assert_array_equal(panel.timestamps, bars["timestamp"].to_numpy().astype("datetime64[us]"))


def test_prices_dataset_has_close_only_and_asset_order_follows_the_request():
    panel = price_panel("sp500_stocks", assets=["KO", "AAPL"])
    prices = load_dataset("sp500_stocks")
    assert panel.assets == ("KO", "AAPL") and panel.fields == ("close",) and panel.open is None
    np.testing.assert_array_equal(panel.close, prices.select("KO", "AAPL").to_numpy())
    with pytest.raises(DataValidationError, match=r"sp500_stocks has no 'open' field; it has close"):
        panel.field("open")


def test_multi_symbol_bars_join_on_common_timestamps():
    bars = pl.concat([load_dataset("sp500_index"), load_dataset("nasdaq_index").slice(10)])
    panel = price_panel(bars)
    assert panel.assets == ("SPX", "IXIC") and panel.source == "frame"
    common = load_dataset("nasdaq_index").slice(10)["timestamp"]
    np.testing.assert_array_equal(panel.timestamps, common.to_numpy().astype("datetime64[us]"))
    spx = load_dataset("sp500_index").filter(pl.col("timestamp").is_in(common.implode()))
    np.testing.assert_array_equal(panel.high[:, 0], spx["high"].to_numpy())


def test_files_and_pandas_frames(write_csv, tmp_path):
    panel = price_panel(write_csv(name="abc.csv"))
    assert panel.assets == ("ABC",) and panel.fields == PANEL_FIELDS
    np.testing.assert_array_equal(panel.close[:, 0], [row[4] for row in GOOD_ROWS])
    wide = load_dataset("sp500_stocks").select("timestamp", "AAPL", "XOM").slice(0, 50)
    wide.write_parquet(tmp_path / "wide.parquet")
    from_file = price_panel(tmp_path / "wide.parquet")
    from_pandas = price_panel(wide.to_pandas().set_index("timestamp"))
    for other in (from_file, from_pandas):
        assert other.assets == ("AAPL", "XOM") and other.fields == ("close",)
        np.testing.assert_array_equal(other.close, wide.select("AAPL", "XOM").to_numpy())
        np.testing.assert_array_equal(other.timestamps, from_file.timestamps)


def test_start_and_end_are_inclusive_days():
    panel = price_panel("sp500_stocks", start="2015-01-02", end="2015-12-31")
    days = panel.timestamps.astype("M8[D]")
    assert str(days[0]) == "2015-01-02" and str(days[-1]) == "2015-12-31" and panel.n_bars == 252


def test_window_and_returns_are_views_up_to_the_bar():
    panel = price_panel("sp500_index")
    cut = panel.window(100)
    assert cut.n_bars == 101 and cut.timestamps[-1] == panel.timestamps[100]
    assert np.shares_memory(cut.close, panel.close)
    last5 = panel.window(100, 5)
    np.testing.assert_array_equal(last5.open, panel.open[96:101])
    np.testing.assert_allclose(panel.returns()[99], panel.close[100] / panel.close[99] - 1.0, rtol=0)
    bars = last5.to_bars("SPX")
    assert bars.columns == ["timestamp", "symbol", *PANEL_FIELDS] and bars.height == 5
    assert bars.equals(load_dataset("sp500_index").slice(96, 5))


@pytest.mark.parametrize(("data", "kwargs", "message"), [
    ("nope", {}, r"unknown dataset 'nope'; accepted: a dataset name \(sp500_index.*\) or a CSV/Parquet file"),
    ("german_credit", {}, "dataset 'german_credit' is a table, not prices; use a bars or prices dataset"),
    (3.5, {}, "data must be a dataset name, a CSV/Parquet path, a Bars or Prices frame .*; got float"),
    ("sp500_stocks", {"assets": ["AAPL", "ZZZZ"]}, "assets: ZZZZ not in sp500_stocks; available: AAPL, AMD"),
    ("sp500_stocks", {"assets": []}, "assets: the list is empty; available"),
    ("sp500_stocks", {"start": "2030-01-01"}, "no bars between start=2030-01-01 and end=None .*1990-01-02"),
    ("sp500_stocks", {"end": "last year"}, "end='last year' is not a date; accepted: a date"),
])
def test_bad_input_is_one_data_validation_error_line(data, kwargs, message):
    with pytest.raises(DataValidationError, match=message) as info:
        price_panel(data, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_frames_are_rejected_by_the_schema_rules():
    frame = load_dataset("sp500_stocks").select("timestamp", "AAPL").slice(0, 10)
    with pytest.raises(DataValidationError, match="AAPL"):
        price_panel(frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("AAPL"))
                                       .alias("AAPL")))
    with pytest.raises(DataValidationError, match=r"high has shape \(2, 1\); every field must be \[T, N\]"):
        MarketPanel(None, ("A",), np.ones((3, 1)), high=np.ones((2, 1)))
