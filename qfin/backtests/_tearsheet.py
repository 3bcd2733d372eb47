"""The report of a backtest result: :func:`qfin.backtests._report.write_report` fed from a
:class:`~qfin.backtests.BacktestResult` (its benchmark, its trades, returns from the initial cash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_backtest_report"]


def write_backtest_report(out_dir: str | Path, result: Any) -> Path:
    """Write ``result``'s tearsheet (PNG figures and report.html) into the existing folder ``out_dir``."""
    from qfin.backtests._report import write_report

    spec = result.spec
    benchmark = getattr(result, "benchmark", None)
    trades = getattr(result, "trades", None)
    return write_report(out_dir, title=spec.name, timestamps=result.timestamps,
                        equity={n: r.equity for n, r in result.runs.items()},
                        weights={n: r.weights for n, r in result.runs.items() if r.weights is not None},
                        assets=result.assets, metrics=result.metrics, notes=result.notes,
                        rolling_window=spec.report.rolling_window, periods_per_year=spec.periods_per_year,
                        benchmark=None if benchmark is None else (benchmark.name, benchmark.equity),
                        trades=trades, initial_cash=spec.initial_cash)
