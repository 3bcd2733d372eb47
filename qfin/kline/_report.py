"""Writing forecasts: every sample path as CSV or Parquet, and a PNG of the context, paths and bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ._predictor import KlineForecast


def save_forecast(forecast: KlineForecast, path: str | Path) -> Path:
    """Write all sample paths (Bars schema plus ``path``) to ``.csv`` or ``.parquet``, atomically."""
    from ..data import atomic_path, write_parquet

    path = Path(path)
    frame = forecast.path_frame()
    if path.suffix == ".parquet":
        return write_parquet(frame, path)
    if path.suffix != ".csv":
        raise ValueError(f"{path}: the forecast file must end in .csv or .parquet")
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    return path


def plot_forecast(forecast: KlineForecast, context: pl.DataFrame, path: str | Path, levels=(0.8, 0.9),
                  n_paths: int = 20) -> Path:
    """PNG of the last context closes, ``n_paths`` sample paths, the median and the central close bands at
    ``levels`` (calibrated where the forecast carries a calibration)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data import atomic_path

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ctx = context.sort("timestamp").tail(3 * len(forecast.timestamps))
    ax.plot(ctx["timestamp"].to_numpy(), ctx["close"].to_numpy(), color="black", lw=1.2, label="close")
    t = forecast.timestamps
    for p in forecast.paths[:n_paths, :, 3]:
        ax.plot(t, p, color="tab:blue", lw=0.5, alpha=0.35)
    for level, alpha in zip(sorted(levels, reverse=True), (0.15, 0.3), strict=True):
        lo, hi = forecast.close_interval(level, calibrated=level in forecast.calibration)
        tag = "calibrated" if level in forecast.calibration else "raw"
        ax.fill_between(t, lo, hi, color="tab:orange", alpha=alpha, label=f"{level:.0%} band ({tag})")
    ax.plot(t, np.median(forecast.paths[..., 3], axis=0), color="tab:red", lw=1.2, label="median")
    ax.set_title(f"{forecast.symbol}: {forecast.paths.shape[0]} sample paths")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
