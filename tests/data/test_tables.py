"""read_table: a dataset by name, or a CSV/Parquet file as it is; anything else is one line naming the accepted."""

from __future__ import annotations

import pytest

from qfin.data import load_dataset, read_table
from qfin.errors import DataValidationError


def test_a_name_a_csv_and_a_parquet_give_the_same_rows(tmp_path):
    frame = read_table("german_credit")
    assert frame.equals(load_dataset("german_credit"))
    small = frame.head(50)
    small.write_csv(tmp_path / "a.csv")
    small.write_parquet(tmp_path / "a.parquet")
    assert read_table(tmp_path / "a.parquet").equals(small)
    assert read_table(str(tmp_path / "a.csv")).shape == small.shape


@pytest.mark.parametrize("name, match", [("missing.csv", "not found; give a dataset name"),
                                         ("notes.txt", r"unknown file type '\.txt'; accepted: \.csv, \.parquet"),
                                         ("broken.parquet", "cannot read")])
def test_bad_files_are_one_line(tmp_path, name, match):
    if name != "missing.csv":
        (tmp_path / name).write_text("a,b\n1,2\n")
    with pytest.raises(DataValidationError, match=match):
        read_table(tmp_path / name)


def test_a_prices_header_with_an_unnamed_column_is_one_line(tmp_path):
    from qfin.data import read_prices

    (tmp_path / "p.csv").write_text("timestamp,,B\n2020-01-02,1,2\n2020-01-03,1,2\n")
    with pytest.raises(DataValidationError, match="unnamed_column: column 2 of the header has no name"):
        read_prices(tmp_path / "p.csv")


def test_a_panel_refuses_an_asset_named_twice():
    from qfin.data import price_panel

    with pytest.raises(DataValidationError, match="assets: AAPL named more than once"):
        price_panel("sp500_stocks", assets=["AAPL", "MSFT", "AAPL"])
