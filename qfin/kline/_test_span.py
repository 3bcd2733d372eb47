"""A checkpoint evaluated on each series' test span, at the config's own split boundaries: what
``qfin kline evaluate`` and ``models/pretrain_kline.py --evaluate`` both run, and the rows they print."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from ..errors import SpecError

__all__ = ["EVALUATION_ROWS", "evaluate_checkpoint", "evaluation_cell", "evaluation_datasets", "save_evaluation"]

EVALUATION_ROWS = (
    ("vol MAE kline", ("volatility", "kline", "mae")), ("vol MAE GARCH(1,1)", ("volatility", "garch11", "mae")),
    ("vol MAE HAR-RV", ("volatility", "har_rv", "mae")),
    ("vol MAE range (Garman-Klass)", ("volatility", "range", "mae")),
    ("vol MAE persistence", ("volatility", "persistence", "mae")),
    ("vol MAE trailing", ("volatility", "trailing", "mae")), ("vol R^2 kline", ("volatility", "kline", "r2")),
    ("return IC", ("return", "ic")), ("return RankIC", ("return", "rank_ic")),
    ("RankIC std error", ("return", "rank_ic_se")),
    ("80% coverage raw", ("coverage", "0.8", "raw")), ("80% coverage calibrated", ("coverage", "0.8", "calibrated")),
    ("90% coverage raw", ("coverage", "0.9", "raw")), ("90% coverage calibrated", ("coverage", "0.9", "calibrated")),
    ("90% coverage Gaussian RW", ("coverage", "0.9", "gaussian_rw")),
    ("CRPS kline", ("crps", "kline")), ("CRPS Gaussian RW", ("crps", "gaussian_rw")),
    ("discriminative score", ("generation", "discriminative_score")), ("origins", ("n_origins",)))
"""(label, path of keys into one series' result) of every figure the evaluation table shows."""


def evaluation_cell(result: dict, keys: tuple[str, ...]) -> str:
    """One figure of a series' result, formatted (``n/a`` where the result lacks it)."""
    for k in keys:
        if not isinstance(result, dict) or k not in result:
            return "n/a"
        result = result[k]
    if result is None:
        return "n/a"
    return str(result) if isinstance(result, int) else f"{result:.4g}"


def evaluation_datasets(config) -> list[str]:
    """The series a checkpoint is evaluated on by default: its training datasets, then its held-out ones."""
    return [*config.datasets, *config.held_out]


def evaluate_checkpoint(checkpoint, datasets: list[str] | None = None, pred_len: int | None = None,
                        samples: int = 64, seed: int | None = None,
                        on_series: Callable[[str, float], object] | None = None) -> dict[str, dict]:
    """``{series: evaluate_kline result}`` for each of ``datasets`` (default: :func:`evaluation_datasets`) of
    ``checkpoint`` (a folder, a shipped name such as ``"small"``, or a :class:`KlinePredictor`): intervals calibrated
    on the validation span, forecasts from origins in the test span, both cut by :func:`qfin.data.time_split`
    at the config's ``train_end`` / ``validation_end``. ``pred_len`` and ``seed`` default to the config's;
    ``on_series(name, seconds)`` is called after each series."""
    from ..data import time_split
    from ._evaluate import evaluate_kline
    from ._inputs import select_bars
    from ._predictor import KlinePredictor

    predictor = checkpoint if isinstance(checkpoint, KlinePredictor) else KlinePredictor.load(checkpoint)
    cfg = predictor.config
    pred_len = pred_len or cfg.horizon
    seed = cfg.seed if seed is None else seed
    results = {}
    for name in datasets or evaluation_datasets(cfg):
        t0 = time.perf_counter()
        bars, _ = select_bars(dataset=name)
        ts = bars["timestamp"].cast(pl.Datetime("us")).to_numpy()
        split = time_split(ts, cfg.train_end, cfg.validation_end)
        if len(split.test) < cfg.lookback + pred_len + 1 or len(split.validation) <= cfg.lookback + pred_len:
            raise SpecError(f"{name}: too few bars after train_end {cfg.train_end} / validation_end "
                            f"{cfg.validation_end} for lookback {cfg.lookback} + pred_len {pred_len}")
        results[name] = evaluate_kline(predictor, bars, ts[split.test[0]], ts[split.validation[0]],
                                       pred_len=pred_len, samples=samples, seed=seed)
        if on_series is not None:
            on_series(name, time.perf_counter() - t0)
    return results


def save_evaluation(results: dict[str, dict], out_dir: str | Path) -> Path:
    """Write ``results`` to ``out_dir/evaluation.json`` atomically (a NaN figure as null); returns the path."""
    from ..data import atomic_path, strict_json

    path = Path(out_dir) / "evaluation.json"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(strict_json(results))
    return path
