"""The backtest report's drawing primitives and its first four figures (value, drawdown, rolling Sharpe, weights).

Figures come from :func:`qfin.report.new_figure` (the Agg canvas, never pyplot). Long series are thinned before
plotting (never before computing): lines keep each bucket's minimum and maximum (so drawdown troughs and equity
peaks survive), stacked weights keep every k-th bar, at most ``MAX_POINTS`` points per series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from qfin import report
from qfin.report import figure_text

__all__ = ["BENCHMARK_STYLE", "DPI", "MAX_POINTS", "TOP_ASSETS", "WIDE"]

MAX_POINTS = 2_000
"""Most points drawn per series; longer series are thinned for plotting only."""
TOP_ASSETS = 10
"""Most assets drawn individually in a weights chart (by average absolute weight); the rest is pooled as "other"."""

DPI = 110
WIDE = (10.0, 4.4)
BENCHMARK_STYLE = {"color": "#1d2329", "linestyle": "--", "linewidth": 1.3}



def _thin_envelope(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Sorted indices keeping the first, the last, and each bucket's minimum and maximum (NaN-safe)."""
    n = values.shape[0]
    if n <= max_points:
        return np.arange(n)
    size = math.ceil(n / (max_points // 2 - 1))
    rows = math.ceil(n / size)
    low = np.full(rows * size, np.inf)
    high = np.full(rows * size, -np.inf)
    finite = np.isfinite(values)
    low[:n] = np.where(finite, values, np.inf)
    high[:n] = np.where(finite, values, -np.inf)
    offsets = np.arange(rows) * size
    picks = np.concatenate(([0, n - 1], offsets + low.reshape(rows, size).argmin(axis=1),
                            offsets + high.reshape(rows, size).argmax(axis=1)))
    return np.unique(np.minimum(picks, n - 1))


def _thin_stride(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Every k-th index, plus the last, at most about ``max_points``."""
    step = max(1, math.ceil(n / max_points))
    return np.unique(np.append(np.arange(0, n, step), n - 1))


def _axes(title: str, subtitle: str, span: tuple, size: tuple[float, float] = WIDE):
    """A figure and its axes: title, date axis fixed to ``span`` (first, last timestamp) so all figures align."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = report.new_figure(*size, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(figure_text(f"{title} — {subtitle}"), fontsize=11, loc="left")
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3, linewidth=0.6)
    axes.set_xlim(*span)
    return figure, axes


def _png(figure) -> bytes:
    return report.png_bytes(figure, dpi=DPI)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    table = colormaps["tab10" if n <= 10 else "tab20"]
    return [table(k % table.N) for k in range(n)]


def _lines(axes, times: np.ndarray, series: Mapping[str, np.ndarray]) -> None:
    for (name, values), colour in zip(series.items(), _colours(len(series)), strict=True):
        values = np.where(np.isfinite(values), values, np.nan)  # a flat window's Sharpe is +-inf: leave a gap
        keep = _thin_envelope(values)
        axes.plot(times[keep], values[keep], label=figure_text(name), color=colour, linewidth=1.1)


def _benchmark_line(axes, times: np.ndarray, name: str, values: np.ndarray) -> None:
    keep = _thin_envelope(values)
    axes.plot(times[keep], values[keep], label=figure_text(f"{name} (benchmark)"), **BENCHMARK_STYLE)


def _legend(axes, reverse: bool = False) -> None:
    # Outside the axes, on the right: eight overlapping strategies leave no free corner inside (and loc="best"
    # would scan every drawn point).
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False, reverse=reverse)


def _compact_number(value: float, _position: object = None) -> str:
    """Axis label for money: 1.5M, 200k, 0.9."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _equity_png(title: str, times: np.ndarray, equity: Mapping[str, np.ndarray], log_scale: bool,
                benchmark: tuple[str, np.ndarray] | None = None) -> bytes:
    figure, axes = _axes(title, "portfolio value", (times[0], times[-1]))
    _lines(axes, times, equity)
    if benchmark is not None:
        _benchmark_line(axes, times, *benchmark)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log_scale:
        axes.set_yscale("log")
        axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.yaxis.set_minor_formatter(NullFormatter())
        axes.set_ylabel("value (log scale)")
    else:
        axes.set_ylabel("value")
    axes.yaxis.set_major_formatter(FuncFormatter(_compact_number))
    _legend(axes)
    return _png(figure)


def _drawdown_png(title: str, times: np.ndarray, drawdowns: Mapping[str, np.ndarray], span: tuple) -> bytes:
    from matplotlib.ticker import PercentFormatter

    figure, axes = _axes(title, "drawdown", span)
    _lines(axes, times, drawdowns)
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    axes.set_ylabel("drawdown from peak")
    _legend(axes)
    return _png(figure)


def _rolling_sharpe_png(title: str, times: np.ndarray, sharpes: Mapping[str, np.ndarray], window: int,
                        span: tuple) -> bytes:
    figure, axes = _axes(title, f"rolling Sharpe ({window} bars)", span)
    if times.shape[0] < window:
        axes.text(0.5, 0.5, f"fewer than {window} returns: no full window", transform=axes.transAxes,
                  ha="center", va="center", color="#57606a")
    else:
        _lines(axes, times, sharpes)
        _legend(axes)
    axes.axhline(0.0, color="#57606a", linewidth=0.8)
    axes.set_ylabel("annualised Sharpe ratio")
    return _png(figure)


def _weights_png(title: str, name: str, times: np.ndarray, weights: np.ndarray, assets: list[str]) -> bytes:
    from matplotlib.ticker import PercentFormatter

    labels, longs, shorts = _weight_layers(weights, assets)
    keep = _thin_stride(times.shape[0], MAX_POINTS // 2)  # about one bar per pixel column of the plot
    figure, axes = _axes(title, f"weights of {name}", (times[0], times[-1]), size=(10.0, 4.8))
    colours = _colours(len(labels))
    colours[0] = "#b9c0c8"  # cash in grey, the layer nearest zero
    axes.stackplot(times[keep], longs[:, keep], labels=[figure_text(label) for label in labels], colors=colours,
                   linewidth=0.0)
    if np.any(shorts < 0.0):  # short positions (and borrowed cash) stack downwards from zero
        axes.stackplot(times[keep], shorts[:, keep], colors=colours, linewidth=0.0)
        axes.axhline(0.0, color="#1d2329", linewidth=0.6)
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    axes.set_ylabel("weight of portfolio value")
    _legend(axes, reverse=True)  # top to bottom as stacked
    return _png(figure)


def _weight_layers(weights: np.ndarray, assets: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and the long (>= 0) and short (<= 0) parts [L, T] of: cash, the ``TOP_ASSETS`` largest assets by
    average absolute weight, then "other" (the rest pooled; longs and shorts pooled separately so the stacks
    above and below zero add up to the gross long and short books)."""
    risky = weights[:, 1:]
    if risky.shape[1] <= TOP_ASSETS + 1:  # pooling a single asset into "other" would hide its name for nothing
        labels, layers = ["cash", *map(str, assets)], weights.T
        return labels, np.clip(layers, 0.0, None), np.clip(layers, None, 0.0)
    order = np.argsort(-np.abs(risky).mean(axis=0), kind="stable")
    top, rest = order[:TOP_ASSETS], order[TOP_ASSETS:]
    shown = np.vstack([weights[:, 0], risky[:, top].T])
    pooled = risky[:, rest]
    longs = np.vstack([np.clip(shown, 0.0, None), np.clip(pooled, 0.0, None).sum(axis=1)])
    shorts = np.vstack([np.clip(shown, None, 0.0), np.clip(pooled, None, 0.0).sum(axis=1)])
    labels = ["cash", *(str(assets[k]) for k in top), f"other ({len(rest)} assets)"]
    return labels, longs, shorts
