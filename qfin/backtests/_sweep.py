"""Parameter sweeps of one strategy of a spec: vectorised columns where the strategy allows, else one task per
grid point through :func:`qfin.parallel.map` (local processes, or Ray)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qfin.backtests._luck import overfitting_statistics, returns_matrix
from qfin.backtests._metrics import METRIC_NAMES, strategy_metrics
from qfin.backtests._run import (
    SIGNAL_STRATEGIES,
    _build_weight_strategy,
    evaluation_period,
    load_market,
    run_backtest,
    run_sma_grid,
)
from qfin.backtests._spec import SIGNAL_PARAMS, BacktestSpec, StrategySpec, signal_params
from qfin.data import config_hash, staged_output, strict_json
from qfin.errors import SpecError
from qfin.specs import parse_model

__all__ = ["SweepResult", "parse_grid", "rank_rows", "run_sweep"]

LOWER_IS_BETTER = ("volatility", "cvar_95", "turnover")


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """Parse ``key=start:stop[:step]`` (a Python range: stop excluded) or ``key=v1,v2,...`` into value lists.

    List items are read as TOML would: an integer, else a number, else ``true``/``false``, else text. Whether a
    value suits the key is for the strategy's params model to say (:func:`run_sweep` checks every point)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values:
            raise SpecError(f"--grid {item!r}: expected key=start:stop[:step] or key=v1,v2,...")
        try:
            if ":" in values:
                parts = [int(p) for p in values.split(":")]
                if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                    raise ValueError
                grid[key] = list(range(*parts))
            else:
                grid[key] = [_number(v.strip()) for v in values.split(",")]
        except ValueError:
            raise SpecError(f"--grid {item!r}: ranges are integers start:stop[:step] with step > 0") from None
        if not grid[key]:
            raise SpecError(f"--grid {item!r}: the range is empty (stop is excluded)")
    return grid


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def rank_rows(rows: list[dict[str, Any]], sort_by: str) -> list[dict[str, Any]]:
    """``rows`` sorted best first by ``sort_by`` (descending, except the LOWER_IS_BETTER metrics); a row whose
    figure is undefined (NaN or None, e.g. the Sharpe ratio of a point that never traded) ranks last."""
    sign = 1.0 if sort_by in LOWER_IS_BETTER else -1.0

    def key(row: dict[str, Any]) -> tuple[bool, float]:
        value = row[sort_by]
        missing = value is None or bool(np.isnan(value))
        return missing, 0.0 if missing else sign * float(value)

    return sorted(rows, key=key)


@dataclass
class SweepResult:
    """One row per grid point: the parameters, then the metrics; sorted best first by ``sort_by``."""

    rows: list[dict[str, Any]]
    params: list[str]
    sort_by: str
    vectorised: bool
    overfitting: dict[str, Any] | None = None  # of the best row: deflated Sharpe, PBO (qfin.backtests._luck)

    def frame(self):
        import polars as pl

        return pl.DataFrame(self.rows)

    def write(self, out_dir: str | Path, spec_hash: str | None = None) -> Path:
        """Write sweep.csv, sweep.json and, for a 2-D grid, heatmap.png into ``out_dir``, all or nothing
        (:func:`qfin.data.staged_output`, kind "sweep"; ``spec_hash`` of the spec and grid, by default of the grid
        points and ranking)."""
        points = [{name: row[name] for name in self.params} for row in self.rows]
        spec_hash = spec_hash or config_hash({"params": self.params, "points": points, "sort_by": self.sort_by})
        with staged_output(out_dir, "sweep", spec_hash=spec_hash) as staging:
            self.frame().write_csv(staging / "sweep.csv")
            if len(self.params) == 2:
                _heatmap(self, staging / "heatmap.png")
            (staging / "sweep.json").write_text(strict_json({"sort_by": self.sort_by, "rows": self.rows,
                                                             "overfitting": self.overfitting}))
        return out_dir


def run_sweep(spec: BacktestSpec, grid: dict[str, list[Any]], *, strategy: str | None = None, backend: str = "local",
              n_workers: int | None = None, address: str | None = None, sort_by: str = "sharpe",
              progress: bool = True) -> SweepResult:
    """Run ``grid`` (parameter -> values, full product) over one strategy of ``spec``.

    The strategy is ``strategy`` (its name) or the spec's only one. SMA crossover grids over fast/slow run as
    columns of one vectorised backtest; every other grid runs one backtest per point through
    :func:`qfin.parallel.map` on ``backend``. Pairs with fast >= slow are skipped.
    """
    if sort_by not in METRIC_NAMES:
        raise SpecError(f"--sort {sort_by!r}: choose one of {', '.join(METRIC_NAMES)}")
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
    if vectorised:
        metrics, equities = _sma_columns(spec, item, points)
    else:
        from qfin import parallel

        tasks = [_point_spec(spec, item, point).model_dump(mode="json") for point in points]
        done = parallel.map(_run_point, tasks, backend=backend, n_workers=n_workers, address=address,
                            progress=progress, description=f"sweeping {item.label}")
        metrics, equities = [m for m, _ in done], [e for _, e in done]
    rows = rank_rows([{**point, **row, "_point": k} for k, (point, row) in enumerate(zip(points, metrics,
                                                                                         strict=True))], sort_by)
    best = rows[0].pop("_point")
    for row in rows[1:]:
        row.pop("_point")
    luck = overfitting_statistics(returns_matrix(equities, spec.initial_cash), best, spec.periods_per_year)
    return SweepResult(rows, names, sort_by, vectorised, luck)


# float64 arrays of [bars, points] alive at once: the vectorised signals engine's exposure, shares, cash, value,
# fills and costs and the sweep's value paths and returns; one backtest's value path and returns per point else
_ARRAYS_PER_POINT = {True: 10, False: 3}


def _check_size(spec: BacktestSpec, n_points: int, vectorised: bool) -> None:
    """Refuse, before any work, a grid whose [bars, points] arrays would not fit in memory (qfin.data.check_memory)."""
    from qfin.data import check_memory

    n_bars = load_market(spec).n_bars
    check_memory(8.0 * n_bars * n_points * _ARRAYS_PER_POINT[vectorised],
                 f"a sweep of {n_points:,} points over {n_bars:,} bars", "the grid or the period")


def _checked_point(item: StrategySpec, point: dict[str, Any]) -> dict[str, Any]:
    """``point`` checked against the strategy kind's params model before any work (one-line SpecError naming the
    key and what it accepts), its values as the model holds them (``long_short=0`` becomes False)."""
    where = "--grid " + " ".join(f"{k}={v}" for k, v in point.items())
    table = {**item.table, **point}
    if item.kind in SIGNAL_PARAMS:
        checked = parse_model(SIGNAL_PARAMS[item.kind], table, where)
    else:
        checked = _build_weight_strategy(StrategySpec.model_validate(table), where)
    extra = getattr(checked, "params", {}) if getattr(checked, "extra_keys", None) else {}  # a user function's
    return {key: extra[key] if key in extra else getattr(checked, key) for key in point}


def _pick(spec: BacktestSpec, strategy: str | None) -> StrategySpec:
    labels = [s.label for s in spec.strategies]
    if strategy is None:
        if len(spec.strategies) != 1:
            raise SpecError(f"the spec has {len(labels)} strategies ({', '.join(labels)}); pick one with --strategy")
        return spec.strategies[0]
    if strategy not in labels:
        raise SpecError(f"--strategy {strategy!r} is not in the spec; its strategies: {', '.join(labels)}")
    return spec.strategies[labels.index(strategy)]


def _point_spec(spec: BacktestSpec, item: StrategySpec, point: dict[str, Any]) -> BacktestSpec:
    strategy = StrategySpec.model_validate({**item.model_dump(), **point})
    return spec.model_copy(update={"strategies": [strategy], "report": spec.report.model_copy(update={"plots": False})})


def _run_point(spec_json: dict[str, Any]) -> tuple[dict[str, float], np.ndarray]:
    """One grid point as a picklable task: run the one-strategy spec, return its metrics and value path."""
    result = run_backtest(spec_json, progress=False)
    row = {key: value for key, value in next(iter(result.metrics.values())).items()
           if not isinstance(value, (list, dict))}  # the drawdown periods stay out of the sweep's table
    return row, next(iter(result.runs.values())).equity


def _sma_columns(spec: BacktestSpec, item: StrategySpec, points: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, float]], list[np.ndarray]]:
    market = load_market(spec)
    first, last = evaluation_period(market, spec)
    params = signal_params(item)
    fast = np.array([p.get("fast", params.fast) for p in points], dtype=np.int64)
    slow = np.array([p.get("slow", params.slow) for p in points], dtype=np.int64)
    grid = run_sma_grid(item.label, params, fast, slow, market, first, last, spec)
    timestamps = market.timestamps[first: last + 1]
    metrics = [strategy_metrics(grid.run.equity[:, k], float(grid.run.turnover[k]), timestamps,
                                spec.periods_per_year, initial_cash=spec.initial_cash) for k in range(len(points))]
    return metrics, [grid.run.equity[:, k] for k in range(len(points))]


def _heatmap(result: SweepResult, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x_name, y_name = result.params
    xs = sorted({r[x_name] for r in result.rows})
    ys = sorted({r[y_name] for r in result.rows})
    values = np.full((len(ys), len(xs)), np.nan)
    for r in result.rows:
        values[ys.index(r[y_name]), xs.index(r[x_name])] = r[result.sort_by]
    figure = Figure(figsize=(1.0 + 0.6 * len(xs), 1.0 + 0.45 * len(ys)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    axes.set_xticks(range(len(xs)), [str(x) for x in xs])
    axes.set_yticks(range(len(ys)), [str(y) for y in ys])
    axes.set_xlabel(x_name)
    axes.set_ylabel(y_name)
    axes.set_title(f"{result.sort_by} over the grid")
    figure.colorbar(image, ax=axes, label=result.sort_by)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=110)
