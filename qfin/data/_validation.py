"""Validation of Bars and Prices frames: cast to the schema, or reject with a :class:`DataValidationError`.

Every check is a vectorised polars expression; all rule counts are computed in one pass over the frame and
only a failing rule pays for locating its first offending rows. Rules, in the order they are reported
(the ``rule`` attribute of the error):

``frame_type``            not a polars/pandas DataFrame, or a pandas column arrow cannot convert
``missing_columns``       a required column is absent (the message lists the missing and the found columns)
``no_assets``             a Prices frame with no asset column
``empty``                 no data rows
``timestamp_type``        a timestamp column that is neither datetime, date nor text
``unparseable_timestamp`` timestamp text in none of the accepted formats (:data:`TIMESTAMP_FORMATS`)
``symbol_type``           a symbol column that is neither text nor integer
``non_numeric``           a price/volume column that is not numeric, or text that is not a number
``missing_values``        null or NaN in timestamp, symbol, a price or volume
``infinite_values``       +-inf in a price or volume
``non_positive_price``    a price <= 0
``high_below_open_close`` high < max(open, close) (this also catches high < low)
``low_above_open_close``  low > min(open, close)
``negative_volume``       volume < 0
``duplicate_timestamps``  a timestamp repeated within one symbol
``unsorted_timestamps``   a timestamp earlier than the previous one of the same symbol

Row numbers in errors are 0-based positions of data rows in the frame as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from ..errors import DataValidationError
from ._schemas import BARS_COLUMNS, PRICE_FIELDS, TIMESTAMP, TIMESTAMP_DTYPE

__all__ = ["TIMESTAMP_FORMATS", "as_polars", "coerce_timestamp", "validate_bars", "validate_prices"]

#: Text timestamp formats tried in this order (chrono syntax; ``%.f`` is optional fractional seconds, ``%z`` a
#: UTC offset such as ``+01:00``; a trailing ``Z`` is read as UTC). Slashed dates are US month/day/year.
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y%m%d",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M:%S%.f",
)
#: ISO 8601 without an offset, the forms pyarrow's typed CSV reader parses; a column may mix them (a date is its
#: midnight), so the typed and the text path agree on such a file.
_ISO_LOCAL = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
_ACCEPTED_TIMESTAMPS = ("ISO dates/datetimes (2020-01-02, 2020-01-02 09:30:00, 2020-01-02T09:30:00+01:00, "
                        "...Z), US dates (1/4/1999, 1/4/1999 09:30), 2020/01/02, 20200102, 02.01.2020")
_SAMPLE = 1000  # values used to pick the timestamp format before parsing the whole column
_SHOWN = 5  # offending rows named in a message
_ROW = "__qfin_row"


# ------------------------------------------------------------------------------------------------ helpers


def _rows_where(frame: pl.DataFrame, mask: pl.Expr) -> list[int]:
    """The first few 0-based row positions where ``mask`` is true."""
    hit = frame.with_row_index(_ROW).filter(mask).head(_SHOWN)
    return hit[_ROW].cast(pl.Int64).to_list()


def _context(frame: pl.DataFrame, row: int, columns: Sequence[str]) -> str:
    """``timestamp=..., symbol=..., col=value`` of one row, for the message."""
    keys = [c for c in (TIMESTAMP, "symbol") if c in frame.columns]
    keys += [c for c in columns if c in frame.columns and c not in keys]
    record = frame.row(row, named=True)
    return ", ".join(f"{key}={record[key]!r}" if isinstance(record[key], str) else f"{key}={record[key]}"
                     for key in keys)


def _reject(frame: pl.DataFrame, rule: str, column: str | None, mask: pl.Expr, what: str, accepted: str,
            show: Sequence[str] = (), count: int | None = None) -> None:
    """Raise the rule's error, naming the first offending rows and the first row's values."""
    rows = _rows_where(frame, mask)
    n = count if count is not None else len(rows)
    where = f"column {column!r}" if column else "the frame"
    message = (f"{rule}: {what} in {n} row(s) of {where}; first offending rows (0-based) {rows}"
               f" (row {rows[0]}: {_context(frame, rows[0], [column, *show] if column else show)}). "
               f"Accepted: {accepted}.")
    raise DataValidationError(message, rule=rule, column=column, rows=rows)


def as_polars(frame: Any) -> pl.DataFrame:
    """Return ``frame`` as a polars DataFrame (polars as is, a LazyFrame collected, pandas converted).

    A pandas frame whose time axis is its ``DatetimeIndex`` (and has no ``timestamp`` column) gets the index
    as its ``timestamp`` column.
    """
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        try:
            return frame.collect()
        except pl.exceptions.PolarsError as err:
            raise DataValidationError(f"frame_type: the LazyFrame failed to collect: {err}",
                                      rule="frame_type") from None
    if type(frame).__module__.split(".")[0] == "pandas" and type(frame).__name__ == "DataFrame":
        import pandas as pd

        frame = frame.rename(columns=str)
        if TIMESTAMP not in frame.columns and isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.reset_index(names=TIMESTAMP)
        try:
            return pl.from_pandas(frame)
        except Exception:  # arrow cannot convert a column of mixed Python objects: read those as text
            columns = {}
            for column in frame.columns:
                try:
                    columns[column] = pl.from_pandas(frame[[column]])[column]
                except Exception as err:
                    try:
                        columns[column] = pl.from_pandas(frame[[column]].astype("string"))[column]
                    except Exception:
                        raise DataValidationError(
                            f"frame_type: pandas column {column!r} (dtype {frame[column].dtype}) cannot be "
                            f"converted ({type(err).__name__}: {err}). Accepted: numbers, text or datetimes, one "
                            "type per column.", rule="frame_type", column=column) from None
            return pl.DataFrame(list(columns.values()))
    raise DataValidationError(f"frame_type: expected a polars or pandas DataFrame, got {type(frame).__name__}.",
                              rule="frame_type")


def _require(frame: pl.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing_columns: missing column(s) {missing}; found {frame.columns}. Accepted: the columns "
            f"{list(required)} (exact lower-case names; read_bars/read_prices also accept common spellings such "
            "as Date, Open, Adj Close, Vol).", rule="missing_columns", column=missing[0])


def _require_rows(frame: pl.DataFrame) -> None:
    if frame.height == 0:
        raise DataValidationError(f"empty: the frame has no data rows (columns {frame.columns}). Accepted: at "
                                  "least one row.", rule="empty")


# --------------------------------------------------------------------------------------------- coercions


def coerce_timestamp(frame: pl.DataFrame, column: str = TIMESTAMP) -> pl.Series:
    """``frame[column]`` as naive ``Datetime("us")``: datetimes (tz-aware ones converted to UTC), dates, or text.

    Text (surrounding spaces ignored) is parsed with the first format of :data:`TIMESTAMP_FORMATS` that reads
    a sample of the first 1,000 non-empty values; every value must then parse with it. Nulls and empty text are
    left as null for the caller's missing-value check.
    """
    series = frame[column]
    dtype = series.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        series, dtype = series.cast(pl.Utf8), pl.Utf8
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return series.cast(TIMESTAMP_DTYPE)
    if dtype == pl.Date or dtype == pl.Null:
        return series.cast(TIMESTAMP_DTYPE)
    if dtype != pl.Utf8:
        raise DataValidationError(
            f"timestamp_type: column {column!r} has dtype {dtype}. Accepted: datetime, date, or text in one of "
            f"the formats {_ACCEPTED_TIMESTAMPS}.", rule="timestamp_type", column=column)
    sample = series.drop_nulls().head(_SAMPLE).str.strip_chars()
    sample = sample.filter(sample.str.len_chars() > 0)
    zulu = bool(sample.str.ends_with("Z").any())
    if zulu:  # chrono's %z wants an offset; a trailing Z is UTC
        sample = sample.str.replace(r"Z$", "+00:00")
    best, best_parsed = TIMESTAMP_FORMATS[0], -1
    for fmt in TIMESTAMP_FORMATS:
        parsed = sample.len() - sample.str.to_datetime(fmt, strict=False, time_unit="us").null_count()
        if parsed > best_parsed:
            best, best_parsed = fmt, parsed
        if parsed == sample.len():
            break
    if best_parsed <= 0 and sample.len() > 0:
        rows = _rows_where(frame, pl.col(column).str.strip_chars().str.len_chars() > 0)
        raise DataValidationError(
            f"unparseable_timestamp: column {column!r} is text in no known date format (row {rows[0]}: "
            f"{series[rows[0]]!r}). Accepted: {_ACCEPTED_TIMESTAMPS}.", rule="unparseable_timestamp",
            column=column, rows=rows)
    result = _parse_with(series, best)
    if result.null_count() != series.null_count():
        # Some value failed as is: retry on stripped text (and Z -> +00:00), then name what still fails.
        text = series.str.strip_chars()
        if zulu:
            text = text.str.replace(r"Z$", "+00:00")
        result = _parse_with(text, best)
        bad = result.is_null() & text.is_not_null() & (text.str.len_chars() > 0)
        if bad.any():
            marked = frame.with_columns(bad.alias("__bad"))
            _reject(marked, "unparseable_timestamp", column, pl.col("__bad"),
                    f"text that does not parse as {best!r} (the format of the other values)",
                    f"one format per column: {_ACCEPTED_TIMESTAMPS}", count=int(bad.sum()))
    if isinstance(result.dtype, pl.Datetime) and result.dtype.time_zone is not None:
        result = result.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return result.cast(TIMESTAMP_DTYPE).alias(column)


def _parse_with(text: pl.Series, fmt: str) -> pl.Series:
    """``text`` parsed with ``fmt``; when ``fmt`` is a local ISO form, a value in another local ISO form (a date
    among datetimes, a ``T`` among spaces) parses too."""
    result = text.str.to_datetime(fmt, strict=False, time_unit="us")
    if fmt in _ISO_LOCAL and result.null_count() > text.null_count():
        for other in _ISO_LOCAL:
            if other != fmt:
                result = result.fill_null(text.str.to_datetime(other, strict=False, time_unit="us"))
    return result


def _coerce_symbol(frame: pl.DataFrame) -> pl.Series:
    series = frame["symbol"]
    dtype = series.dtype
    if dtype == pl.Utf8 or isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype.is_integer() or dtype == pl.Null:
        return series.cast(pl.Utf8)
    raise DataValidationError(f"symbol_type: column 'symbol' has dtype {dtype}. Accepted: text (or integer ids).",
                              rule="symbol_type", column="symbol")


def _coerce_number(frame: pl.DataFrame, column: str) -> pl.Series:
    """``frame[column]`` as Float64: numeric dtypes cast, numeric text parsed (blank text becomes null)."""
    series = frame[column]
    dtype = series.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        series, dtype = series.cast(pl.Utf8), pl.Utf8
    if dtype.is_numeric() or dtype == pl.Null:
        return series.cast(pl.Float64)
    if dtype == pl.Utf8:
        stripped = pl.DataFrame([series]).select(pl.col(column).str.strip_chars().replace("", None))[column]
        result = stripped.cast(pl.Float64, strict=False)
        bad = result.is_null() & stripped.is_not_null()
        if bad.any():
            marked = frame.with_columns(bad.alias("__bad"))
            _reject(marked, "non_numeric", column, pl.col("__bad"), "text that is not a number",
                    "numbers such as 101.5, 1e3, NaN is treated as missing", count=int(bad.sum()))
        return result
    raise DataValidationError(f"non_numeric: column {column!r} has dtype {dtype}. Accepted: numbers (integer or "
                              "float) or numeric text.", rule="non_numeric", column=column)


# ------------------------------------------------------------------------------------------------- checks


def _value_checks(columns: Sequence[str], *, allow_missing: bool = False, positive: Sequence[str] = ()
                  ) -> list[tuple[str, str | None, pl.Expr, str, str]]:
    """Null/NaN, inf and non-positive checks over ``columns`` (for :func:`_first_failure`)."""
    checks: list[tuple[str, str | None, pl.Expr, str, str]] = []
    for c in columns:
        col = pl.col(c)
        if not allow_missing:
            checks.append(("missing_values", c, col.is_null() | col.is_nan(), "null or NaN",
                           "finite numbers in every row, or allow_missing=True to keep gaps as null"))
        checks.append(("infinite_values", c, col.is_infinite(), "+-inf", "finite numbers"))
    for c in positive:
        checks.append(("non_positive_price", c, pl.col(c) <= 0, "a price <= 0", "prices > 0"))
    return checks


def _first_failure(frame: pl.DataFrame, checks: list[tuple[str, str | None, pl.Expr, str, str]],
                   show: dict[str, Sequence[str]] | None = None, extra: Sequence[pl.Expr] = ()) -> tuple:
    """Count every check's offending rows in one parallel pass, reject on the first failing one.

    ``extra`` expressions (scalars) ride along in the same pass; their values are returned.
    """
    row = frame.select([mask.fill_null(False).sum().alias(f"__c{i}")
                        for i, (_, _, mask, _, _) in enumerate(checks)] + list(extra)).row(0)
    for (rule, column, mask, what, accepted), count in zip(checks, row[:len(checks)], strict=True):
        if count:
            _reject(frame, rule, column, mask.fill_null(False), what, accepted,
                    show=(show or {}).get(rule, ()), count=int(count))
    return row[len(checks):]


def _ordered(by: str | None, major: str = "time") -> pl.Expr:
    """Fast sufficient test (a boolean scalar): rows strictly increasing by (timestamp, by) (``major="time"``)
    or by (by, timestamp) (``major="group"``).

    Either order implies strictly increasing timestamps within each ``by`` group, and files are nearly always
    written in one of them (time-major, symbol-major, or one symbol), so the grouped check of
    :func:`_check_order` is rarely needed.
    """
    zero = pl.duration(microseconds=0)
    step = pl.col(TIMESTAMP).diff()
    if by is None:
        return (step > zero).fill_null(True).all().alias("__ordered")
    key, previous = pl.col(by), pl.col(by).shift(1)
    if major == "time":
        return ((step > zero) | ((step == zero) & (key > previous))).fill_null(True).all().alias("__ordered")
    return ((key > previous) | ((key == previous) & (step > zero))).fill_null(True).all().alias("__ordered")


def _check_order(frame: pl.DataFrame, by: str | None) -> None:
    """Duplicate, then unsorted timestamps (per ``by`` group when given), with row numbers."""
    ts = pl.col(TIMESTAMP)
    step = ts.diff().over(by) if by else ts.diff()
    keys = [by, TIMESTAMP] if by else [TIMESTAMP]
    scope = f" of the same {by}" if by else ""
    if not frame.select((step <= pl.duration(microseconds=0)).any()).item():
        return
    repeated = ~pl.struct(keys).is_first_distinct()
    n_repeated = frame.select(repeated.sum()).item()
    if n_repeated:
        rows = _rows_where(frame, repeated)
        first = frame.row(rows[0], named=True)
        match = pl.all_horizontal([pl.col(k) == first[k] for k in keys])
        original = _rows_where(frame, match)[0]
        raise DataValidationError(
            f"duplicate_timestamps: {n_repeated} row(s) repeat a value of column 'timestamp'{scope}; first offending "
            f"rows (0-based) "
            f"{rows} (row {rows[0]}: {_context(frame, rows[0], [])} already at row {original}). Accepted: one "
            f"row per timestamp{scope}.", rule="duplicate_timestamps", column=TIMESTAMP, rows=rows)
    backwards = (step < pl.duration(microseconds=0)).fill_null(False)
    n_back = frame.select(backwards.sum()).item()
    rows = _rows_where(frame, backwards)
    previous = frame.select((ts.shift(1).over(by) if by else ts.shift(1)).alias("p"))["p"][rows[0]]
    raise DataValidationError(
        f"unsorted_timestamps: {n_back} row(s) have a 'timestamp' earlier than the previous row{scope}; first "
        f"offending rows (0-based) {rows} (row {rows[0]}: {_context(frame, rows[0], [])}, previous {previous}). "
        f"Accepted: timestamps increasing within each {by or 'frame'} (sort by {keys}).",
        rule="unsorted_timestamps", column=TIMESTAMP, rows=rows)


# ----------------------------------------------------------------------------------------------- public


def validate_bars(frame: Any) -> pl.DataFrame:
    """Check a long OHLCV frame and return it cast to the Bars schema, in the same row order.

    Parameters
    ----------
    frame : polars.DataFrame | pandas.DataFrame
        Columns ``timestamp, symbol, open, high, low, close, volume`` (exact names; extra columns are dropped).
        ``timestamp`` may be datetime (tz-aware is converted to UTC and made naive), date or text in a common
        format; prices and volume numeric or numeric text.

    Returns
    -------
    polars.DataFrame
        Columns :data:`BARS_COLUMNS` with dtypes ``Datetime("us")``, ``Utf8`` and ``Float64``.

    Raises
    ------
    DataValidationError
        The first broken rule (see the module docstring) with ``rule``, ``column`` and the first offending
        ``rows`` (0-based).
    """
    frame = as_polars(frame)
    _require(frame, BARS_COLUMNS)
    _require_rows(frame)
    numbers = [*PRICE_FIELDS, "volume"]
    clean = pl.DataFrame([coerce_timestamp(frame), _coerce_symbol(frame),
                          *(_coerce_number(frame, c).alias(c) for c in numbers)])
    checks: list[tuple[str, str | None, pl.Expr, str, str]] = [
        ("missing_values", TIMESTAMP, pl.col(TIMESTAMP).is_null(), "a missing timestamp", "a timestamp in every row"),
        ("missing_values", "symbol", pl.col("symbol").is_null() | (pl.col("symbol").str.len_bytes() == 0),
         "a missing symbol", "a non-empty symbol in every row"),
    ]
    checks += [("missing_values", c, pl.col(c).is_null() | pl.col(c).is_nan(), "null or NaN",
                "finite numbers in every row") for c in numbers]
    checks += [("infinite_values", c, pl.col(c).is_infinite(), "+-inf", "finite numbers") for c in numbers]
    checks += [("non_positive_price", c, pl.col(c) <= 0, "a price <= 0", "prices > 0") for c in PRICE_FIELDS]
    o, h, lo, c = (pl.col(x) for x in PRICE_FIELDS)
    checks += [
        ("high_below_open_close", "high", h < pl.max_horizontal(o, c), "high < max(open, close)",
         "low <= min(open, close) <= max(open, close) <= high"),
        ("low_above_open_close", "low", lo > pl.min_horizontal(o, c), "low > min(open, close)",
         "low <= min(open, close) <= max(open, close) <= high"),
        ("negative_volume", "volume", pl.col("volume") < 0, "volume < 0", "volume >= 0"),
    ]
    # One cheap pass decides whether everything holds; only a failing frame pays for the per-rule counts.
    fine = [(pl.col(c).is_finite() & (pl.col(c) > 0)).all() for c in PRICE_FIELDS]
    fine += [(pl.col("volume").is_finite() & (pl.col("volume") >= 0)).all(),
             (h >= pl.max_horizontal(o, c)).all() & (lo <= pl.min_horizontal(o, c)).all(),
             (pl.col("symbol").str.len_bytes() > 0).all()]
    row = clean.select([e.alias(f"__ok{i}") for i, e in enumerate(fine)] + [_ordered("symbol")]).row(0)
    if any(clean[c].null_count() for c in clean.columns) or not all(row[: len(fine)]):
        _first_failure(clean, checks, show={"high_below_open_close": ("open", "close", "low"),
                                            "low_above_open_close": ("open", "close", "high")})
    if not row[-1] and not clean.select(_ordered("symbol", major="group")).item():
        _check_order(clean, "symbol")
    return clean


def validate_prices(frame: Any, *, allow_missing: bool = False) -> pl.DataFrame:
    """Check a wide price panel and return it cast to the Prices schema, in the same row order.

    Parameters
    ----------
    frame : polars.DataFrame | pandas.DataFrame
        A ``timestamp`` column (datetime, date or text, as for :func:`validate_bars`) and one numeric column
        per asset.
    allow_missing : bool, default False
        Accept null/NaN prices (an asset not yet listed, an outer join); NaN is turned into null. Infinite and
        non-positive prices are always rejected.

    Returns
    -------
    polars.DataFrame
        ``timestamp`` as ``Datetime("us")`` (unique, increasing) and every asset column as Float64.

    Raises
    ------
    DataValidationError
        ``missing_columns``, ``no_assets``, ``empty``, timestamp/number type and parse rules,
        ``missing_values``, ``infinite_values``, ``non_positive_price``, ``duplicate_timestamps``,
        ``unsorted_timestamps``.
    """
    frame = as_polars(frame)
    _require(frame, [TIMESTAMP])
    assets = [c for c in frame.columns if c != TIMESTAMP]
    if not assets:
        raise DataValidationError(f"no_assets: the frame has only {frame.columns}. Accepted: a 'timestamp' column "
                                  "plus one numeric column per asset.", rule="no_assets")
    _require_rows(frame)
    clean = pl.DataFrame([coerce_timestamp(frame), *(_coerce_number(frame, c).alias(c) for c in assets)])
    checks = [("missing_values", TIMESTAMP, pl.col(TIMESTAMP).is_null(), "a missing timestamp",
               "a timestamp in every row"), *_value_checks(assets, allow_missing=allow_missing, positive=assets)]
    if not all(_first_failure(clean, checks, extra=[_ordered(None)])):
        _check_order(clean, None)
    if allow_missing:
        clean = clean.with_columns(pl.col(assets).fill_nan(None))
    return clean
