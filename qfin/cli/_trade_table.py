"""The trade-statistics table of `qfin backtest`: one row per signal strategy (backtesting.py's figures)."""

from __future__ import annotations

from rich.table import Table

from qfin.cli._tables import fitted_tables

TRADE_HEADERS = {"exposure_time_pct": "exposure", "n_trades": "trades", "win_rate_pct": "win rate",
                 "best_trade_pct": "best", "worst_trade_pct": "worst", "avg_trade_pct": "avg trade",
                 "max_trade_duration_days": "max days", "avg_trade_duration_days": "avg days",
                 "profit_factor": "profit factor", "expectancy_pct": "expectancy", "sqn": "SQN", "kelly": "Kelly"}


def _cell(name: str, value: float | int | None) -> str:
    if value is None or value != value:
        return "n/a"
    if name.endswith("_pct"):
        return f"{value:.2f}%"
    if name == "n_trades" or name.endswith("_days"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def split_trade_metrics(metrics: dict[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(the metrics without the trade statistics, the trade statistics of the strategies that have them)."""
    names = set(TRADE_HEADERS)
    rest = {label: {k: v for k, v in row.items() if k not in names} for label, row in metrics.items()}
    trades = {label: {k: row[k] for k in TRADE_HEADERS} for label, row in metrics.items() if "n_trades" in row}
    return rest, trades


def trade_tables(trades: dict[str, dict], title: str, width: int) -> list[Table]:
    """The trade statistics split to fit ``width`` (nothing when no strategy has trades)."""
    if not trades:
        return []
    header = ["strategy", *TRADE_HEADERS.values()]
    rows = [[label, *(_cell(k, row[k]) for k in TRADE_HEADERS)] for label, row in trades.items()]
    return fitted_tables(title, header, rows, width)
