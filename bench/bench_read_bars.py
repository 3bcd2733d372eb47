"""qfin.data.read_bars vs pandas.read_csv + the same checks, on a 1M-row multi-symbol OHLCV CSV.

Work: read ``timestamp,symbol,open,high,low,close,volume`` (200 symbols x 5,000 one-minute bars, time-major,
ISO datetimes) into a typed frame and check the Bars rules: required columns, non-empty, no null/NaN/inf in
prices or volume, prices > 0, high >= max(open, close), low <= min(open, close), volume >= 0, no duplicate
and no decreasing timestamps per symbol.
- qfin: ``read_bars(path)`` (polars' CSV reader with explicit dtypes + vectorised polars checks).
- peer: ``pandas.read_csv`` (default C engine) with explicit float dtypes and the timestamp format given, then
  the same checks in pandas (``isna``, ``np.isinf``, comparisons, ``duplicated``, ``groupby().diff()``).
  For context it also times ``pandas.read_csv(engine="pyarrow")`` with the same checks (not the ratio's peer).

Best of 7 each after one warm-up call (the box is shared: more repeats, steadier minimum). ``--json PATH`` writes
{"name", "qfin_s", "peer", "peer_s", "ratio"} (ratio = peer / qfin).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

N_SYMBOLS = 200
N_BARS = 5_000
REPEATS = 7


def write_csv(path: Path, seed: int = 0) -> int:
    """Random-walk OHLCV bars that satisfy every rule; returns the row count."""
    import polars as pl

    rng = np.random.default_rng(seed)
    n = N_SYMBOLS * N_BARS
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, size=(N_BARS, N_SYMBOLS)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 5e-4, size=close.shape))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 1e-3, size=close.shape))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 1e-3, size=close.shape))
    volume = rng.integers(0, 100_000, size=close.shape).astype(np.float64)
    start = np.datetime64("2020-01-02T09:30:00", "us")
    stamps = start + np.arange(N_BARS).astype("timedelta64[m]")
    frame = pl.DataFrame({
        "timestamp": np.repeat(stamps, N_SYMBOLS),
        "symbol": np.tile(np.array([f"S{i:03d}" for i in range(N_SYMBOLS)]), N_BARS),
        "open": open_.ravel(), "high": high.ravel(), "low": low.ravel(), "close": close.ravel(),
        "volume": volume.ravel(),
    })
    frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S", float_precision=6)
    return n


def pandas_read_bars(path: Path, engine: str = "c"):
    """pandas.read_csv plus the Bars checks; raises ValueError on the first broken rule."""
    import pandas as pd

    prices = ["open", "high", "low", "close"]
    dtypes = {c: "float64" for c in [*prices, "volume"]} | {"symbol": "string" if engine == "c" else "str"}
    frame = pd.read_csv(path, dtype=dtypes, engine=engine)
    missing = {"timestamp", "symbol", *prices, "volume"} - set(frame.columns)
    if missing:
        raise ValueError(f"missing columns {missing}")
    if frame.empty:
        raise ValueError("empty")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    values = frame[[*prices, "volume"]].to_numpy()
    if frame["timestamp"].isna().any() or frame["symbol"].isna().any():
        raise ValueError("missing timestamp/symbol")
    if np.isnan(values).any() or np.isinf(values).any():
        raise ValueError("missing or infinite values")
    if (frame[prices] <= 0).any().any():
        raise ValueError("non-positive price")
    if (frame["high"] < np.maximum(frame["open"], frame["close"])).any():
        raise ValueError("high < max(open, close)")
    if (frame["low"] > np.minimum(frame["open"], frame["close"])).any():
        raise ValueError("low > min(open, close)")
    if (frame["volume"] < 0).any():
        raise ValueError("negative volume")
    if frame.duplicated(["symbol", "timestamp"]).any():
        raise ValueError("duplicate timestamps")
    if (frame.groupby("symbol", sort=False)["timestamp"].diff() < pd.Timedelta(0)).any():
        raise ValueError("unsorted timestamps")
    return frame


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, after one untimed warm-up call (imports, thread pools, caches)."""
    fn()
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the result as JSON here")
    args = parser.parse_args()

    from qfin.data import read_bars

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.csv"
        n = write_csv(path)
        size_mb = path.stat().st_size / 1e6
        qfin_s, bars = best_of(lambda: read_bars(path))
        peer_s, frame = best_of(lambda: pandas_read_bars(path))
        arrow_s, _ = best_of(lambda: pandas_read_bars(path, engine="pyarrow"))

    assert bars.height == len(frame) == n
    assert np.array_equal(bars["close"].to_numpy(), frame["close"].to_numpy())
    ratio = peer_s / qfin_s
    print(f"read_bars on {n:,} rows ({size_mb:.0f} MB CSV, {N_SYMBOLS} symbols), best of {REPEATS}")
    print(f"  qfin.data.read_bars             {qfin_s:8.3f} s  {n / qfin_s / 1e6:6.2f} M rows/s")
    print(f"  pandas.read_csv (C) + checks    {peer_s:8.3f} s  {n / peer_s / 1e6:6.2f} M rows/s")
    print(f"  pandas.read_csv (pyarrow)+checks{arrow_s:8.3f} s  {n / arrow_s / 1e6:6.2f} M rows/s (context)")
    print(f"  ratio pandas(C) / qfin          {ratio:8.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"name": "read_bars_1M_csv", "qfin_s": qfin_s,
                                         "peer": "pandas.read_csv+checks", "peer_s": peer_s, "ratio": ratio}))


if __name__ == "__main__":
    main()
