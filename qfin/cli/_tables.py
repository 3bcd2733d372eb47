"""Metric tables for the terminal: short headers, percentages where natural, readable when piped."""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "cvar_95", "turnover", "alpha", "tracking_error"}
HEADERS = {"total_return": "return", "cagr": "CAGR", "volatility": "vol", "sharpe": "Sharpe",
           "sortino": "Sortino", "max_drawdown": "max DD", "calmar": "Calmar", "cvar_95": "CVaR 95",
           "turnover": "turnover", "information_ratio": "IR", "tracking_error": "TE", "up_capture": "up cap",
           "down_capture": "down cap"}


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


def fitted_tables(title: str, header: list[str], rows: list[list[str]], width: int, keep: int = 1,
                  right: set[int] | None = None, highlight: int | None = None) -> list[Table]:
    """The table split into as many as it takes to fit ``width`` columns of terminal, each repeating the first
    ``keep`` columns, so no cell is ever cut to an ellipsis ("831…"); ``right`` are right-aligned column indices,
    ``highlight`` a row shown in bold green."""
    right = set(range(keep, len(header))) if right is None else right
    sizes = [max([len(h), *(len(r[j]) for r in rows)]) + 3 for j, h in enumerate(header)]
    groups, current = [], []
    base = sum(sizes[:keep]) + 2
    for j in range(keep, len(header)):
        if current and base + sum(sizes[c] for c in current) + sizes[j] > width:
            groups.append(current)
            current = []
        current.append(j)
    groups.append(current)
    tables = []
    for k, group in enumerate(groups):
        columns = [*range(keep), *group]
        part = f" ({k + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=title + part, box=box.SIMPLE_HEAD)
        for j in columns:
            table.add_column(header[j], justify="right" if j in right else "left", no_wrap=True)
        for i, row in enumerate(rows):
            table.add_row(*(row[j] for j in columns), style="bold green" if i == highlight else None)
        tables.append(table)
    return tables


def metrics_tables(rows: dict[str, dict], title: str, width: int, first_column: str = "strategy") -> list[Table]:
    """One row per key of ``rows`` (a strategy), one column per metric, split to fit ``width``; a "ruined" column
    (the ruin date) only when some row was ruined (its value fell to <= 0)."""
    names = [name for name, value in next(iter(rows.values())).items()
             if name not in RUIN_KEYS and not isinstance(value, (list, dict))]  # drawdown periods: not a cell
    any_ruined = any(row.get("ruined") for row in rows.values())
    header = [first_column, *(HEADERS.get(n, n) for n in names), *(["ruined"] if any_ruined else [])]
    cells = [[label, *(metric_cell(n, row[n]) for n in names), *([ruin_cell(row)] if any_ruined else [])]
             for label, row in rows.items()]
    return fitted_tables(title, header, cells, width)
