"""`qfin sweep SPEC --grid key=a:b[:s] ...`: a parameter sweep of one strategy, sorted, best row highlighted;
with `--walk-forward`, re-optimised on rolling or expanding windows and scored out of sample."""

from __future__ import annotations

from pathlib import Path

import typer

from qfin.cli._tables import HEADERS, RUIN_KEYS, console, fitted_tables, metric_cell, ruin_cell


def sweep_command(
    spec: Path = typer.Argument(..., help="Backtest spec (TOML) whose strategy is swept."),
    grid: list[str] = typer.Option(..., "--grid", "-g",
                                   help="key=start:stop[:step] (stop excluded) or key=v1,v2; repeat per parameter."),
    strategy: str = typer.Option(None, "--strategy", help="Which strategy of the spec (default: its only one)."),
    backend: str = typer.Option("local", "--backend", help="local (processes) or ray."),
    workers: int = typer.Option(None, "--workers", min=1, help="Local worker processes (default: all cores)."),
    address: str = typer.Option(None, "--address", help="Ray cluster address (default: start or reuse a local Ray)."),
    sort: str = typer.Option("sharpe", "--sort", help="Metric to rank by."),
    top: int = typer.Option(20, "--top", min=1, help="Rows to print."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Write sweep.csv, sweep.json and heatmap.png here (walk_forward.json and "
                                  "oos_equity.parquet with --walk-forward)."),
    walk_forward: bool = typer.Option(False, "--walk-forward",
                                      help="Re-optimise on each training window, apply the winner on the next test "
                                           "window, and report the stitched out-of-sample curve."),
    train: int = typer.Option(756, "--train", help="Bars per training window (with --walk-forward)."),
    test: int = typer.Option(252, "--test", help="Bars per test window (with --walk-forward)."),
    expanding: bool = typer.Option(False, "--expanding", help="Grow the training window from the start "
                                                              "(default: rolling)."),
    purge: int = typer.Option(0, "--purge", help="Bars dropped from the end of each training window."),
    embargo: int = typer.Option(0, "--embargo", help="Bars skipped between a training window and its test window."),
) -> None:
    """Sweep a grid of strategy parameters over SPEC and print the ranked table (or, with --walk-forward, each
    fold's winner and the out-of-sample metrics)."""
    from qfin.backtests import load_spec
    from qfin.backtests._sweep import parse_grid, run_sweep
    from qfin.data import check_output_dir, config_hash

    parsed = load_spec(spec)
    points = parse_grid(grid)
    if out is not None:
        check_output_dir(out, "sweep")  # before the work, not after it
    if walk_forward:
        _walk_forward(parsed, points, out, strategy=strategy, sort_by=sort, backend=backend, n_workers=workers,
                      address=address, train=train, test=test, expanding=expanding, purge=purge, embargo=embargo)
        return
    result = run_sweep(parsed, points, strategy=strategy, backend=backend, n_workers=workers,
                       address=address, sort_by=sort)
    title = (f"{parsed.name}: {len(result.rows)} grid points, ranked by {sort}"
             + (" (vectorised)" if result.vectorised else f" ({backend})"))
    columns = [c for c in result.rows[0] if c not in RUIN_KEYS]
    any_ruined = any(row.get("ruined") for row in result.rows[:top])
    header = [HEADERS.get(c, c) for c in columns] + (["ruined"] if any_ruined else [])
    cells = [[_cell(c, row[c], c in result.params) for c in columns] + ([ruin_cell(row)] if any_ruined else [])
             for row in result.rows[:top]]
    out_console = console()
    for table in fitted_tables(title, header, cells, out_console.width, keep=len(result.params),
                               right=set(range(len(header))), highlight=0):
        out_console.print(table)
    luck = result.overfitting
    if luck is not None:
        pbo = "n/a" if luck["pbo"] is None else f"{luck['pbo']:.2f} ({luck['pbo_splits']} CSCV splits)"
        out_console.print(f"is the best point luck? deflated Sharpe ratio {luck['deflated_sharpe']:.3f} (the best "
                          f"Sharpe {luck['best_sharpe']:.2f} against {luck['expected_max_sharpe']:.2f} expected of "
                          f"the best of {luck['n_trials']} skill-less trials); probability of backtest overfitting "
                          f"{pbo}")
    if out is not None:
        result.write(out, spec_hash=config_hash({"spec": parsed, "grid": points, "strategy": strategy,
                                                 "sort_by": sort}))
        out_console.print(f"wrote {out}/sweep.csv" + (f", {out}/heatmap.png" if len(result.params) == 2 else ""))


def _walk_forward(parsed, points, out, **options) -> None:
    from qfin.backtests._walk_forward import run_walk_forward
    from qfin.data import config_hash

    result = run_walk_forward(parsed, points, **options)
    sort_by, settings = result.sort_by, result.settings
    window = "expanding" if settings["expanding"] else "rolling"
    title = (f"{parsed.name}: walk-forward, {settings['folds']} folds of {settings['points']} points ranked by "
             f"{sort_by} ({window} {settings['train']}-bar training, {settings['purge']} purged + "
             f"{settings['embargo']} embargo bars, {settings['test']}-bar tests)")
    header = ["fold", "test window", *result.params, f"train {HEADERS.get(sort_by, sort_by)}",
              *(f"test {HEADERS.get(m, m)}" for m in ("total_return", "sharpe", "max_drawdown"))]
    cells = [[str(f["fold"]), f"{f['test_start']} .. {f['test_end']}", *(str(f["winner"][p]) for p in result.params),
              metric_cell(sort_by, f["train_" + sort_by]),
              *(metric_cell(m, f["test"][m]) for m in ("total_return", "sharpe", "max_drawdown"))]
             for f in result.folds]
    out_console = console()
    for table in fitted_tables(title, header, cells, out_console.width, keep=2):
        out_console.print(table)
    oos = result.metrics
    out_console.print("out of sample (test windows stitched): " + ", ".join(
        f"{HEADERS.get(k, k)} {metric_cell(k, oos[k])}" for k in ("total_return", "cagr", "sharpe", "max_drawdown")))
    if out is not None:
        result.write(out, spec_hash=config_hash({"spec": parsed, "grid": points, "walk_forward": settings,
                                                 "sort_by": sort_by}))
        out_console.print(f"wrote {out}/walk_forward.json, {out}/oos_equity.parquet")


def _cell(name: str, value, is_param: bool) -> str:
    return str(value) if is_param else metric_cell(name, value)
