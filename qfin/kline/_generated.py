"""Synthetic K-lines as files and as a comparison: written like forecasts (CSV or Parquet, atomically), viewed
as a :class:`KlineForecast` for the plot, and their stylized facts beside the real bars'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ._evaluate import stylized_facts
from ._normalize import FEATURES
from ._predictor import KlineForecast

__all__ = ["compare_generated", "save_bars"]


def save_bars(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write bars to ``.csv`` or ``.parquet`` (by the suffix), atomically."""
    from ..data import atomic_path, write_parquet

    path = Path(path)
    if path.suffix == ".parquet":
        return write_parquet(frame, path)
    if path.suffix != ".csv":
        raise ValueError(f"{path}: the file must end in .csv or .parquet")
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    return path


def compare_generated(generated: pl.DataFrame, context: pl.DataFrame, n_paths: int, n_steps: int
                      ) -> tuple[KlineForecast, dict[str, dict[str, float]]]:
    """(the generated paths as a forecast from the context's last close, ``{"real": facts, "generated":
    facts}``) for ``generated`` as :meth:`KlinePredictor.generate` returns it: path after path, each
    ``n_steps`` bars long, in time order."""
    values = generated.select(FEATURES).to_numpy().reshape(n_paths, n_steps, len(FEATURES))
    last_close = float(context["close"][-1])
    forecast = KlineForecast(paths=values, timestamps=generated["timestamp"].to_numpy()[:n_steps],
                             symbol=str(context["symbol"][0]), last_close=last_close)
    closes = np.concatenate([np.full((n_paths, 1), last_close), values[..., 3]], axis=1)
    real = np.diff(np.log(context["close"].to_numpy()))[None]
    return forecast, {"real": stylized_facts(real), "generated": stylized_facts(np.diff(np.log(closes), axis=1))}
