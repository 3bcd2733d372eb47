"""Property tests: arbitrary frames and arbitrary CSV bytes either validate or raise a QfinError, nothing else.

When validation succeeds, the result must satisfy every rule (checked here independently with numpy).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qfin.data import BARS_COLUMNS, BARS_SCHEMA, read_bars, validate_bars, validate_prices
from qfin.errors import QfinError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from([1.0, 2.0, 3.0, 0.0, -1.0])
datetimes = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
date_text = st.sampled_from(["2020-01-02", "1/4/1999", "2020-01-02 09:30:00", "2020-01-02T09:30:00Z", "20200102",
                             "", "x", "13/13/2020", "2020-02-30", " 2020-01-03 "])


def column_values(n: int):
    """One homogeneous column of length n (possibly with nulls)."""
    kinds = [
        st.lists(floats, min_size=n, max_size=n),
        st.lists(st.none() | floats, min_size=n, max_size=n),
        st.lists(st.integers(-5, 10**6), min_size=n, max_size=n),
        st.lists(st.text(max_size=6), min_size=n, max_size=n),
        st.lists(st.none() | date_text, min_size=n, max_size=n),
        st.lists(datetimes, min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n),
    ]
    return st.one_of(kinds)


@st.composite
def frames(draw):
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from([*BARS_COLUMNS, "extra", "AAA"]), unique=True, max_size=9))
    data = {name: pl.Series(name, draw(column_values(n)), strict=False) for name in names}
    return pl.DataFrame(list(data.values())) if data else pl.DataFrame()


NASTY = [math.nan, math.inf, -math.inf, -1.0, 0.0, None, "x", "", 1e308, "2020-01-02", True]
FORMATS = {"iso": "%Y-%m-%d", "iso_time": "%Y-%m-%d %H:%M:%S", "us": "%m/%d/%Y", "t_z": "%Y-%m-%dT%H:%M:%SZ"}


@st.composite
def near_valid_rows(draw):
    """Mostly-valid bars as a list of row dicts (timestamps as text in one format, or datetimes), then perturbed:
    random cells replaced by nasty values, rows duplicated or swapped."""
    n = draw(st.integers(1, 6))
    symbols = draw(st.lists(st.sampled_from(["A", "B"]), min_size=n, max_size=n))
    days = sorted(draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n, unique=True)))
    fmt = draw(st.sampled_from([None, *FORMATS.values()]))
    rows = []
    for symbol, day in zip(symbols, days, strict=True):
        o, c = draw(st.floats(0.5, 500)), draw(st.floats(0.5, 500))
        when = dt.datetime(2000, 1, 1) + dt.timedelta(days=day)
        rows.append({
            "timestamp": when if fmt is None else when.strftime(fmt), "symbol": symbol, "open": o,
            "high": max(o, c) + draw(st.floats(0, 5)), "low": min(o, c) * draw(st.floats(0.5, 1)), "close": c,
            "volume": draw(st.floats(0, 1e9)),
        })
    for _ in range(draw(st.integers(0, 2))):
        action = draw(st.sampled_from(["cell", "cell", "duplicate", "swap"]))
        i = draw(st.integers(0, n - 1))
        if action == "cell":
            rows[i][draw(st.sampled_from(BARS_COLUMNS))] = draw(st.sampled_from(NASTY))
        elif action == "duplicate":
            rows.insert(i, dict(rows[i]))
        else:
            j = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[j] = rows[j], rows[i]
    return rows


def rows_to_frame(rows) -> pl.DataFrame:
    """Rows as a polars frame; a column of mixed Python types becomes text (as a CSV reader would give)."""
    columns = {}
    for key in BARS_COLUMNS:
        values = [r[key] for r in rows]
        try:
            columns[key] = pl.Series(key, values)
        except (TypeError, pl.exceptions.PolarsError):
            columns[key] = pl.Series(key, [None if v is None else str(v) for v in values], dtype=pl.Utf8)
    return pl.DataFrame(list(columns.values()))


def rows_to_pandas(rows):
    import pandas as pd

    return pd.DataFrame(rows)


def check_bars_invariants(out: pl.DataFrame) -> None:
    assert out.schema == BARS_SCHEMA
    o, h, lo, c, v = (out[x].to_numpy() for x in ("open", "high", "low", "close", "volume"))
    prices = np.stack([o, h, lo, c])
    assert np.isfinite(prices).all() and (prices > 0).all()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    ts = out["timestamp"].to_numpy()
    for symbol in set(out["symbol"].to_list()):
        mine = ts[(out["symbol"] == symbol).to_numpy()]
        assert (np.diff(mine) > np.timedelta64(0, "us")).all()


@FUZZ
@given(st.one_of(frames(), near_valid_rows().map(rows_to_frame), near_valid_rows().map(rows_to_pandas)))
def test_validate_bars_returns_valid_or_raises_qfin_error(frame):
    try:
        out = validate_bars(frame)
    except QfinError:
        return
    check_bars_invariants(out)


@FUZZ
@given(frames())
def test_validate_prices_returns_valid_or_raises_qfin_error(frame):
    try:
        out = validate_prices(frame)
    except QfinError:
        return
    values = out.drop("timestamp").to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert (np.diff(out["timestamp"].to_numpy()) > np.timedelta64(0, "us")).all()


headers = st.lists(st.sampled_from(["Date", "date", "Datetime", "timestamp", "Time", "Open", "o", "High", "h", "Low",
                                    "l", "Close", "Adj Close", "c", "Volume", "vol", "symbol", "Ticker", "x", ""]),
                   min_size=0, max_size=9)
cells = (st.sampled_from(["1", "2.5", "-1", "0", "NaN", "inf", "", "1e400", "abc", '"q,uoted"', "2020-01-02",
                          "1/4/1999"])
         | st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.text(max_size=5))


@st.composite
def csv_bytes(draw):
    header = draw(headers)
    width = max(len(header), 1)
    rows = draw(st.lists(st.lists(cells, min_size=max(width - 1, 0), max_size=width + 1), max_size=5))
    text = "\n".join([",".join(header)] + [",".join(row) for row in rows])
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=12))
    return data


SPELLINGS = {"timestamp": ["Date", "timestamp", "Datetime"], "symbol": ["symbol", "Ticker"], "open": ["Open", "o"],
             "high": ["High", "h"], "low": ["Low", "LOW"], "close": ["Close", "Adj Close", "c"],
             "volume": ["Volume", "vol"]}


@st.composite
def near_valid_csv(draw):
    rows = draw(near_valid_rows())
    keys = list(BARS_COLUMNS)
    if draw(st.booleans()):
        keys.remove("symbol")
    keys = draw(st.permutations(keys))
    header = ",".join(draw(st.sampled_from(SPELLINGS[k])) for k in keys)
    lines = [",".join("" if r[k] is None else str(r[k]) for k in keys) for r in rows]
    return ("\n".join([header, *lines]) + "\n").encode()


@FUZZ
@given(st.one_of(csv_bytes(), near_valid_csv(), st.binary(max_size=64)),
       st.sampled_from(["bars.csv", "bars.parquet", "b.csv.gz"]))
def test_read_bars_on_random_bytes(data, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            out = read_bars(path)
        except QfinError as err:
            assert str(path) in str(err)
            return
        check_bars_invariants(out)
