"""Tabular data by name or file: a shipped or imported dataset, or a CSV/Parquet file read as it is (one row
per record, e.g. one applicant per row for a scorecard)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from ..errors import DataValidationError

__all__ = ["read_table"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def is_table_file(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a file (by its suffix, or because it exists) rather than a dataset."""
    path = Path(source)
    return path.suffix.lower() in TABLE_SUFFIXES or path.is_file()


def read_table(source: str | os.PathLike[str]) -> pl.DataFrame:
    """The dataset named ``source`` (see :func:`list_datasets`), or the CSV/Parquet file at ``source``."""
    if not is_table_file(source):
        from ._datasets import load_dataset

        return load_dataset(str(source))
    path = Path(source)
    if not path.is_file():
        raise DataValidationError(f"{path} not found; give a dataset name (`qfin data list`) or a CSV/Parquet file",
                                  rule="missing_file")
    try:
        if path.suffix.lower() == ".csv":
            return pl.read_csv(path, infer_schema_length=10_000)
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataValidationError(f"cannot read {path}: {err}", rule="unreadable_file") from err
    raise DataValidationError(f"{path}: unknown file type {path.suffix!r}; accepted: .csv, .parquet",
                              rule="file_type")
