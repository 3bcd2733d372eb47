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


def metric_cell(name: str, value: float) -> str:
    return f"{value:.1%}" if name in PERCENT else f"{value:.3f}"


def metrics_table(rows: dict[str, dict[str, float]], title: str, first_column: str = "strategy") -> Table:
    """One row per key of ``rows`` (a strategy), one column per metric."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    names = list(next(iter(rows.values())))
    table.add_column(first_column, no_wrap=True)
    for name in names:
        table.add_column(HEADERS.get(name, name), justify="right", no_wrap=True)
    for label, row in rows.items():
        table.add_row(label, *(metric_cell(n, row[n]) for n in names))
    return table
