"""Reading bars and price panels from CSV/Parquet, long-to-wide conversion, and atomic writes.

Files are read with polars' native (Rust) CSV and Parquet readers, only the needed columns, with explicit
dtypes; column spellings are matched case-insensitively; then the frame goes through
:func:`~qfin.data.validate_bars` / :func:`~qfin.data.validate_prices`. Every error names the file.

File-level rules (the ``rule`` of the :class:`~qfin.errors.DataValidationError`), before the frame rules:
``unsupported_extension``, ``file_not_found``, ``not_a_file``, ``empty_file`` (0 bytes or no header),
``encoding`` (not UTF-8; the message gives the byte offset and line), ``malformed_csv``, ``malformed_parquet``,
``ambiguous_columns`` (two columns spell the same field), ``missing_columns`` (with the accepted spellings) and
``unknown_symbol`` (``symbol=`` not in the file's symbol column). Frame-rule errors from a CSV also say which
line of the file the first offending row is.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataValidationError, QfinError
from ._schemas import PRICE_FIELDS, TIMESTAMP
from ._validation import as_polars, validate_bars, validate_prices

__all__ = ["atomic_path", "read_bars", "read_prices", "to_prices", "write_parquet"]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_NULLS = ["", "NA", "N/A", "null", "NULL", "None"]

# Canonical column -> accepted spellings, compared after lower-casing and removing spaces, '_', '-' and '.'.
# Earlier spellings win: a file with both "Close" and "Adj Close" is read from "Close".
_SPELLINGS: dict[str, tuple[str, ...]] = {
    TIMESTAMP: ("timestamp", "datetime", "date", "time"),
    "symbol": ("symbol", "ticker"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "adjclose", "adjustedclose"),
    "volume": ("volume", "vol", "v"),
}
_SHOWN_SPELLINGS = {
    TIMESTAMP: "Date/Datetime/Time/timestamp", "symbol": "symbol/ticker", "open": "Open/open/o",
    "high": "High/high/h", "low": "Low/low/l", "close": "Close/Adj Close/close/c", "volume": "Volume/vol/v",
}


def _normal(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name.strip().lower())


# ----------------------------------------------------------------------------------------------- files


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        kind = "csv"
    elif name.endswith(_PARQUET_SUFFIXES):
        kind = "parquet"
    else:
        raise DataValidationError(
            f"{path}: unsupported_extension: cannot read {path.name!r}. Accepted: "
            f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}.", rule="unsupported_extension")
    if not path.exists():
        raise DataValidationError(f"{path}: file_not_found: no such file.", rule="file_not_found")
    if not path.is_file():
        raise DataValidationError(f"{path}: not_a_file: the path is a {'folder' if path.is_dir() else 'special file'}"
                                  "; give a CSV or Parquet file.", rule="not_a_file")
    if path.stat().st_size == 0:
        raise DataValidationError(f"{path}: empty_file: the file is empty (0 bytes). Accepted: a header line and "
                                  "at least one data row.", rule="empty_file")
    return kind


def _raw_bytes(path: Path) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def _csv_error(path: Path, err: Exception) -> DataValidationError:
    """Turn a polars CSV failure into a message that names the file and, where it can, the line."""
    text = str(err)
    if "utf-8" in text.lower() or "utf8" in text.lower():
        try:
            _raw_bytes(path).decode("utf-8")
        except UnicodeDecodeError as bad:
            data = bad.object
            line = data.count(b"\n", 0, bad.start) + 1
            return DataValidationError(
                f"{path}: encoding: the file is not UTF-8 text (byte {data[bad.start:bad.start + 1]!r} at offset "
                f"{bad.start}, line {line}). Accepted: UTF-8 CSV; re-save the file as UTF-8.", rule="encoding")
        except (OSError, EOFError, gzip.BadGzipFile) as bad:
            return DataValidationError(f"{path}: malformed_csv: cannot decompress ({bad}).", rule="malformed_csv")
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return DataValidationError(f"{path}: malformed_csv: polars cannot parse the CSV ({first}). Accepted: a comma-"
                               "separated file with a header line and the same number of fields on every line.",
                               rule="malformed_csv")


def _csv_header(path: Path) -> list[str]:
    try:
        return pl.read_csv(path, n_rows=0, infer_schema_length=0).columns
    except pl.exceptions.NoDataError:
        raise DataValidationError(f"{path}: empty_file: the file has no header line. Accepted: a header line and "
                                  "at least one data row.", rule="empty_file") from None
    except (pl.exceptions.PolarsError, OSError, EOFError, gzip.BadGzipFile) as err:
        raise _csv_error(path, err) from None


def _read_csv_typed(path: Path, columns: Sequence[str], numeric: Sequence[str], timestamp: str) -> pl.DataFrame | None:
    """Fast path of :func:`_read_csv`: pyarrow's multithreaded reader with the types declared, ``numeric`` as
    float64 and ``timestamp`` as ISO 8601 without an offset (``2020-01-02``, ``2020-01-02 09:30:00[.ffffff]``,
    ``T`` or space), parsed while reading. None when any value does not fit (an offset, a US date, text in a
    number column, a malformed or non-UTF-8 file): the text path then reads it and validation names the row.
    Empty fields are null, as in polars' reader."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    types = {c: pa.string() for c in columns} | {c: pa.float64() for c in numeric} | {timestamp: pa.timestamp("us")}
    options = pa_csv.ConvertOptions(column_types=types, include_columns=list(columns), null_values=[""],
                                    strings_can_be_null=True, quoted_strings_can_be_null=True)
    try:
        table = pa_csv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError, ValueError, KeyError):
        return None
    return pl.from_arrow(table)


def _read_csv(path: Path, columns: Sequence[str], numeric: Sequence[str], timestamp: str | None = None
              ) -> pl.DataFrame:
    """Read ``columns`` as text, ``numeric`` ones straight to Float64 (text again if any value fails to parse);
    with ``timestamp``, first try :func:`_read_csv_typed`, which also parses that column's ISO timestamps."""
    if timestamp is not None and len(set(columns)) == len(columns):
        frame = _read_csv_typed(path, columns, numeric, timestamp)
        if frame is not None:
            return frame
    text = {c: pl.Utf8 for c in columns}
    # Fast path: numbers parsed by the reader (an empty field is null). If any value is not a number (or is a
    # null marker such as NA), read everything as text; validation then names the offending rows.
    for attempt, nulls in (({**text, **{c: pl.Float64 for c in numeric}}, None), (text, _NULLS)):
        try:
            # scan + select reads only the wanted columns, in parallel, and is faster than read_csv(columns=...)
            return pl.scan_csv(path, schema_overrides=attempt, infer_schema_length=0,
                               null_values=nulls).select(list(columns)).collect()
        except pl.exceptions.NoDataError:
            raise DataValidationError(f"{path}: empty_file: the file has no header line.",
                                      rule="empty_file") from None
        except (pl.exceptions.PolarsError, OSError, EOFError, gzip.BadGzipFile) as err:
            if attempt is text or "could not parse" not in str(err):
                raise _csv_error(path, err) from None
    raise AssertionError("unreachable")


def _parquet_columns(path: Path) -> list[str]:
    try:
        return list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataValidationError(f"{path}: malformed_parquet: cannot read the Parquet file ({first}).",
                                  rule="malformed_parquet") from None


def _read_parquet(path: Path, columns: Sequence[str]) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, columns=list(columns))
    except (pl.exceptions.PolarsError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataValidationError(f"{path}: malformed_parquet: cannot read the Parquet file ({first}).",
                                  rule="malformed_parquet") from None


def _match(path: Path, found: Sequence[str], wanted: Sequence[str]) -> dict[str, str]:
    """Map canonical names in ``wanted`` to the file's column names; missing ones are left out."""
    by_normal: dict[str, list[str]] = {}
    for name in found:
        by_normal.setdefault(_normal(name), []).append(name)
    chosen: dict[str, str] = {}
    for canonical in wanted:
        for spelling in _SPELLINGS.get(canonical, (canonical,)):
            names = by_normal.get(spelling, [])
            if len(names) > 1:
                raise DataValidationError(
                    f"{path}: ambiguous_columns: columns {names} all read as {canonical!r}. Accepted: one column "
                    f"per field; rename or drop the others.", rule="ambiguous_columns", column=canonical)
            if names and names[0] not in chosen.values():
                chosen[canonical] = names[0]
                break
    return chosen


def _missing(path: Path, found: Sequence[str], missing: Sequence[str]) -> DataValidationError:
    spelled = "; ".join(_SHOWN_SPELLINGS.get(m, m) for m in missing)
    return DataValidationError(
        f"{path}: missing_columns: no column for {list(missing)}; found {list(found)}. Accepted spellings (any "
        f"case): {spelled}.", rule="missing_columns", column=missing[0])


@contextlib.contextmanager
def _in_file(path: Path, csv: bool) -> Iterator[None]:
    """Prefix validation errors with the file name (and, for CSV, how rows map to lines)."""
    try:
        yield
    except DataValidationError as err:
        if str(err).startswith(str(path)):
            raise
        note = (f" (row {err.rows[0]} is line {err.rows[0] + 2} of the CSV, the header being line 1)"
                if csv and err.rows else "")
        raise DataValidationError(f"{path}: {err}{note}", rule=err.rule, column=err.column,
                                  rows=err.rows) from None


def _symbol_from_name(path: Path) -> str:
    name = path.name
    for suffix in (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.upper()


def _bars_frame(path: Path, symbol: str | None) -> tuple[pl.DataFrame, bool]:
    """The file's bar columns under their canonical names (not yet validated); whether it had a symbol column."""
    kind = _kind(path)
    found = _csv_header(path) if kind == "csv" else _parquet_columns(path)
    required = (TIMESTAMP, *PRICE_FIELDS, "volume")
    chosen = _match(path, found, (*required, "symbol"))
    split_time = None
    if chosen.get(TIMESTAMP) is not None and _normal(chosen[TIMESTAMP]) == "date":
        # "Date" plus a separate "Time" column (intraday exports): join them into one timestamp.
        split_time = next((n for n in found if _normal(n) == "time"), None)
    missing = [c for c in required if c not in chosen]
    if missing:
        raise _missing(path, found, missing)
    sources = list(chosen.values()) + ([split_time] if split_time else [])
    if kind == "csv":
        frame = _read_csv(path, sources, [chosen[c] for c in (*PRICE_FIELDS, "volume")],
                          timestamp=None if split_time else chosen[TIMESTAMP])
    else:
        frame = _read_parquet(path, sources)
    exprs = [pl.col(src).alias(canonical) for canonical, src in chosen.items()]
    if split_time:
        exprs[0] = pl.concat_str([pl.col(chosen[TIMESTAMP]).cast(pl.Utf8), pl.col(split_time).cast(pl.Utf8)],
                                 separator=" ").alias(TIMESTAMP)
    if "symbol" not in chosen:
        exprs.append(pl.lit(symbol if symbol is not None else _symbol_from_name(path)).alias("symbol"))
    return frame.select(exprs), "symbol" in chosen


def read_bars(path: str | os.PathLike[str], symbol: str | None = None) -> pl.DataFrame:
    """Read OHLCV bars from a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file.

    Column names are matched case-insensitively, ignoring spaces, ``_``, ``-`` and ``.``: the time from
    ``timestamp``/``Datetime``/``Date``/``Time`` (a ``Date`` column plus a ``Time`` column are joined),
    ``Open``/``o``, ``High``/``h``, ``Low``/``l``, ``Close``/``c``/``Adj Close``, ``Volume``/``vol``/``v``,
    ``symbol``/``ticker``. If both ``Close`` and ``Adj Close`` exist, ``close`` is read from ``Close`` (the
    traded price that open/high/low belong to); ``Adj Close`` is used only when there is no ``Close``. Other
    columns are ignored. Dates are parsed in ISO (``2020-01-02``, ``2020-01-02 09:30:00``, with an offset or
    ``Z``, converted to UTC), US (``1/4/1999``) and a few other formats (see ``TIMESTAMP_FORMATS``).

    Parameters
    ----------
    path : str | PathLike
        The file.
    symbol : str, optional
        Without a ``symbol``/``ticker`` column: the symbol of every bar (default: the file name without its
        extension, upper-cased, e.g. ``spx.csv.gz`` -> ``"SPX"``). With one: keep only that symbol's bars.

    Returns
    -------
    polars.DataFrame
        The Bars schema (``timestamp, symbol, open, high, low, close, volume``) in the file's row order.

    Raises
    ------
    DataValidationError
        With the path in the message: unsupported extension, missing/empty/non-UTF-8/malformed file, missing
        columns, and every rule of :func:`validate_bars` (rows are 0-based data rows of the file).
    """
    path = Path(path)
    if symbol is not None and (not isinstance(symbol, str) or not symbol):
        raise DataValidationError(f"{path}: symbol must be a non-empty string, got {symbol!r}.", rule="symbol_type",
                                  column="symbol")
    with _in_file(path, csv=path.name.lower().endswith(_CSV_SUFFIXES)):
        frame, has_symbols = _bars_frame(path, symbol)
        bars = validate_bars(frame)
    if has_symbols and symbol is not None:
        bars = bars.filter(pl.col("symbol") == symbol)
        if bars.height == 0:
            known = frame["symbol"].cast(pl.Utf8).unique(maintain_order=True).head(20).to_list()
            raise DataValidationError(f"{path}: unknown_symbol: no bars for symbol {symbol!r} in column 'symbol'; "
                                      f"the file has {known}.", rule="unknown_symbol", column="symbol")
    return bars


def read_prices(path: str | os.PathLike[str], *, allow_missing: bool = False) -> pl.DataFrame:
    """Read a wide price panel (a time column plus one numeric column per asset) from CSV or Parquet.

    The time column is found as in :func:`read_bars` (``timestamp``/``Datetime``/``Date``/``Time``, any case)
    and renamed ``timestamp``; every other column is an asset, named as in the file.

    Parameters
    ----------
    path : str | PathLike
        The file (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``).
    allow_missing : bool, default False
        Keep empty/null/NaN prices as null instead of rejecting them (see :func:`validate_prices`).

    Returns
    -------
    polars.DataFrame
        The Prices schema: ``timestamp`` (``Datetime("us")``, increasing) and Float64 asset columns.
    """
    path = Path(path)
    csv = path.name.lower().endswith(_CSV_SUFFIXES)
    with _in_file(path, csv=csv):
        kind = _kind(path)
        found = _csv_header(path) if kind == "csv" else _parquet_columns(path)
        chosen = _match(path, found, (TIMESTAMP,))
        if TIMESTAMP not in chosen:
            raise _missing(path, found, [TIMESTAMP])
        assets = [c for c in found if c != chosen[TIMESTAMP]]
        unnamed = [i for i, c in enumerate(found) if not c.strip()]
        if unnamed:
            raise DataValidationError(
                f"{path}: unnamed_column: column {unnamed[0] + 1} of the header has no name. Accepted: a header "
                "naming the time column and every asset column.", rule="unnamed_column")
        if kind == "csv":
            frame = _read_csv(path, found, assets, timestamp=chosen[TIMESTAMP])
        else:
            frame = _read_parquet(path, found)
        frame = frame.rename({chosen[TIMESTAMP]: TIMESTAMP}).select(TIMESTAMP, *assets)
        return validate_prices(frame, allow_missing=allow_missing)


def to_prices(bars: Any, field: str = "close", how: str = "inner") -> pl.DataFrame:
    """Long Bars -> wide Prices: one column per symbol holding ``field``, rows sorted by timestamp.

    Parameters
    ----------
    bars : polars.DataFrame | pandas.DataFrame
        A Bars frame (validated here).
    field : {"open", "high", "low", "close", "volume"}
        The column to spread.
    how : {"inner", "outer"}
        ``"inner"`` keeps the timestamps at which every symbol has a bar; ``"outer"`` keeps all timestamps,
        with null where a symbol has no bar.

    Returns
    -------
    polars.DataFrame
        ``timestamp`` plus one Float64 column per symbol, in order of first appearance in ``bars``.
    """
    fields = (*PRICE_FIELDS, "volume")
    if field not in fields:
        raise DataValidationError(f"to_prices: field={field!r} is not a bar field. Accepted: {list(fields)}.",
                                  rule="invalid_argument", column=str(field))
    if how not in ("inner", "outer"):
        raise DataValidationError(f"to_prices: how={how!r}. Accepted: 'inner' or 'outer'.",
                                  rule="invalid_argument")
    bars = validate_bars(bars)
    symbols = bars["symbol"].unique(maintain_order=True).to_list()
    wide = bars.pivot(on="symbol", index=TIMESTAMP, values=field, aggregate_function=None).sort(TIMESTAMP)
    wide = wide.select(TIMESTAMP, *symbols)
    if how == "inner":
        wide = wide.drop_nulls()
    return wide


# ---------------------------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success, remove it on failure.

    The temporary name is hidden (``.name.tmp-<random><suffixes>``) and keeps the target's suffixes, so
    writers that infer the format from the extension (matplotlib, polars) behave the same. The rename is
    ``os.replace`` within one folder, atomic on POSIX and Windows: readers see the old file or the complete
    new one, never a partial write. Missing parent folders are created.

    Examples
    --------
    >>> with atomic_path("out/metrics.json") as tmp:       # doctest: +SKIP
    ...     tmp.write_text(json.dumps(metrics))
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(target.suffixes)
    stem = target.name[: len(target.name) - len(suffixes)] if suffixes else target.name
    temporary = target.with_name(f".{stem}.tmp-{secrets.token_hex(6)}{suffixes}")
    try:
        yield temporary
        if not temporary.exists():
            raise QfinError(f"atomic_path: nothing was written to the temporary file for {target}; "
                            f"{target} is left unchanged.")
        os.replace(temporary, target)
    except BaseException:
        if temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def write_parquet(frame: Any, path: str | os.PathLike[str], *, metadata: dict[str, str] | None = None) -> Path:
    """Write a polars (or pandas) frame to Parquet (zstd) atomically via :func:`atomic_path`; return the path.

    ``metadata`` is stored as Parquet key/value metadata (strings).
    """
    frame = as_polars(frame)
    target = Path(path)
    with atomic_path(target) as temporary:
        frame.write_parquet(temporary, compression="zstd", statistics=True, metadata=metadata)
    return target
