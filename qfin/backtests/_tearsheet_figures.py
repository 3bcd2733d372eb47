"""The tearsheet's figures (quantstats' set): cumulative returns against the benchmark, one underwater panel per
strategy, end-of-year returns, the distribution of bar returns, and rolling volatility and beta. Each takes series
already computed on the full data and returns PNG bytes (the Agg canvas of :mod:`qfin.report`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from qfin import report
from qfin.backtests._report_figures import (
    BENCHMARK_STYLE,
    DPI,
    _axes,
    _benchmark_line,
    _colours,
    _legend,
    _lines,
    _png,
    _thin_envelope,
)
from qfin.report import figure_text

__all__ = ["cumulative_png", "distribution_png", "rolling_png", "underwater_png", "yearly_png"]

_PANEL_COLUMNS = 2  # small multiples two abreast: still legible when the page is phone-narrow


def _percent(axes, decimals: int | None = None) -> None:
    from matplotlib.ticker import PercentFormatter

    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))


def cumulative_png(title: str, times: np.ndarray, cumulative: Mapping[str, np.ndarray],
                   benchmark: tuple[str, np.ndarray] | None) -> bytes:
    """Cumulative return (value / initial cash - 1) of each strategy, the benchmark dashed, linear axis."""
    figure, axes = _axes(title, "cumulative return" + (f" against {benchmark[0]}" if benchmark else ""),
                         (times[0], times[-1]))
    _lines(axes, times, cumulative)
    if benchmark is not None:
        _benchmark_line(axes, times, *benchmark)
    axes.axhline(0.0, color="#57606a", linewidth=0.8)
    _percent(axes, 0)
    axes.set_ylabel("cumulative return")
    _legend(axes)
    return _png(figure)


def _panels(n: int, height: float):
    rows = math.ceil(n / _PANEL_COLUMNS)
    figure = report.new_figure(10.0, height * rows + 0.6, dpi=DPI, layout="constrained")
    grid = figure.subplots(rows, _PANEL_COLUMNS, squeeze=False)
    for axes in grid.ravel()[n:]:
        axes.set_visible(False)
    return figure, grid.ravel()[:n]


def underwater_png(title: str, times: np.ndarray, drawdowns: Mapping[str, np.ndarray], span: tuple) -> bytes:
    """One panel per strategy: the drawdown from its running peak, filled down from zero, on a shared depth axis."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure, panels = _panels(len(drawdowns), 1.7)
    figure.suptitle(figure_text(f"{title} — underwater (drawdown from peak)"), fontsize=11, x=0.01, ha="left")
    deepest = min([float(np.nanmin(d)) for d in drawdowns.values() if np.isfinite(d).any()] or [-0.01])
    for axes, (name, values), colour in zip(panels, drawdowns.items(), _colours(len(drawdowns)), strict=True):
        keep = _thin_envelope(values)
        axes.fill_between(times[keep], np.nan_to_num(values[keep]), 0.0, color=colour, alpha=0.6, linewidth=0.0)
        axes.set_title(figure_text(name), fontsize=9, loc="left")
        axes.set_xlim(*span)
        axes.set_ylim(min(deepest * 1.05, -0.01), 0.0)
        locator = AutoDateLocator(minticks=3, maxticks=7)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.grid(True, alpha=0.3, linewidth=0.6)
        _percent(axes, 0)
    return _png(figure)


def yearly_png(title: str, years: list[str], yearly: Mapping[str, np.ndarray],
               benchmark: tuple[str, np.ndarray] | None) -> bytes:
    """Grouped bars: each calendar year's compounded return per strategy (and the benchmark, dark grey)."""
    series = dict(yearly)
    colours = _colours(len(series))
    if benchmark is not None:
        series[f"{benchmark[0]} (benchmark)"] = benchmark[1]
        colours.append(BENCHMARK_STYLE["color"])
    figure = report.new_figure(10.0, 4.4, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(figure_text(f"{title} — end-of-year returns"), fontsize=11, loc="left")
    width = 0.8 / len(series)
    x = np.arange(len(years))
    for k, ((name, values), colour) in enumerate(zip(series.items(), colours, strict=True)):
        axes.bar(x - 0.4 + (k + 0.5) * width, values, width, label=figure_text(name), color=colour, linewidth=0.0)
    axes.set_xticks(x, years, rotation=90 if len(years) > 12 else 0, fontsize=8)
    axes.axhline(0.0, color="#57606a", linewidth=0.8)
    axes.grid(True, axis="y", alpha=0.3, linewidth=0.6)
    _percent(axes, 0)
    axes.set_ylabel("return in the year")
    _legend(axes)
    return _png(figure)


def distribution_png(title: str, returns: Mapping[str, np.ndarray]) -> bytes:
    """One histogram per strategy of its bar returns (shares of bars, common bins), with the normal density of the
    same mean and standard deviation for comparison (fat tails show as bars beyond the curve)."""
    figure, panels = _panels(len(returns), 1.9)
    figure.suptitle(figure_text(f"{title} — distribution of bar returns"), fontsize=11, x=0.01, ha="left")
    finite = [r[np.isfinite(r)] for r in returns.values()]
    pooled = np.concatenate(finite) if finite else np.zeros(1)
    low, high = np.quantile(pooled, [0.001, 0.999]) if pooled.size else (-0.01, 0.01)
    low, high = (low - 1e-4, high + 1e-4) if high <= low else (low, high)
    edges = np.linspace(low, high, 61)
    centres, step = 0.5 * (edges[1:] + edges[:-1]), edges[1] - edges[0]
    for axes, (name, r), colour in zip(panels, returns.items(), _colours(len(returns)), strict=True):
        r = r[np.isfinite(r)]
        counts = np.histogram(np.clip(r, low, high), edges)[0] / max(r.size, 1)
        axes.stairs(counts, edges, fill=True, color=colour, alpha=0.75)  # one polygon, not 60 bars
        if r.size > 1 and r.std(ddof=1) > 0:
            sd = r.std(ddof=1)
            density = np.exp(-0.5 * ((centres - r.mean()) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
            axes.plot(centres, density * step, color="#1d2329", linewidth=0.9)
        axes.set_title(figure_text(name), fontsize=9, loc="left")
        from matplotlib.ticker import PercentFormatter

        axes.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
        _percent(axes, 0)
        axes.grid(True, alpha=0.3, linewidth=0.6)
    return _png(figure)


def rolling_png(title: str, subtitle: str, times: np.ndarray, series: Mapping[str, np.ndarray], ylabel: str,
                span: tuple, *, percent: bool, reference: float | None = None) -> bytes:
    """A rolling statistic per strategy over the same dates (volatility as a percentage, beta as a ratio)."""
    figure, axes = _axes(title, subtitle, span)
    if all(not np.isfinite(values).any() for values in series.values()):
        axes.text(0.5, 0.5, "fewer returns than the window: no full window", transform=axes.transAxes,
                  ha="center", va="center", color="#57606a")
    else:
        _lines(axes, times, series)
        _legend(axes)
    if reference is not None:
        axes.axhline(reference, color="#57606a", linewidth=0.8)
    if percent:
        _percent(axes, 0)
    axes.set_ylabel(ylabel)
    return _png(figure)
