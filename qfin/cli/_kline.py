"""`qfin kline train|finetune|forecast|generate|evaluate`: pre-train the K-line model, fine-tune it on a series,
sample forecasts and synthetic K-lines from a checkpoint (the shipped `small` by default), evaluate it.
Thin: parse, call `qfin.kline`, print with rich."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console

kline_app = command_group("K-line foundation model: pre-train, fine-tune, forecast, generate, evaluate.")

CHECKPOINT = typer.Option("small", "--checkpoint", "-c",
                          help="A checkpoint folder (`qfin kline train` / `finetune`), or the name of a shipped "
                               "pre-trained checkpoint: small (the default).")
DATASET = typer.Option(None, "--dataset", "-d", help="Shipped dataset of bars, e.g. msft (see `qfin data list`).")
PATH = typer.Option(None, "--path", "-p", help="CSV or Parquet file of OHLCV bars (instead of --dataset).")
SYMBOL = typer.Option(None, "--symbol", help="The symbol to use when the bars hold several.")
END = typer.Option(None, "--end", help="Last date (or datetime) of the context; later bars are dropped.")
FREQ = typer.Option(None, "--freq", help="Bar frequency (1m 5m 15m 30m 1h 4h 1d 1b 1w); inferred by default.")
SEED = typer.Option(0, "--seed", help="Sampling seed: the same seed gives the same paths.")
TEMPERATURE = typer.Option(1.0, "--temperature", min=0.0, help="Sampling temperature (0: greedy).")
TOP_P = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass, in (0, 1].")
THREADS = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's choice).")


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _bars_file(out: Path) -> Path:
    from qfin.errors import SpecError

    if out.suffix not in (".csv", ".parquet"):
        raise SpecError(f"--out {out}: the file must end in .csv or .parquet")
    return out


@kline_app.command("train")
def train_command(
    config: str = typer.Argument(..., help="'small' (the shipped model's recipe), 'cpu', 'gpu', 'gpu-large', or a "
                                           "TOML/JSON file of KlineTrainConfig fields."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Checkpoint folder (default: models/artifacts/kline-<config name>)."),
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of resuming from the checkpoint."),
    device: str = typer.Option("cpu", "--device", help="Where training runs: cpu, cuda, cuda:1, ..."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    max_minutes: float = typer.Option(None, "--max-minutes", min=0.0,
                                      help="Stop after this wall-clock time (checkpointed; the same command resumes)."),
    threads: int = THREADS,
) -> None:
    """Pre-train the tokenizer, then the model; checkpoints, and resumes an interrupted run.

    CONFIG is 'cpu' (2 cores, minutes), 'gpu', or a TOML file of KlineTrainConfig fields with [tokenizer] and
    [model] tables; keys left out take the CPU defaults, unknown keys are errors."""
    from qfin.kline import load_train_config, train_kline

    printer = console()
    _set_threads(threads)
    cfg = load_train_config(config)
    out = out or Path("models") / "artifacts" / f"kline-{Path(config).stem}"
    t0 = time.perf_counter()
    try:
        result = train_kline(cfg, out, resume=not fresh, progress=progress, device=device,
                             time_limit=None if max_minutes is None else 60.0 * max_minutes)
    except KeyboardInterrupt:
        printer.print(f"interrupted; the last checkpoint is in {out}: run the same command again to resume")
        raise typer.Exit(130) from None
    printer.print(f"trained in {time.perf_counter() - t0:.1f} s -> {out}")
    if result.progress.get("stage") != "done":
        printer.print(f"stopped at the {result.progress['stage']} stage, step {result.progress['step']} (time "
                      "limit); run the same command again to resume")
    table = Table("stage", "validation losses", title="validation (after each stage)", box=box.SIMPLE_HEAD)
    for h in result.progress.get("history", []):
        if "validation" in h:
            table.add_row(h["stage"], ", ".join(f"{k} {v:.4f}" for k, v in h["validation"].items()))
    printer.print(table)


@kline_app.command("finetune")
def finetune_command(
    base: str = typer.Option("small", "--from", help="The model to start from: a shipped name (small) or a "
                                                   "checkpoint folder."),
    dataset: str = DATASET, path: Path = PATH, symbol: str = SYMBOL,
    end: str = typer.Option(None, "--end", help="Last bar used (inclusive); later bars are never read."),
    validation_fraction: float = typer.Option(0.2, "--validation-fraction", help="Last share of the bars that "
                                              "validates (early stopping, interval calibration)."),
    validation_start: str = typer.Option(None, "--validation-start",
                                         help="Validate from this date instead of --validation-fraction."),
    steps: int = typer.Option(300, "--steps", min=1, help="At most this many updates."),
    eval_every: int = typer.Option(25, "--eval-every", min=1, help="Updates between validation checks."),
    patience: int = typer.Option(4, "--patience", min=1, help="Checks without improvement before stopping."),
    lr: float = typer.Option(2e-4, "--lr", help="AdamW learning rate."),
    seed: int = SEED,
    out: Path = typer.Option(Path("models") / "artifacts" / "kline-finetuned", "--out", "-o",
                             help="Folder of the new checkpoint (the best validation weights + calibration)."),
    threads: int = THREADS,
) -> None:
    """Fine-tune a pre-trained model on one series: chronological train/validation split, early stopping on the
    validation loss, intervals re-calibrated on the validation span; writes a new checkpoint folder."""
    from qfin.kline import finetune_kline, select_bars

    _set_threads(threads)
    bars, source = select_bars(dataset, path, symbol, end)
    res = finetune_kline(bars, base=base, out_dir=out, end=end, validation_fraction=validation_fraction,
                         validation_start=validation_start, steps=steps, eval_every=eval_every, patience=patience,
                         lr=lr, seed=seed)
    sp = res.split
    console().print(f"{source}: {sp['train_bars']} train bars, {sp['validation_bars']} validation bars from "
                    f"{sp['validation_start'][:10]} to {sp['last_bar'][:10]}")
    console().print(f"validation loss {res.initial_loss:.4f} -> {res.best_loss:.4f} (best at step {res.best_step} "
                    f"of {res.steps}); intervals calibrated on the validation span; checkpoint {out}")


@kline_app.command("forecast")
def forecast_command(
    checkpoint: Path = CHECKPOINT, dataset: str = DATASET, path: Path = PATH, symbol: str = SYMBOL, end: str = END,
    pred_len: int = typer.Option(16, "--pred-len", "-n", min=1, help="Bars to forecast."),
    samples: int = typer.Option(64, "--samples", "-s", min=1, help="Sample paths (all are written)."),
    seed: int = SEED, temperature: float = TEMPERATURE, top_p: float = TOP_P, freq: str = FREQ,
    repair: bool = typer.Option(True, "--repair/--no-repair", help="Enforce low <= open, close <= high."),
    calibrate_start: str = typer.Option(
        None, "--calibrate-start",
        help="Calibrate the 80%/90% intervals (split conformal) on the bars from this date to --end."),
    out: Path = typer.Option(Path("runs") / "kline" / "forecast.csv", "--out", "-o",
                             help="Sample paths, .csv or .parquet; an HTML report and its PNG go beside it."),
    threads: int = THREADS,
) -> None:
    """Sample paths of the bars after the context; writes every path, an HTML report and a PNG of paths and bands."""
    from qfin.kline import KlinePredictor, bars_from, check_sampling, save_forecast, select_bars, write_forecast_report

    _set_threads(threads)
    out = _bars_file(out)
    check_sampling(temperature, top_p)
    bars, source = select_bars(dataset, path, symbol, end)
    predictor = KlinePredictor.load(checkpoint)
    if calibrate_start is not None:
        predictor.calibrate(bars_from(bars, calibrate_start), pred_len, samples=samples, seed=seed + 1)
    fc = predictor.predict(bars, pred_len=pred_len, samples=samples, temperature=temperature, top_p=top_p,
                           seed=seed, freq=freq, repair=repair)
    save_forecast(fc, out)
    page = write_forecast_report(out.with_suffix(".html"), fc, bars, notes={"source": source})
    calibrated = 0.8 in fc.calibration
    lo, hi = fc.close_interval(0.8, calibrated=calibrated)
    median = fc.median()["close"].to_numpy()
    table = Table("step", "timestamp", "median close", f"80% band ({'calibrated' if calibrated else 'raw'})",
                  title=f"{fc.symbol} from {source}: last close {fc.last_close:.4g} on {bars['timestamp'][-1]}",
                  box=box.SIMPLE_HEAD)
    for i, t in enumerate(fc.timestamps):
        table.add_row(str(i + 1), str(t)[:19].replace("T", " "), f"{median[i]:.4g}", f"{lo[i]:.4g} .. {hi[i]:.4g}")
    console().print(table)
    console().print(f"wrote {samples} paths x {pred_len} bars to {out}; report {page}, plot {page.with_suffix('.png')}")


@kline_app.command("generate")
def generate_command(
    checkpoint: Path = CHECKPOINT, dataset: str = DATASET, path: Path = PATH, symbol: str = SYMBOL, end: str = END,
    steps: int = typer.Option(64, "--steps", "-n", min=1, help="Bars per synthetic K-line."),
    paths: int = typer.Option(16, "--paths", min=1, help="Synthetic K-lines (symbols <symbol>~0, ~1, ...)."),
    seed: int = SEED, temperature: float = TEMPERATURE, top_p: float = TOP_P, freq: str = FREQ,
    out: Path = typer.Option(Path("runs") / "kline" / "generated.csv", "--out", "-o",
                             help="Synthetic bars, .csv or .parquet; a PNG of the paths goes beside it."),
    threads: int = THREADS,
) -> None:
    """Synthetic K-lines continuing the context, in the Bars schema; writes them and a PNG.

    Every bar is OHLC-consistent; the stylized facts of the generated returns are printed next to those of the
    real bars up to --end."""
    from qfin.kline import KlinePredictor, check_sampling, compare_generated, plot_forecast, save_bars, select_bars

    _set_threads(threads)
    out = _bars_file(out)
    check_sampling(temperature, top_p)
    bars, source = select_bars(dataset, path, symbol, end)
    predictor = KlinePredictor.load(checkpoint)
    frame = predictor.generate(bars, n_steps=steps, n_paths=paths, seed=seed, temperature=temperature,
                               top_p=top_p, freq=freq)
    save_bars(frame, out)
    fc, facts = compare_generated(frame, bars, paths, steps)
    png = plot_forecast(fc, bars, out.with_suffix(".png"))
    table = Table("", "daily std", "excess kurtosis", "|r| autocorr 1-5", "leverage corr(r, |r+1|)",
                  title=f"stylized facts: {source} ({bars.height - 1} returns) vs {paths} x {steps} generated",
                  box=box.SIMPLE_HEAD)
    for name, f in facts.items():
        table.add_row(name, f"{f['std']:.4f}", f"{f['excess_kurtosis']:.2f}", f"{f['abs_acf_1_5']:.3f}",
                      f"{f['leverage']:.3f}")
    console().print(table)
    console().print(f"wrote {paths} synthetic K-lines x {steps} bars to {out}; plot {png}")


@kline_app.command("evaluate")
def evaluate_command(
    checkpoint: Path = CHECKPOINT,
    datasets: list[str] = typer.Option(None, "--dataset", "-d",
                                       help="Series to evaluate (repeatable; default: the config's datasets)."),
    pred_len: int = typer.Option(None, "--pred-len", "-n", min=1, help="Horizon (default: the config's)."),
    samples: int = typer.Option(64, "--samples", "-s", min=2, help="Sample paths per forecast origin."),
    seed: int = typer.Option(None, "--seed", help="Sampling seed (default: the config's)."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Folder for evaluation.json and evaluation.html (default: the checkpoint folder, "
                                  "or runs/kline/evaluation-<name> for a shipped checkpoint)."),
    threads: int = THREADS,
) -> None:
    """Evaluate a checkpoint on each series' test span; prints the table, writes evaluation.json and .html.

    The intervals are calibrated on the validation span (train_end, validation_end], then forecasts run from
    rolling origins after validation_end: volatility MAE vs persistence / trailing / GARCH(1,1), return IC and
    RankIC with standard errors, 80% and 90% coverage, CRPS and the discriminative score. Defaults: the config's
    datasets and its held-out ones."""
    from qfin.kline import (
        EVALUATION_ROWS,
        evaluate_checkpoint,
        evaluation_cell,
        save_evaluation,
        write_evaluation_report,
    )

    printer = console()
    _set_threads(threads)
    from qfin.kline import KlinePredictor, evaluation_datasets
    from qfin.progress import progress_bar

    predictor = KlinePredictor.load(checkpoint)
    names = list(datasets) if datasets else evaluation_datasets(predictor.config)
    shipped = not Path(checkpoint).is_dir()
    out = out or (Path("runs") / "kline" / f"evaluation-{checkpoint}" if shipped else Path(checkpoint))

    with progress_bar(len(names), f"evaluating {len(names)} series") as advance:
        def done(name: str, seconds: float) -> None:
            printer.print(f"evaluated {name} in {seconds:.1f} s")
            advance()

        results = evaluate_checkpoint(predictor, names, pred_len, samples, seed, on_series=done)
    written = save_evaluation(results, out)
    page = write_evaluation_report(out, results)
    horizon = next(iter(results.values()))["pred_len"]
    table = Table("metric", *results, title=f"K-line evaluation on the test span (pred_len {horizon}, "
                  f"{samples} paths)", box=box.SIMPLE_HEAD)
    for label, keys in EVALUATION_ROWS:
        table.add_row(label, *(evaluation_cell(results[n], keys) for n in results))
    printer.print(table)
    printer.print(f"wrote {written} and {page}")
