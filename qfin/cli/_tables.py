"""Metric tables for the terminal: short headers, percentages where natural, readable when piped."""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "cvar_95", "turnover"}
HEADERS = {"total_return": "return", "cagr": "CAGR", "volatility": "vol", "sharpe": "Sharpe",
           "sortino": "Sortino", "max_drawdown": "max DD", "calmar": "Calmar", "cvar_95": "CVaR 95",
           "turnover": "turnover"}


def console() -> Console:
    """A stdout console that prints text as given (no rich markup: a path or name holding ``[x]`` stays whole);
    when piped (CI, `| tee`) it is 140 columns wide instead of rich's 80, so tables of ten metrics are not
    squashed into ellipses. COLUMNS, when set, wins."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console(markup=False)
    return Console(width=140, markup=False)


RUIN_KEYS = ("ruined", "ruin_date")  # metrics.json's ruin flag and date beside the metrics


def metric_cell(name: str, value: float | None) -> str:
    if value is None or value != value:  # NaN, or null in metrics.json: undefined (a flat curve's Sharpe)
        return "n/a"
    return f"{value:.1%}" if name in PERCENT else f"{value:.3f}"


def ruin_cell(row: dict) -> str:
    """The ruin column: the ruin date of a ruined row, else empty."""
    return str(row.get("ruin_date") or "yes") if row.get("ruined") else ""


def metrics_table(rows: dict[str, dict], title: str, first_column: str = "strategy") -> Table:
    """One row per key of ``rows`` (a strategy), one column per metric; a "ruined" column (the ruin date) only when
    some row was ruined (its value fell to <= 0)."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    names = [name for name in next(iter(rows.values())) if name not in RUIN_KEYS]
    any_ruined = any(row.get("ruined") for row in rows.values())
    table.add_column(first_column, no_wrap=True)
    for name in names:
        table.add_column(HEADERS.get(name, name), justify="right", no_wrap=True)
    if any_ruined:
        table.add_column("ruined", justify="right", no_wrap=True)
    for label, row in rows.items():
        table.add_row(label, *(metric_cell(n, row[n]) for n in names), *([ruin_cell(row)] if any_ruined else []))
    return table
