"""Writing forecasts and evaluations: every sample path as CSV or Parquet, a PNG of the context, paths and
bands, and HTML reports (:mod:`qfin.report`) of a forecast and of an evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from .. import report
from ._predictor import KlineForecast

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Close quantiles over the sample paths tabulated per step in the forecast report."""


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


def save_forecast(forecast: KlineForecast, path: str | Path) -> Path:
    """Write all sample paths (Bars schema plus ``path``) to ``.csv`` or ``.parquet``, atomically."""
    return save_bars(forecast.path_frame(), path)


def forecast_png(forecast: KlineForecast, context: pl.DataFrame, levels=(0.8, 0.9), n_paths: int = 20) -> bytes:
    """PNG bytes of the last context closes, ``n_paths`` sample paths, the median and the central close bands at
    the two ``levels`` (calibrated where the forecast carries a calibration)."""
    fig = report.new_figure(9, 4.5)
    ax = fig.add_subplot()
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
    ax.set_title(report.figure_text(f"{forecast.symbol}: {forecast.paths.shape[0]} sample paths"))
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return report.png_bytes(fig, dpi=110, tight=True)


def plot_forecast(forecast: KlineForecast, context: pl.DataFrame, path: str | Path, levels=(0.8, 0.9),
                  n_paths: int = 20) -> Path:
    """Write :func:`forecast_png` to ``path`` (a temporary name, then renamed); return ``path``."""
    path = Path(path)
    report.write_files(path.parent, {path.name: forecast_png(forecast, context, levels, n_paths)})
    return path


def write_forecast_report(path: str | Path, forecast: KlineForecast, context: pl.DataFrame, *, levels=(0.8, 0.9),
                          n_paths: int = 20, notes: Mapping[str, object] | None = None) -> Path:
    """Write the HTML report of one forecast at ``path`` and its figure at ``path`` with suffix ``.png``.

    Parameters
    ----------
    path : the HTML file, e.g. ``runs/kline/forecast.html``; the PNG (:func:`forecast_png`) is written beside it
        as ``runs/kline/forecast.png``, both or neither.
    forecast : the :class:`KlineForecast` (its sample paths, timestamps, last close, calibration).
    context : the bars the forecast continued (Bars schema); its last ones are drawn before the paths.
    levels : the two central close-band levels drawn and tabulated (calibrated where the forecast is).
    n_paths : sample paths drawn in the figure (the table uses all of them).
    notes : label -> text shown above the table (data source, checkpoint, sampling settings...).
    """
    path = Path(path)
    png = forecast_png(forecast, context, levels, n_paths)
    closes = forecast.paths[..., 3]
    quantiles = np.quantile(closes, QUANTILES, axis=0)  # [Q, pred_len]
    bands, band_labels = [], []
    for level in levels:
        calibrated = level in forecast.calibration
        bands.append(forecast.close_interval(level, calibrated=calibrated))
        band_labels += [f"{level:.0%} {kind} ({'calibrated' if calibrated else 'raw'})" for kind in ("low", "high")]
    rows = [[step + 1, str(stamp)[:19].replace("T", " "), *quantiles[:, step],
             *(bound[step] for band in bands for bound in band)]
            for step, stamp in enumerate(forecast.timestamps)]
    header = ["step", "timestamp", *(f"close q{q:g}" for q in QUANTILES), *band_labels]
    settings = {"symbol": forecast.symbol, "last close": report.format_number(forecast.last_close),
                "context ends": str(context.sort("timestamp")["timestamp"][-1]),
                "sample paths": forecast.paths.shape[0], "bars forecast": len(forecast.timestamps), **(notes or {})}
    document = report.page(
        f"K-line forecast: {forecast.symbol}",
        report.notes_table(settings),
        report.image(png, "context closes, sample paths, median and bands",
                     f"Last context closes, {min(n_paths, closes.shape[0])} of the sample paths, the median and the "
                     "central close bands"),
        report.heading("Close quantiles and bands per step"),
        report.paragraph("Quantiles are over all sample paths at each step; bands are central intervals of the "
                         "close, widened by split-conformal calibration where the forecast was calibrated.",
                         css_class="note"),
        report.table(rows, header))
    return report.write_page(path, document, {path.with_suffix(".png").name: png})


def evaluation_png(name: str, result: dict) -> bytes | None:
    """PNG bytes of one series' evaluation: a fan chart (context, sample paths and bands at the last origin),
    calibrated coverage by horizon step, the PIT histogram, and forecast vs realized volatility over the origins.
    None when the result holds none of those (an older evaluation.json)."""
    series, by_step, pit = result.get("series"), result.get("coverage_by_step"), result.get("pit_histogram")
    if not series or not by_step or pit is None:
        return None
    fig = report.new_figure(12, 8)
    axes = fig.subplots(2, 2)
    fan = series["fan"]
    ax = axes[0, 0]
    n_ctx, h = len(fan["context"]), len(fan["future"])
    x_ctx, x_fut = np.arange(-n_ctx + 1, 1), np.arange(1, h + 1)
    ax.plot(x_ctx, fan["context"], color="black", lw=1.2, label="close")
    ax.plot(x_fut, fan["future"], color="black", lw=1.2, ls="--", label="realized")
    for p in fan["paths"]:
        ax.plot(x_fut, p, color="tab:blue", lw=0.4, alpha=0.35)
    bands, qs = np.asarray(fan["bands"]), fan["quantiles"]
    for (i, j), alpha in (((0, 6), 0.15), ((1, 5), 0.25), ((2, 4), 0.35)):
        ax.fill_between(x_fut, bands[i], bands[j], color="tab:orange", alpha=alpha,
                        label=f"{qs[i]:.0%}-{qs[j]:.0%}")
    ax.plot(x_fut, bands[3], color="tab:red", lw=1.2, label="median")
    ax.set_title(report.figure_text(f"{name}: fan chart from {fan['origin']} (raw bands)"))
    ax.set_xlabel("bars from the origin")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[0, 1]
    for level, cov in by_step.items():
        line = ax.plot(np.arange(1, len(cov) + 1), cov, marker="o", ms=3, label=f"{float(level):.0%} calibrated")
        ax.axhline(float(level), color=line[0].get_color(), ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("horizon step")
    ax.set_title(report.figure_text("coverage by horizon (dotted: nominal)"))
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    counts = np.asarray(pit, dtype=float)
    ax.bar(np.arange(10) / 10 + 0.05, counts / max(counts.sum(), 1), width=0.09, color="tab:blue")
    ax.axhline(0.1, color="black", ls=":", lw=1)
    ax.set_title(report.figure_text("PIT histogram of cumulative returns (flat = calibrated)"))
    ax = axes[1, 1]
    t = np.arange(len(series["realized"]))
    ax.plot(t, series["realized"], color="black", lw=1.4, label="realized")
    for key, label in (("vol_kline", "K-line (median path)"), ("vol_garch11", "GARCH(1,1)"), ("vol_har_rv", "HAR-RV"),
                       ("vol_range", "Garman-Klass")):
        if key in series:
            ax.plot(t, series[key], lw=0.9, label=label)
    ticks = t[:: max(len(t) // 6, 1)]
    ax.set_xticks(ticks, [series["timestamps"][i] for i in ticks], fontsize=7)
    ax.set_title(report.figure_text("forecast vs realized volatility over the horizon"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return report.png_bytes(fig, dpi=100)


def write_evaluation_report(out_dir: str | Path, results: Mapping[str, dict], *, title: str = "K-line evaluation",
                            notes: Mapping[str, object] | None = None) -> Path:
    """Write ``out_dir/evaluation.html``: tables of :func:`qfin.kline.evaluate_kline` results, one row per series.

    Parameters
    ----------
    out_dir : folder of the report (beside ``evaluation.json``); created if missing.
    results : series name -> its ``evaluate_kline`` dict (n_origins, pred_len, samples, return, volatility,
        coverage, crps, generation); a figure a result lacks shows as ``n/a``.
    title : page heading.
    notes : label -> text shown above the tables (checkpoint, horizon, samples...).
    """
    def get(result: dict, *keys: str) -> object:
        for key in keys:
            if not isinstance(result, dict) or key not in result:
                return None
            result = result[key]
        return result

    items = list(results.items())
    pngs = {n: png for n, r in items if (png := evaluation_png(n, r)) is not None}
    figures = {f"evaluation-{i}.png": png for i, png in enumerate(pngs.values())}
    images = [report.image(png, f"evaluation figures of {n}", f"{n}: fan chart, coverage by horizon, PIT "
                           "histogram, forecast vs realized volatility") for n, png in pngs.items()]
    forecasters = list(dict.fromkeys(k for _, r in items for k in (get(r, "volatility") or {})))
    levels = list(dict.fromkeys(k for _, r in items for k in (get(r, "coverage") or {})))
    facts = ("std", "excess_kurtosis", "abs_acf_1_5", "leverage")
    document = report.page(
        title,
        *([report.notes_table(notes)] if notes else []),
        report.table([[n, get(r, "n_origins"), get(r, "pred_len"), get(r, "samples"),
                       get(r, "generation", "n_windows")] for n, r in items],
                     ["series", "forecast origins", "pred_len", "sample paths", "generation windows"]),
        report.heading("Returns: information coefficients of the mean forecast"),
        report.table([[n, *(get(r, "return", k) for k in ("ic", "ic_se", "rank_ic", "rank_ic_se", "n"))]
                      for n, r in items], ["series", "IC", "IC std error", "RankIC", "RankIC std error", "n"]),
        report.heading("Realized volatility over the horizon: MAE and R²"),
        report.table([[n, f, get(r, "volatility", f, "mae"), get(r, "volatility", f, "r2")]
                      for n, r in items for f in forecasters], ["series", "forecaster", "MAE", "R²"]),
        report.heading("Interval coverage (nominal level vs realized)"),
        report.table([[n, level, *(get(r, "coverage", level, k) for k in ("raw", "calibrated", "gaussian_rw"))]
                      for n, r in items for level in levels],
                     ["series", "level", "K-line raw", "K-line calibrated", "Gaussian random walk"]),
        report.heading("CRPS of cumulative log returns (lower is better)"),
        report.table([[n, get(r, "crps", "kline"), get(r, "crps", "gaussian_rw")] for n, r in items],
                     ["series", "K-line", "Gaussian random walk"]),
        report.heading("Generation: discriminative score and stylized facts"),
        report.paragraph("Discriminative score: test error of a classifier telling real from generated windows "
                         "(0.5 = indistinguishable).", css_class="note"),
        report.table([[n, get(r, "generation", "discriminative_score")] for n, r in items],
                     ["series", "discriminative score"]),
        report.table([[n, kind, *(get(r, "generation", kind, f) for f in facts)]
                      for n, r in items for kind in ("real", "generated")],
                     ["series", "returns", "std", "excess kurtosis", "|r| autocorrelation 1-5",
                      "leverage corr(r, |r+1|)"]),
        *([report.heading("Figures")] + images if images else []))
    return report.write_page(Path(out_dir) / "evaluation.html", document, figures if images else None)
