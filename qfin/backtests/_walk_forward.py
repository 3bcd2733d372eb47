"""Walk-forward optimisation of a sweep: on each fold re-optimise the grid on a training window by the sweep's
metric, apply the winner on the next test window, and stitch the test windows into one out-of-sample curve.

Folds come from :func:`qfin.data.walk_forward_folds` over the spec's evaluation period (rolling or expanding
training windows of ``train`` bars, test windows of ``test`` bars that tile). Between a training window and its test
window lie ``purge + embargo`` bars that neither uses: ``purge`` drops the last bars of the training window (their
figures would be read off prices inside the gap), ``embargo`` is skipped before the test window (López de Prado,
*Advances in Financial Machine Learning*, 2018, §7.4). Every window is its own backtest whose data end at the
window's last bar (its spec's ``end``), so a fold's choice cannot see any later bar; lookbacks reach back before
the window's start, as in any backtest. Each test run starts flat from the initial cash (its opening trades' costs
count); the stitched curve compounds the test windows' returns.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qfin.backtests._metrics import METRIC_NAMES, equity_metrics, path_returns
from qfin.backtests._run import SIGNAL_STRATEGIES, evaluation_period, load_market
from qfin.backtests._spec import BacktestSpec, signal_params
from qfin.backtests._sweep import (
    _check_size,
    _checked_point,
    _pick,
    _point_spec,
    _run_point,
    _sma_columns,
    rank_rows,
)
from qfin.data import config_hash, staged_output, strict_json, walk_forward_folds
from qfin.errors import DataValidationError, SpecError

__all__ = ["WalkForwardResult", "run_walk_forward"]

_RETURN_METRICS = tuple(m for m in METRIC_NAMES if m != "turnover")  # turnover needs the traded value: not a score


@dataclass
class WalkForwardResult:
    """Per fold: the windows, the winning point, its training score and its test metrics; and the stitched
    out-of-sample curve (``timestamps``, ``equity``, ``fold`` [T]) with its metrics."""

    params: list[str]
    sort_by: str
    folds: list[dict[str, Any]]
    timestamps: np.ndarray
    equity: np.ndarray
    fold: np.ndarray
    metrics: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)

    def equity_frame(self):
        import polars as pl

        return pl.DataFrame({"timestamp": self.timestamps.astype("datetime64[us]"), "oos_equity": self.equity,
                             "fold": self.fold.astype(np.int64)})

    def write(self, out_dir: str | Path, spec_hash: str | None = None) -> Path:
        """Write walk_forward.json (settings, folds, out-of-sample metrics) and oos_equity.parquet into
        ``out_dir``, all or nothing (:func:`qfin.data.staged_output`, kind "sweep")."""
        spec_hash = spec_hash or config_hash({"settings": self.settings, "params": self.params})
        with staged_output(out_dir, "sweep", spec_hash=spec_hash) as staging:
            self.equity_frame().write_parquet(staging / "oos_equity.parquet")
            (staging / "walk_forward.json").write_text(strict_json(
                {"sort_by": self.sort_by, "settings": self.settings, "folds": self.folds,
                 "out_of_sample": self.metrics}))
        return Path(out_dir)


def _day(timestamp: np.datetime64):
    return timestamp.astype("datetime64[D]").item()


def _window_spec(spec: BacktestSpec, times: np.ndarray, start: int, stop: int) -> BacktestSpec:
    """``spec`` over the bars [start, stop] of the evaluation period (its data end there)."""
    data = spec.data.model_copy(update={"start": _day(times[start]), "end": _day(times[stop])})
    return spec.model_copy(update={"data": data})


def _evaluate(windows: list[BacktestSpec], item, points: list[list[dict[str, Any]]], vectorised: bool,
              options: dict[str, Any]) -> list[tuple[list[dict[str, Any]], list[np.ndarray]]]:
    """For each window spec, the metrics and value paths of its points: one vectorised run per window, or every
    (window, point) backtest in one :func:`qfin.parallel.map` (one pool for all folds)."""
    if vectorised:
        return [_sma_columns(window, item, window_points) for window, window_points in zip(windows, points,
                                                                                             strict=True)]
    from qfin import parallel

    tasks = [_point_spec(window, item, point).model_dump(mode="json")
             for window, window_points in zip(windows, points, strict=True) for point in window_points]
    done = iter(parallel.map(_run_point, tasks, progress=options.pop("progress"), description="walk-forward runs",
                             **options))
    out = []
    for window_points in points:
        runs = [next(done) for _ in window_points]
        out.append(([m for m, _ in runs], [e for _, e in runs]))
    return out


def run_walk_forward(spec: BacktestSpec, grid: dict[str, list[Any]], *, train: int, test: int,
                     expanding: bool = False, purge: int = 0, embargo: int = 0, strategy: str | None = None,
                     sort_by: str = "sharpe", backend: str = "local", n_workers: int | None = None,
                     address: str | None = None, progress: bool = True) -> WalkForwardResult:
    """Walk-forward optimisation of ``grid`` over one strategy of ``spec`` (see the module docstring).

    ``train`` / ``test`` are bars per window, ``expanding`` grows the training window from the period's start,
    ``purge`` and ``embargo`` are bars left out between them; the grid, the strategy and ``sort_by`` are as in
    :func:`qfin.backtests.run_sweep` (``turnover`` cannot rank: a window's score comes from its returns).
    """
    if sort_by not in _RETURN_METRICS:
        raise SpecError(f"--sort {sort_by!r} with --walk-forward: choose one of {', '.join(_RETURN_METRICS)}")
    for name, value in (("purge", purge), ("embargo", embargo)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"--{name} must be a whole number of bars >= 0, got {value!r}")
    if isinstance(train, bool) or not isinstance(train, int) or train <= purge + 1:
        raise SpecError(f"--train must be a whole number of bars > purge + 1 = {purge + 1}, got {train!r}")
    if isinstance(test, bool) or not isinstance(test, int) or test < 2:
        raise SpecError(f"--test must be a whole number of bars >= 2, got {test!r}")
    item = _pick(spec, strategy)
    names = list(grid)
    points = [_checked_point(item, dict(zip(names, values, strict=True)))
              for values in itertools.product(*grid.values())]
    if item.kind == "sma_crossover":
        base = signal_params(item)
        points = [p for p in points if p.get("fast", base.fast) < p.get("slow", base.slow)]
        if not points:
            raise SpecError("the grid has no point with fast < slow")
    vectorised = item.kind in SIGNAL_STRATEGIES and set(names) <= {"fast", "slow"}
    _check_size(spec, len(points), vectorised)
    market = load_market(spec)
    first, last = evaluation_period(market, spec)
    times = market.timestamps[first: last + 1]
    if np.any(times != times.astype("datetime64[D]")):
        raise SpecError("--walk-forward needs daily bars (its windows are cut at dates); "
                        f"{market.source} has intraday timestamps")
    try:
        folds = walk_forward_folds(times, train, test, expanding=expanding, embargo=embargo)
    except DataValidationError as err:
        raise SpecError(f"--walk-forward: {err}") from None
    options = {"backend": backend, "n_workers": n_workers, "address": address, "progress": progress}
    trains = [(int(f.train[0]), int(f.train[-1]) - purge) for f in folds]
    tests = [(int(f.test[0]), int(f.test[-1])) for f in folds]
    scored = _evaluate([_window_spec(spec, times, a, b) for a, b in trains], item, [points] * len(folds), vectorised,
                       dict(options))
    records, winners = [], []
    for k, (metrics, _) in enumerate(scored):
        rows = rank_rows([{**p, **m, "_point": j} for j, (p, m) in enumerate(zip(points, metrics, strict=True))],
                         sort_by)
        winners.append(points[rows[0]["_point"]])
        (a, b), (c, d) = trains[k], tests[k]
        records.append({"fold": k, "train_start": str(_day(times[a])), "train_end": str(_day(times[b])),
                        "test_start": str(_day(times[c])), "test_end": str(_day(times[d])), "winner": winners[-1],
                        "train_" + sort_by: rows[0][sort_by]})
    applied = _evaluate([_window_spec(spec, times, c, d) for c, d in tests], item, [[w] for w in winners], vectorised,
                        dict(options))
    pieces, fold_of = [], []
    for k, (test_metrics, test_equity) in enumerate(applied):
        records[k]["test"] = {key: test_metrics[0][key] for key in METRIC_NAMES}
        returns = path_returns(test_equity[0], spec.initial_cash)
        pieces.append(np.concatenate([returns, np.zeros(len(test_equity[0]) - len(returns))]))
        fold_of.append(np.full(len(test_equity[0]), k))
    returns = np.concatenate(pieces)
    equity = spec.initial_cash * np.cumprod(1.0 + returns)
    oos = equity_metrics(equity, 0.0, spec.periods_per_year, initial_cash=spec.initial_cash)
    oos.pop("turnover")  # each test run's trades are its own; their turnover is in the folds
    stamps = np.concatenate([times[int(f.test[0]): int(f.test[-1]) + 1] for f in folds])
    settings = {"strategy": item.label, "train": train, "test": test, "expanding": expanding, "purge": purge,
                "embargo": embargo, "points": len(points), "folds": len(folds)}
    return WalkForwardResult(names, sort_by, records, stamps, equity, np.concatenate(fold_of), oos, settings)
