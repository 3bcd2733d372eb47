"""`qfin data ...`: list, show and import datasets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console as make_console
from qfin.cli._tables import fitted_tables

data_app = command_group("List, inspect and import datasets.")
console = make_console()


@data_app.command("list")
def list_command() -> None:
    """List the shipped datasets and those imported into QFIN_HOME."""
    from qfin.data import dataset_info, list_datasets
    from qfin.errors import QfinError

    table = Table(title="qfin datasets")
    for column in ("name", "kind", "rows", "from", "to", "description"):
        table.add_column(column)
    broken = []
    for name in list_datasets():
        try:
            info = dataset_info(name)
        except QfinError as err:  # one unreadable import must not hide the others
            broken.append(f"{name}: {err}")
            table.add_row(name, "unreadable", "", "", "", "cannot be read; re-import it (qfin data import ... "
                          "--overwrite) or delete its file")
            continue
        table.add_row(name, info.kind, _fmt(info.n_rows), _fmt(info.start), _fmt(info.end), info.description)
    console.print(table)
    for line in broken:
        console.print(f"unreadable: {line}")


@data_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Dataset name (see `qfin data list`)."),
    rows: int = typer.Option(5, "--rows", "-n", min=0, help="How many rows to print from the start and end."),
) -> None:
    """Print a dataset's schema, date range, row count and a few rows."""
    from qfin.data import dataset_info, load_dataset

    info = dataset_info(name)
    frame = load_dataset(name)
    console.print(f"{name} ({info.kind}) — {info.description}")
    console.print(f"source: {info.source}; licence: {info.licence}")
    console.print(f"rows: {frame.height:,}; columns: {frame.width}")
    if "timestamp" in frame.columns:
        console.print(f"dates: {frame['timestamp'].min()} .. {frame['timestamp'].max()}")
    if "symbol" in frame.columns:
        console.print(f"symbols: {', '.join(frame['symbol'].unique(maintain_order=True).to_list())}")
    if "target" in frame.columns:
        console.print(f"target = 1 (bad) rate: {frame['target'].mean():.3f}")

    schema = Table(title="schema")
    schema.add_column("column")
    schema.add_column("dtype")
    for column, dtype in frame.schema.items():
        schema.add_row(column, str(dtype))
    console.print(schema)
    if rows:
        for table in _preview(frame, rows, console.width):
            console.print(table)


@data_app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="CSV or Parquet file of OHLCV bars."),
    name: str = typer.Option(..., "--name", help="Name to store it under ([A-Za-z0-9_-]+)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an imported dataset of that name."),
) -> None:
    """Validate a bars file and store it as Parquet in QFIN_HOME/data (default ~/.qfin/data)."""
    from qfin.data import import_bars, load_dataset

    stored = import_bars(path, name, overwrite=overwrite)
    frame = load_dataset(name)
    console.print(f"imported {frame.height:,} bars of {frame['symbol'].n_unique()} symbol(s) as "
                  f"{name} -> {stored}")


def _preview(frame, rows: int, width: int) -> list[Table]:
    """The first and last ``rows`` rows, every column, in as many tables as the terminal's width needs (each
    repeating the first column)."""
    cut = frame.height > 2 * rows
    shown = frame.head(rows).vstack(frame.tail(rows)) if cut else frame
    cells = [[_fmt(value) for value in record] for record in shown.iter_rows()]
    if cut:
        cells.insert(rows, ["..."] * frame.width)
    title = f"first and last {rows} of {frame.height:,} rows" if cut else "rows"
    return fitted_tables(title, list(frame.columns), cells, width, right=set())


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
