"""The tearsheet's tables: monthly returns as a coloured heatmap, end-of-year returns, the worst drawdowns and the
trade list (capped, saying how many rows it hides). Every text cell is escaped by :func:`qfin.report.table`;
the only markup added here is a coloured span around a formatted number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qfin import report
from qfin.backtests._relative import DRAWDOWN_KEY
from qfin.report import Html

__all__ = ["MAX_TRADE_ROWS", "drawdowns_table", "monthly_heatmap", "trades_table", "yearly_table"]

MAX_TRADE_ROWS = 200
"""Most trades listed in the page; the rest are counted (all of them are in trades.parquet)."""
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _shade(value: float, scale: float) -> Html:
    """A percentage in a cell coloured green (gain) or red (loss), the stronger the larger |value| / scale."""
    text = report.escape(report.format_number(float(value), ".1%"))
    alpha = min(abs(float(value)) / scale, 1.0) * 0.75 if scale > 0 else 0.0
    rgb = "26,127,55" if value >= 0 else "207,34,46"
    return Html(f'<span style="display:block;padding:0 0.2rem;background:rgba({rgb},{alpha:.2f})">{text}</span>')


def monthly_heatmap(months: np.ndarray, values: np.ndarray) -> Html:
    """Years as rows, months as columns, and the year's compounded return last; a month without bars is blank."""
    years = sorted({int(str(m)[:4]) for m in months})
    grid = np.full((len(years), 12), np.nan)
    for month, value in zip(months, values, strict=True):
        year, number = int(str(month)[:4]), int(str(month)[5:7])
        grid[years.index(year), number - 1] = value
    scale = float(np.nanquantile(np.abs(values), 0.95)) if np.isfinite(values).any() else 0.0
    rows = []
    for k, year in enumerate(years):
        cells = [_shade(v, scale) if np.isfinite(v) else "" for v in grid[k]]
        total = float(np.prod(1.0 + grid[k][np.isfinite(grid[k])]) - 1.0)
        rows.append([str(year), *cells, _shade(total, 4.0 * scale)])
    return report.table(rows, ["Year", *_MONTHS, "Year"], row_headers=True)


def yearly_table(years: Sequence[str], yearly: Mapping[str, np.ndarray],
                 benchmark: tuple[str, np.ndarray] | None) -> Html:
    """One row per calendar year, one column per strategy (and the benchmark): the year's compounded return."""
    columns = dict(yearly)
    if benchmark is not None:
        columns[f"{benchmark[0]} (benchmark)"] = benchmark[1]
    rows = [[year, *(report.format_number(float(v[k]), ".1%") for v in columns.values())]
            for k, year in enumerate(years)]
    return report.table(rows, ["Year", *columns], row_headers=True)


def drawdowns_table(metrics: Mapping[str, Mapping[str, Any]]) -> Html | None:
    """The worst drawdowns of each strategy (metrics.json's ``drawdowns``), or None when none were computed."""
    rows = []
    for name, row in metrics.items():
        for rank, period in enumerate(row.get(DRAWDOWN_KEY) or [], start=1):
            rows.append([str(name), str(rank), period["start"], period["trough"],
                         period["recovery"] or "not recovered", str(period["length_bars"]),
                         report.format_number(float(period["depth"]), ".2%")])
    if not rows:
        return None
    return report.table(rows, ["Strategy", "#", "Start", "Trough", "Recovered", "Bars under water", "Depth"])


def trades_table(trades: Any) -> tuple[Html, str]:
    """The first :data:`MAX_TRADE_ROWS` trades of a polars trade frame, and a sentence saying how many are shown."""
    shown = trades.head(MAX_TRADE_ROWS)
    rows = [[str(t["strategy"]), str(t["asset"]), str(t["entry_time"]).replace(" 00:00:00", ""),
             str(t["exit_time"]).replace(" 00:00:00", ""), report.format_number(t["entry_price"], ".2f"),
             report.format_number(t["exit_price"], ".2f"), report.format_number(t["size"], ".4g"),
             report.format_number(t["pnl"], ",.2f"), report.format_number(t["return"], ".2%"),
             str(t["duration_bars"]), str(t["exit_reason"])] for t in shown.iter_rows(named=True)]
    header = ["Strategy", "Asset", "Entry", "Exit", "Entry price", "Exit price", "Size", "P&L", "Return", "Bars",
              "Exit reason"]
    hidden = trades.height - shown.height
    sentence = (f"All {trades.height} trades." if not hidden else
                f"The first {shown.height} of {trades.height} trades; {hidden} more are not shown here "
                "(every trade is in trades.parquet).")
    return report.table(rows, header), sentence
