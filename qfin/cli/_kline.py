"""`qfin kline train|forecast|generate|evaluate`: pre-train the K-line model, sample forecasts and synthetic
K-lines from a checkpoint, evaluate it on the test span. Thin: parse, call `qfin.kline`, print with rich."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console

kline_app = command_group("K-line foundation model: pre-train, forecast, generate, evaluate.")

OUTPUT_SUFFIXES = (".csv", ".parquet")
_SCALARS = {"int": int, "float": (int, float), "str": str, "bool": bool}

# -- shared options -----------------------------------------------------------------------------------------
CHECKPOINT = typer.Option(Path("models") / "artifacts" / "kline-cpu", "--checkpoint", "-c",
                          help="Checkpoint folder written by `qfin kline train`.")
DATASET = typer.Option(None, "--dataset", "-d", help="Shipped dataset of bars, e.g. msft (see `qfin data list`).")
PATH = typer.Option(None, "--path", "-p", help="CSV or Parquet file of OHLCV bars (instead of --dataset).")
SYMBOL = typer.Option(None, "--symbol", help="The symbol to use when the bars hold several.")
END = typer.Option(None, "--end", help="Last date (or datetime) of the context; later bars are dropped.")
FREQ = typer.Option(None, "--freq", help="Bar frequency (1m 5m 15m 30m 1h 4h 1d 1b 1w); inferred by default.")
SEED = typer.Option(0, "--seed", help="Sampling seed: the same seed gives the same paths.")
TEMPERATURE = typer.Option(1.0, "--temperature", min=0.0, help="Sampling temperature (0: greedy).")
TOP_P = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass, in (0, 1].")
THREADS = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's choice).")
TRAIN_OUT = typer.Option(None, "--out", "-o",
                         help="Checkpoint folder (default: models/artifacts/kline-<config name>).")
FORECAST_OUT = typer.Option(Path("runs") / "kline" / "forecast.csv", "--out", "-o",
                            help="Sample paths, .csv or .parquet; a PNG of paths and bands goes beside it.")
GENERATE_OUT = typer.Option(Path("runs") / "kline" / "generated.csv", "--out", "-o",
                            help="Synthetic bars, .csv or .parquet; a PNG of the paths goes beside it.")
EVAL_DATASETS = typer.Option(None, "--dataset", "-d",
                             help="Series to evaluate (repeatable; default: the config's datasets).")
EVAL_OUT = typer.Option(None, "--out", "-o", help="Folder for evaluation.json (default: the checkpoint).")


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def read_train_config(spec: str):
    """A :class:`KlineTrainConfig` from ``cpu``, ``gpu`` or a TOML/JSON file of its fields (nested
    ``[tokenizer]`` and ``[model]`` tables; missing keys take the CPU defaults, unknown keys are errors)."""
    import tomllib

    from qfin.errors import QfinError, SpecError
    from qfin.kline import KlineTrainConfig, cpu_config, gpu_config

    if spec in ("cpu", "gpu"):
        return cpu_config() if spec == "cpu" else gpu_config()
    path = Path(spec)
    if not path.is_file():
        raise SpecError(f"{spec}: no such config file; pass 'cpu', 'gpu' or a TOML (or JSON) file of "
                        f"KlineTrainConfig fields")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise SpecError(f"{path}: a config must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: not valid {path.suffix[1:].upper()}: {err}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the config must be a table of KlineTrainConfig fields")
    _check_types(data, KlineTrainConfig, str(path))
    for part in ("tokenizer", "model"):
        if part in data:
            if not isinstance(data[part], dict):
                raise SpecError(f"{path}: '{part}' must be a table ([{part}]); got {data[part]!r}")
            cls = type(getattr(KlineTrainConfig(), part))
            _check_types(data[part], cls, f"{path} [{part}]")
    try:
        return KlineTrainConfig.from_dict(data)
    except QfinError as err:
        raise SpecError(f"{path}: {err}") from None
    except (TypeError, ValueError) as err:
        raise SpecError(f"{path}: {err}") from None


def _check_types(data: dict, cls, where: str) -> None:
    """Scalar fields must hold their declared type (a float lookback would fail deep inside training)."""
    import dataclasses

    from qfin.errors import SpecError

    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, kind = data[f.name], _SCALARS.get(str(f.type))
        wrong = (kind is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))))
        if str(f.type).startswith("tuple[str") and not (isinstance(value, list)
                                                        and all(isinstance(v, str) for v in value)):
            wrong = True
        if wrong:
            raise SpecError(f"{where}: key '{f.name}' must be {f.type}; got {value!r}")


def _input_bars(dataset: str | None, path: Path | None, symbol: str | None, end: str | None):
    """The bars named on the command line: one symbol, cut at ``end`` (inclusive; a date keeps that whole day)."""
    import polars as pl

    from qfin.data import load_dataset, read_bars
    from qfin.errors import SpecError

    if (dataset is None) == (path is None):
        raise SpecError("pass exactly one of --dataset NAME or --path FILE")
    if dataset is not None:
        bars = load_dataset(dataset)
        if not {"timestamp", "symbol", "close"} <= set(bars.columns):
            raise SpecError(f"--dataset {dataset}: not a dataset of OHLCV bars (columns {bars.columns[:6]}...)")
        source = dataset
    else:
        bars = read_bars(path, symbol=symbol)
        source = str(path)
    symbols = bars["symbol"].unique(maintain_order=True).to_list()
    if symbol is not None and dataset is not None:
        if symbol not in symbols:
            raise SpecError(f"--symbol {symbol}: not in {source}; it holds {symbols[:20]}")
        bars = bars.filter(pl.col("symbol") == symbol)
    elif len(symbols) > 1:
        raise SpecError(f"{source} holds {len(symbols)} symbols {symbols[:20]}; pick one with --symbol")
    bars = bars.sort("timestamp")
    if end is not None:
        first = bars["timestamp"].min()
        bars = bars.filter(_naive_timestamp(bars) <= _date_bound(end, "--end", whole_day=True))
        if bars.height == 0:
            raise SpecError(f"--end {end}: no bars on or before it in {source} (it starts at {first})")
    return bars, source


def _date_bound(text: str, option: str, whole_day: bool):
    """``text`` as a datetime; with ``whole_day``, a bare date means the last microsecond of that day."""
    import numpy as np

    from qfin.errors import SpecError

    try:
        t = np.datetime64(text)
    except ValueError:
        raise SpecError(f"{option} {text!r}: not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if whole_day and np.datetime_data(t.dtype)[0] in ("Y", "M", "W", "D"):
        return (t.astype("datetime64[D]") + np.timedelta64(1, "D") - np.timedelta64(1, "us")).item()
    return t.astype("datetime64[us]").item()


def _naive_timestamp(bars):
    """The timestamp column as an expression comparable with naive datetimes (UTC wall time if tz-aware)."""
    import polars as pl

    ts = pl.col("timestamp")
    return ts.dt.replace_time_zone(None) if getattr(bars["timestamp"].dtype, "time_zone", None) else ts


def _check_device(device: str) -> None:
    import torch

    from qfin.errors import SpecError

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise SpecError(f"--device {device!r}: not a torch device; use cpu, cuda or cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise SpecError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA device; use --device cpu")


def _check_top_p(top_p: float) -> None:
    from qfin.errors import SpecError

    if not 0.0 < top_p <= 1.0:
        raise SpecError(f"--top-p {top_p}: must be in (0, 1]; 1 samples from the whole distribution")


def _output_path(out: Path) -> Path:
    from qfin.errors import SpecError

    if out.suffix not in OUTPUT_SUFFIXES:
        raise SpecError(f"--out {out}: the file must end in .csv or .parquet")
    return out


# -- train --------------------------------------------------------------------------------------------------
@kline_app.command("train")
def train_command(
    config: str = typer.Argument(..., help="'cpu', 'gpu', or a TOML/JSON file of KlineTrainConfig fields."),
    out: Path = TRAIN_OUT,
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of resuming from the checkpoint."),
    device: str = typer.Option("cpu", "--device", help="Where training runs: cpu, cuda, cuda:1, ..."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    threads: int = THREADS,
) -> None:
    """Pre-train the tokenizer, then the model; checkpoints, and resumes an interrupted run.

    CONFIG is 'cpu' (2 cores, minutes), 'gpu', or a TOML file of KlineTrainConfig fields with [tokenizer] and
    [model] tables; keys left out take the CPU defaults, unknown keys are errors."""
    from qfin.kline import train_kline

    printer = console()
    _set_threads(threads)
    cfg = read_train_config(config)
    _check_device(device)
    out = out or Path("models") / "artifacts" / f"kline-{Path(config).stem}"
    t0 = time.perf_counter()
    try:
        result = train_kline(cfg, out, resume=not fresh, progress=progress, device=device)
    except KeyboardInterrupt:
        printer.print(f"interrupted; the last checkpoint is in {out}: run the same command again to resume")
        raise typer.Exit(130) from None
    printer.print(f"trained in {time.perf_counter() - t0:.1f} s -> {out}")
    table = Table("stage", "validation losses", title="validation (after each stage)", box=box.SIMPLE_HEAD)
    for h in result.progress.get("history", []):
        if "validation" in h:
            table.add_row(h["stage"], ", ".join(f"{k} {v:.4f}" for k, v in h["validation"].items()))
    printer.print(table)


# -- forecast -----------------------------------------------------------------------------------------------
@kline_app.command("forecast")
def forecast_command(
    checkpoint: Path = CHECKPOINT,
    dataset: str = DATASET,
    path: Path = PATH,
    symbol: str = SYMBOL,
    end: str = END,
    pred_len: int = typer.Option(16, "--pred-len", "-n", min=1, help="Bars to forecast."),
    samples: int = typer.Option(64, "--samples", "-s", min=1, help="Sample paths (all are written)."),
    seed: int = SEED,
    temperature: float = TEMPERATURE,
    top_p: float = TOP_P,
    freq: str = FREQ,
    repair: bool = typer.Option(True, "--repair/--no-repair", help="Enforce low <= open, close <= high."),
    calibrate_start: str = typer.Option(
        None, "--calibrate-start",
        help="Calibrate the 80%/90% intervals (split conformal) on the bars from this date to --end."),
    out: Path = FORECAST_OUT,
    threads: int = THREADS,
) -> None:
    """Sample paths of the bars after the context; writes every path and a PNG of paths and bands."""
    from qfin.kline import KlinePredictor, plot_forecast, save_forecast

    printer = console()
    _set_threads(threads)
    out = _output_path(out)
    _check_top_p(top_p)
    bars, source = _input_bars(dataset, path, symbol, end)
    predictor = KlinePredictor.from_checkpoint(checkpoint)
    if calibrate_start is not None:
        span, _ = _input_bars(dataset, path, symbol, end)
        span = _from_date(span, calibrate_start)
        predictor.calibrate(span, pred_len, samples=samples, seed=seed + 1)
    fc = predictor.predict(bars, pred_len=pred_len, samples=samples, temperature=temperature, top_p=top_p,
                           seed=seed, freq=freq, repair=repair)
    save_forecast(fc, out)
    png = plot_forecast(fc, bars, out.with_suffix(".png"))
    calibrated = 0.8 in fc.calibration
    lo, hi = fc.close_interval(0.8, calibrated=calibrated)
    median = fc.median()["close"].to_numpy()
    table = Table("step", "timestamp", "median close", f"80% band ({'calibrated' if calibrated else 'raw'})",
                  title=f"{fc.symbol} from {source}: last close {fc.last_close:.4g} on {bars['timestamp'][-1]}",
                  box=box.SIMPLE_HEAD)
    for i, t in enumerate(fc.timestamps):
        table.add_row(str(i + 1), str(t)[:19].replace("T", " "), f"{median[i]:.4g}", f"{lo[i]:.4g} .. {hi[i]:.4g}")
    printer.print(table)
    printer.print(f"wrote {samples} paths x {pred_len} bars to {out}; plot {png}")


def _from_date(bars, start: str):
    return bars.filter(_naive_timestamp(bars) >= _date_bound(start, "--calibrate-start", whole_day=False))


# -- generate -----------------------------------------------------------------------------------------------
@kline_app.command("generate")
def generate_command(
    checkpoint: Path = CHECKPOINT,
    dataset: str = DATASET,
    path: Path = PATH,
    symbol: str = SYMBOL,
    end: str = END,
    steps: int = typer.Option(64, "--steps", "-n", min=1, help="Bars per synthetic K-line."),
    paths: int = typer.Option(16, "--paths", min=1, help="Synthetic K-lines (symbols <symbol>~0, ~1, ...)."),
    seed: int = SEED,
    temperature: float = TEMPERATURE,
    top_p: float = TOP_P,
    freq: str = FREQ,
    out: Path = GENERATE_OUT,
    threads: int = THREADS,
) -> None:
    """Synthetic K-lines continuing the context, in the Bars schema; writes them and a PNG.

    Every bar is OHLC-consistent; the stylized facts of the generated returns are printed next to those of the
    real bars up to --end."""
    import numpy as np

    from qfin.data import atomic_path, write_parquet
    from qfin.kline import (
        FEATURES,
        KlineForecast,
        KlinePredictor,
        plot_forecast,
        stylized_facts,
    )

    printer = console()
    _set_threads(threads)
    out = _output_path(out)
    _check_top_p(top_p)
    bars, source = _input_bars(dataset, path, symbol, end)
    predictor = KlinePredictor.from_checkpoint(checkpoint)
    frame = predictor.generate(bars, n_steps=steps, n_paths=paths, seed=seed, temperature=temperature,
                               top_p=top_p, freq=freq)
    if out.suffix == ".parquet":
        write_parquet(frame, out)
    else:
        with atomic_path(out) as tmp:
            frame.write_csv(tmp)
    # generate() writes path after path, each `steps` bars long, in time order
    values = frame.select(FEATURES).to_numpy().reshape(paths, steps, len(FEATURES))
    last_close = float(bars["close"][-1])
    fc = KlineForecast(paths=values, timestamps=frame["timestamp"].to_numpy()[:steps],
                       symbol=str(bars["symbol"][0]), last_close=last_close)
    png = plot_forecast(fc, bars, out.with_suffix(".png"))
    closes = np.concatenate([np.full((paths, 1), last_close), values[..., 3]], axis=1)
    fake = np.diff(np.log(closes), axis=1)
    real = np.diff(np.log(bars["close"].to_numpy()))[None]
    facts = {"real": stylized_facts(real), "generated": stylized_facts(fake)}
    table = Table("", "daily std", "excess kurtosis", "|r| autocorr 1-5", "leverage corr(r, |r+1|)",
                  title=f"stylized facts: {source} ({real.shape[1]} returns) vs {paths} x {steps} generated",
                  box=box.SIMPLE_HEAD)
    for name, f in facts.items():
        table.add_row(name, f"{f['std']:.4f}", f"{f['excess_kurtosis']:.2f}", f"{f['abs_acf_1_5']:.3f}",
                      f"{f['leverage']:.3f}")
    printer.print(table)
    printer.print(f"wrote {paths} synthetic K-lines x {steps} bars to {out}; plot {png}")


# -- evaluate -----------------------------------------------------------------------------------------------
ROWS = (("vol MAE kline", ("volatility", "kline", "mae")), ("vol MAE GARCH(1,1)", ("volatility", "garch11", "mae")),
        ("vol MAE persistence", ("volatility", "persistence", "mae")),
        ("vol MAE trailing", ("volatility", "trailing", "mae")), ("vol R^2 kline", ("volatility", "kline", "r2")),
        ("return IC", ("return", "ic")), ("return RankIC", ("return", "rank_ic")),
        ("RankIC std error", ("return", "rank_ic_se")),
        ("80% coverage raw", ("coverage", "0.8", "raw")),
        ("80% coverage calibrated", ("coverage", "0.8", "calibrated")),
        ("90% coverage raw", ("coverage", "0.9", "raw")),
        ("90% coverage calibrated", ("coverage", "0.9", "calibrated")),
        ("90% coverage Gaussian RW", ("coverage", "0.9", "gaussian_rw")),
        ("CRPS kline", ("crps", "kline")), ("CRPS Gaussian RW", ("crps", "gaussian_rw")),
        ("discriminative score", ("generation", "discriminative_score")), ("origins", ("n_origins",)))


def _dig(result: dict, keys: tuple[str, ...]) -> str:
    for k in keys:
        if not isinstance(result, dict) or k not in result:
            return "n/a"
        result = result[k]
    return str(result) if isinstance(result, int) else f"{result:.4g}"


@kline_app.command("evaluate")
def evaluate_command(
    checkpoint: Path = CHECKPOINT,
    datasets: list[str] = EVAL_DATASETS,
    pred_len: int = typer.Option(None, "--pred-len", "-n", min=1, help="Horizon (default: the config's)."),
    samples: int = typer.Option(64, "--samples", "-s", min=2, help="Sample paths per forecast origin."),
    seed: int = typer.Option(None, "--seed", help="Sampling seed (default: the config's)."),
    out: Path = EVAL_OUT,
    threads: int = THREADS,
) -> None:
    """Evaluate a checkpoint on each series' test span; prints the table, writes evaluation.json.

    The intervals are calibrated on the validation span (train_end, validation_end], then forecasts run from
    rolling origins after validation_end: volatility MAE vs persistence / trailing / GARCH(1,1), return IC and
    RankIC with standard errors, 80% and 90% coverage, CRPS and the discriminative score."""
    import numpy as np
    import polars as pl

    from qfin.data import atomic_path
    from qfin.errors import SpecError
    from qfin.kline import KlinePredictor, evaluate_kline

    printer = console()
    _set_threads(threads)
    predictor = KlinePredictor.from_checkpoint(checkpoint)
    cfg = predictor.config
    pred_len = pred_len or cfg.horizon
    seed = cfg.seed if seed is None else seed
    results = {}
    for name in datasets or cfg.datasets:
        t0 = time.perf_counter()
        bars, _ = _input_bars(name, None, None, None)
        ts = bars["timestamp"].cast(pl.Datetime("us")).to_numpy()
        val_start = ts[ts >= np.datetime64(cfg.train_end, "D") + np.timedelta64(1, "D")]
        test_start = ts[ts >= np.datetime64(cfg.validation_end, "D") + np.timedelta64(1, "D")]
        if len(test_start) < cfg.lookback + pred_len + 1 or len(val_start) - len(test_start) <= cfg.lookback + pred_len:
            raise SpecError(f"{name}: too few bars after train_end {cfg.train_end} / validation_end "
                            f"{cfg.validation_end} for lookback {cfg.lookback} + pred_len {pred_len}")
        results[name] = evaluate_kline(predictor, bars, test_start[0], val_start[0], pred_len=pred_len,
                                       samples=samples, seed=seed)
        printer.print(f"evaluated {name} in {time.perf_counter() - t0:.1f} s")
    out = out or checkpoint
    with atomic_path(out / "evaluation.json") as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2))
    table = Table("metric", *results, title=f"K-line evaluation on the test span (pred_len {pred_len}, "
                  f"{samples} paths)", box=box.SIMPLE_HEAD)
    for label, keys in ROWS:
        table.add_row(label, *(_dig(results[n], keys) for n in results))
    printer.print(table)
    printer.print(f"wrote {out / 'evaluation.json'}")
