"""`qfin backtest SPEC --out DIR`: run a spec, print the metrics table, write metrics, equity and report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "cvar_95", "turnover"}


def backtest_command(
    spec: Path = typer.Argument(..., help="Backtest spec (TOML), e.g. backtests/sp500.toml."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: runs/<spec name>)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar while fitting."),
) -> None:
    """Run every strategy of SPEC on the same dates, costs and execution; write metrics.json, equity.parquet and
    an HTML report."""
    from qfin.backtests import load_spec, run_backtest

    parsed = load_spec(spec)
    out = out or Path("runs") / spec.stem
    result = run_backtest(parsed, out_dir=out, progress=progress)
    console.print(metrics_table(result.metrics, title=f"{parsed.name} — {result.notes['data']}"))
    console.print(f"execution: {result.notes['execution']}; costs: {result.notes['costs']}")
    report = out / "report.html"
    console.print(f"wrote {out}/metrics.json, {out}/equity.parquet" + (f", {report}" if report.exists() else ""))


def metrics_table(metrics: dict[str, dict[str, float]], title: str) -> Table:
    """A rich table: one row per strategy, percentages where natural."""
    table = Table(title=title)
    names = list(next(iter(metrics.values())))
    table.add_column("strategy")
    for name in names:
        table.add_column(name, justify="right")
    for strategy, row in metrics.items():
        table.add_row(strategy, *(f"{row[n]:.2%}" if n in PERCENT else f"{row[n]:.3f}" for n in names))
    return table
