"""Per-strategy statistics beyond the equity metrics: the worst drawdown periods and, against the spec's
``benchmark`` (an asset of the data, held from the period's first close, or one of the spec's strategies), alpha,
beta, information ratio, tracking error and up/down capture (:mod:`qfin.risk`'s definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qfin.backtests._metrics import _iso, path_returns
from qfin.errors import SpecError
from qfin.risk import BENCHMARK_STATISTICS, benchmark_statistics, drawdown_periods

__all__ = ["DRAWDOWN_KEY", "Benchmark", "add_period_metrics", "benchmark_returns", "check_benchmark"]

DRAWDOWN_KEY = "drawdowns"
"""metrics.json key of a strategy's worst five drawdowns: a list of {start, trough, recovery, length_bars, depth}."""
WORST_DRAWDOWNS = 5


@dataclass(frozen=True)
class Benchmark:
    """The benchmark of a backtest: its name, whether it is an ``asset`` or a ``strategy`` of the spec, and its [T]
    returns and value path (from the initial cash) over the evaluation period."""

    name: str
    kind: str
    returns: np.ndarray
    equity: np.ndarray

    @property
    def note(self) -> str:
        return (f"{self.name} (asset held from the first close, no costs)" if self.kind == "asset"
                else f"{self.name} (a strategy of this spec)")


def check_benchmark(spec: Any, market: Any) -> None:
    """A one-line SpecError, before any work, when ``benchmark`` names neither a strategy of the spec nor an asset."""
    name = getattr(spec, "benchmark", None)
    if name is None:
        return
    labels = [s.label for s in spec.strategies]
    if name not in labels and name not in market.assets:
        raise SpecError(f"benchmark {name!r} is neither a strategy of the spec ({', '.join(labels)}) nor an asset "
                        f"of {market.source} ({', '.join(market.assets)})")


def benchmark_returns(spec: Any, market: Any, first: int, last: int, runs: dict[str, Any]) -> Benchmark | None:
    """The spec's benchmark over bars [first, last]: a strategy's path returns (its name wins over an asset's), or
    the asset's close-to-close returns with 0 at the first bar (bought at that close); None without a benchmark."""
    name = getattr(spec, "benchmark", None)
    if name is None:
        return None
    if name in runs:
        equity = np.asarray(runs[name].equity, dtype=np.float64)
        returns = path_returns(equity, spec.initial_cash)
        returns = np.concatenate([returns, np.zeros(equity.shape[0] - returns.shape[0])])
        return Benchmark(name, "strategy", returns, equity)
    close = market.close[first: last + 1, market.assets.index(name)]
    returns = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    return Benchmark(name, "asset", returns, spec.initial_cash * close / close[0])


def add_period_metrics(metrics: dict[str, dict[str, Any]], runs: dict[str, Any], spec: Any, timestamps: np.ndarray,
                       benchmark: Benchmark | None) -> None:
    """Add to each strategy's row of ``metrics`` its worst drawdowns and, with a benchmark, the
    :data:`qfin.risk.BENCHMARK_STATISTICS` (null for the benchmark itself and where undefined)."""
    for name, run in runs.items():
        returns = path_returns(run.equity, spec.initial_cash)
        row = metrics[name]
        if benchmark is not None:
            if (benchmark.kind == "strategy" and name == benchmark.name) or returns.shape[0] < 2:
                row.update(dict.fromkeys(BENCHMARK_STATISTICS))
            else:
                stats = benchmark_statistics(returns, benchmark.returns[: returns.shape[0]], spec.periods_per_year)
                row.update({key: value if np.isfinite(value) else None for key, value in stats.items()})
        row[DRAWDOWN_KEY] = [
            {"start": _iso(timestamps[p.start]), "trough": _iso(timestamps[p.trough]),
             "recovery": None if p.recovery is None else _iso(timestamps[p.recovery]), "length_bars": p.length,
             "depth": p.depth}
            for p in drawdown_periods(returns, top=WORST_DRAWDOWNS)]
