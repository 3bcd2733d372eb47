"""`qfin tune SPEC.toml --out DIR [--resume] [--address ...]`: a Ray Tune search over one of qfin's jobs."""

from __future__ import annotations

from pathlib import Path

import typer

from qfin.cli._tables import console, fitted_tables


def tune_command(
    spec: Path = typer.Argument(..., help="Tune spec (TOML): job, metric, mode, [config], [space]; see "
                                          "qfin/parallel/_tune_spec.py. Jobs: sweep, hedger."),
    out: Path = typer.Option(Path("runs") / "tune", "--out", "-o",
                             help="Folder for Tune's checkpoints (tune/), trials.parquet and report.html."),
    resume: bool = typer.Option(False, "--resume", help="Go on with the search saved in --out (after Ctrl-C or "
                                                        "a crash); finished trials are kept."),
    address: str = typer.Option(None, "--address", help="Ray cluster address (default: start a local Ray)."),
    top: int = typer.Option(20, "--top", min=1, help="Rows to print."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Search the spec's space over its job with Ray Tune (ASHA or FIFO), print the trials best first, write
    trials.parquet, iterations.parquet, tune.json and report.html."""
    from qfin.cli._jobs import JOBS
    from qfin.data import check_output_dir, config_hash
    from qfin.errors import QfinError, SpecError
    from qfin.parallel._tune import run_tune
    from qfin.parallel._tune_spec import load_tune_spec

    parsed, base = load_tune_spec(spec)
    if parsed.job not in JOBS:
        raise SpecError(f"{spec}: job {parsed.job!r} is unknown; accepted: {', '.join(sorted(JOBS))}")
    parsed = _resolve_paths(parsed, base)
    names = ["trials.parquet", "iterations.parquet", "tune.json", "report.html"]
    check_output_dir(out, "tune", files=names)  # before the search, not after it
    result = run_tune(JOBS[parsed.job], parsed, out, address=address, resume=resume, progress=progress,
                      where=str(spec))
    printer = console()
    if result.interrupted:
        printer.print(f"interrupted: the search is saved in {out}/tune; run the same command with --resume to "
                      "go on (finished trials are kept)")
        raise typer.Exit(130)
    trials = result.trials
    if trials["error"].is_not_null().all():
        raise QfinError(f"every trial failed; the first: {trials['error'][0]}")
    _print(printer, result, top)
    result.write(out, spec_hash=config_hash(parsed))
    printer.print(f"wrote {out}/trials.parquet, {out}/report.html")


def _resolve_paths(spec, base: Path):
    """A sweep's ``spec`` path is relative to the tune spec's folder; trials run elsewhere, so make it absolute."""
    if spec.job == "sweep" and isinstance(spec.config.get("spec"), str):
        path = Path(spec.config["spec"])
        return spec.model_copy(update={"config": {**spec.config, "spec": str((base / path).resolve())}})
    return spec


def _print(printer, result, top: int) -> None:
    spec, trials = result.spec, result.trials
    metric = spec.metric
    columns = ["trial_id", *result.params, metric, f"best_{metric}", "iterations", "error"]
    shown = [c for c in columns if c != "error" or trials["error"].is_not_null().any()]
    best_id = None if result.best is None else result.best["trial_id"]
    rows = sorted(trials.iter_rows(named=True), key=lambda r: r["trial_id"] != best_id)[:top]
    cells = [[_cell(r[c]) for c in shown] for r in rows]
    title = (f"{spec.job}: {trials.height} trials, {metric} ({spec.mode}), {spec.scheduler}; "
             f"{result.stopped_early} stopped early")
    for table in fitted_tables(title, shown, cells, printer.width, keep=1 + len(result.params),
                               right=set(range(1, len(shown))), highlight=0 if best_id is not None else None):
        printer.print(table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
