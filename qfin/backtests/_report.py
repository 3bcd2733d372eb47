"""Backtest reports: PNG figures (equity, drawdown, rolling Sharpe, weights) and one self-contained HTML page.

:func:`write_report` renders every figure into memory first, builds the HTML page from those PNG bytes with
:mod:`qfin.report` (embedded as base64 data URIs, its one stylesheet, no scripts, no external links) and only then
writes the files with :func:`qfin.report.write_files` (all or nothing: each to a temporary name, all renamed once
every one is complete). A failure while drawing or writing therefore leaves the folder as it was.

Figures come from :func:`qfin.report.new_figure` (the Agg canvas, never pyplot: no backend switch, nothing to close
afterwards), and ``import qfin.backtests`` does not import matplotlib.

Long series are thinned before plotting (never before computing): lines keep each bucket's minimum and maximum
(so drawdown troughs and equity peaks survive), stacked weights keep every k-th bar, at most ``MAX_POINTS``
points per series. Statistics are always computed on the full series.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qfin import report
from qfin.errors import DataValidationError, QfinError
from qfin.report import figure_text
from qfin.risk import drawdown_series, sharpe_ratio, simple_returns

__all__ = ["MAX_POINTS", "TOP_ASSETS", "rolling_sharpe", "write_report"]

MAX_POINTS = 2_000
"""Most points drawn per series; longer series are thinned for plotting only."""
TOP_ASSETS = 10
"""Most assets drawn individually in a weights chart (by average absolute weight); the rest is pooled as "other"."""

_DPI = 110
_WIDE = (10.0, 4.4)

# (key, column header, format): percentages where the quantity is a fraction of value, plain ratios otherwise.
_METRIC_COLUMNS = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility (ann.)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar", "ratio"),
    ("cvar_95", "CVaR 95% (per bar)", "pct"),
    ("turnover", "Turnover (ann.)", "pct"),
)


@dataclass(frozen=True)
class _Figure:
    """One rendered figure: its file name, caption and PNG bytes."""

    filename: str
    caption: str
    png: bytes


def rolling_sharpe(returns: np.ndarray, window: int, periods_per_year: int = 252) -> np.ndarray:
    """Annualised Sharpe ratio over a trailing window of ``window`` returns, at every bar.

    Parameters
    ----------
    returns : [T] per-period simple returns.
    window : number of returns in each window (>= 2).
    periods_per_year : annualisation factor.

    Returns
    -------
    [T] float64: entry t is :func:`qfin.risk.sharpe_ratio` of ``returns[t - window + 1 : t + 1]``; the first
    ``window - 1`` entries are NaN, and a window of constant returns gives NaN or +-inf as ``sharpe_ratio``
    does. All windows go through ``sharpe_ratio`` in one call, as the columns of a strided
    [window, T - window + 1] view (no Python loop), so the formula is qfin.risk's one definition.
    """
    returns = np.asarray(returns, dtype=np.float64)
    out = np.full(returns.shape[0], np.nan)
    if returns.shape[0] >= window:
        windows = np.lib.stride_tricks.sliding_window_view(returns, window).T
        out[window - 1:] = sharpe_ratio(windows, periods_per_year=periods_per_year)
    return out


def write_report(out_dir: str | Path, *, title: str, timestamps: np.ndarray, equity: Mapping[str, np.ndarray],
                 weights: Mapping[str, np.ndarray], assets: Sequence[str], metrics: Mapping[str, Mapping[str, float]],
                 notes: Mapping[str, str], rolling_window: int = 126, periods_per_year: int = 252,
                 log_scale: bool = True) -> Path:
    """Write the PNG figures and ``report.html`` of a backtest into ``out_dir``; return the HTML path.

    Files: ``equity.png`` (value paths), ``drawdown.png`` (drawdown from the running peak,
    :func:`qfin.risk.drawdown_series`), ``rolling_sharpe.png`` (:func:`rolling_sharpe`), one
    ``weights_<strategy>.png`` per weight strategy (stacked areas, cash first, the ``TOP_ASSETS`` largest assets
    by average absolute weight plus "other"; shorts stack below zero; characters other than letters, digits,
    ``.``, ``_`` and ``-`` in the name become ``_``) and ``report.html`` (title, notes, metrics table, every
    figure embedded; all text HTML-escaped). Every file is written atomically.

    Parameters
    ----------
    out_dir : an existing folder.
    title : page and figure title.
    timestamps : [T] datetime64 bar times, increasing.
    equity : strategy name -> [T] portfolio value at each bar (money, finite).
    weights : strategy name -> [T, N + 1] end-of-bar weights, cash first; only weight strategies (may be empty).
    assets : the N asset names of the weight columns after cash.
    metrics : strategy name -> {metric name: value}, as in metrics.json (see ``qfin.backtests.METRIC_NAMES``).
    notes : label -> text shown above the table (execution convention, costs, data span, dataset...); a
        "generated at" line (UTC) is added unless present.
    rolling_window : bars in the rolling-Sharpe window (>= 2).
    periods_per_year : annualisation factor of the rolling Sharpe.
    log_scale : draw equity on a log axis (linear when some value is not positive).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise QfinError(f"report folder {out_dir} does not exist; create it first (write_report writes into it)")
    times, equity_arrays, weight_arrays = _validated(timestamps, equity, weights, assets, metrics, rolling_window,
                                                     periods_per_year)
    returns = {name: _path_returns(values) for name, values in equity_arrays.items()}
    span = (times[0], times[-1])
    use_log = log_scale and all(np.all(values > 0.0) for values in equity_arrays.values())
    n_returns = times.shape[0] - 1  # after a ruin there are no returns: NaN, a gap in the lines
    drawdowns = {name: _padded(drawdown_series, r, n_returns) for name, r in returns.items()}
    sharpes = {name: _padded(lambda x: rolling_sharpe(x, rolling_window, periods_per_year), r, n_returns)
               for name, r in returns.items()}

    figures = [
        _Figure("equity.png", "Portfolio value of each strategy" + (" (log scale)" if use_log else ""),
                _equity_png(title, times, equity_arrays, use_log)),
        _Figure("drawdown.png", "Drawdown: fall of portfolio value from its running peak",
                _drawdown_png(title, times[1:], drawdowns, span)),
        _Figure("rolling_sharpe.png",
                f"Rolling Sharpe ratio over {rolling_window} bars, annualised with {periods_per_year} periods a year",
                _rolling_sharpe_png(title, times[1:], sharpes, rolling_window, span)),
    ]
    for name, stem in _file_stems(list(weight_arrays)).items():
        figures.append(_Figure(f"weights_{stem}.png", f"Portfolio weights of {name} at each bar's close",
                               _weights_png(title, name, times, weight_arrays[name], list(assets))))

    page = _html_page(title, notes, metrics, list(equity_arrays), figures)
    return report.write_page(out_dir / "report.html", page, {figure.filename: figure.png for figure in figures})


# ----------------------------------------------------------------------------------------------------- input


def _validated(timestamps, equity, weights, assets, metrics, rolling_window, periods_per_year):
    times = np.asarray(timestamps)
    if times.ndim != 1 or not np.issubdtype(times.dtype, np.datetime64):
        raise DataValidationError(f"timestamps must be a 1-D datetime64 array; got dtype {times.dtype}, shape "
                                  f"{times.shape}", rule="timestamps_dtype", column="timestamp")
    n_bars = times.shape[0]
    if n_bars < 2:
        raise DataValidationError(f"a report needs at least 2 bars; got {n_bars}", rule="too_few_bars",
                                  column="timestamp")
    missing = np.flatnonzero(np.isnat(times))
    if missing.size:
        raise DataValidationError(f"timestamps has NaT at rows {missing[:5].tolist()}; every bar needs a time",
                                  rule="missing_timestamps", column="timestamp", rows=missing[:5].tolist())
    unsorted = np.flatnonzero(np.diff(times) <= np.timedelta64(0))
    if unsorted.size:
        raise DataValidationError("timestamps must be strictly increasing; first offending rows "
                                  f"{(unsorted[:5] + 1).tolist()}", rule="unsorted_timestamps", column="timestamp",
                                  rows=(unsorted[:5] + 1).tolist())
    if isinstance(rolling_window, bool) or not isinstance(rolling_window, (int, np.integer)) or rolling_window < 2:
        raise DataValidationError(f"rolling_window must be an integer >= 2 (bars); got {rolling_window!r}",
                                  rule="rolling_window")
    if isinstance(periods_per_year, bool) or not isinstance(periods_per_year, (int, np.integer)) \
            or periods_per_year < 1:
        raise DataValidationError(f"periods_per_year must be a positive integer; got {periods_per_year!r}",
                                  rule="periods_per_year")
    if not equity:
        raise DataValidationError("equity is empty: pass at least one strategy's value path", rule="empty")
    equity_arrays = {}
    for name, values in equity.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n_bars,):
            raise DataValidationError(f"equity[{name!r}] has shape {values.shape}; expected ({n_bars},), one value "
                                      "per timestamp", rule="shape_mismatch", column=name)
        _check_finite(values, f"equity[{name!r}]", name)
        equity_arrays[name] = values
    weight_arrays = {}
    for name, values in weights.items():
        values = np.asarray(values, dtype=np.float64)
        if name not in equity_arrays:
            raise DataValidationError(f"weights[{name!r}] has no equity path; weight strategies must be a subset of "
                                      f"equity's ({', '.join(map(str, equity_arrays))})", rule="unknown_strategy",
                                      column=name)
        if values.shape != (n_bars, len(assets) + 1):
            raise DataValidationError(f"weights[{name!r}] has shape {values.shape}; expected ({n_bars}, "
                                      f"{len(assets) + 1}): one row per timestamp, cash then the {len(assets)} "
                                      "assets", rule="shape_mismatch", column=name)
        _check_finite(values, f"weights[{name!r}]", name)
        weight_arrays[name] = values
    for name, row in metrics.items():
        for key, value in row.items():
            if key == "ruined" and isinstance(value, (bool, np.bool_)):
                continue
            if key == "ruin_date" and (value is None or isinstance(value, str)):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise DataValidationError(f"metrics[{name!r}][{key!r}] must be a number; got {value!r}",
                                          rule="metric_value", column=key)
    return times, equity_arrays, weight_arrays


def _path_returns(values: np.ndarray) -> np.ndarray:
    """Bar-to-bar simple returns of a value path [T] up to its ruin: [T - 1] returns, or for a path that reaches
    a value <= 0 at bar k (the engine holds it at 0 from there on) the k returns up to that bar, the last -100%
    (or beyond, for a path not from the engine); past it a return is undefined."""
    ruined = np.flatnonzero(values <= 0.0)
    if not ruined.size:
        return simple_returns(values)
    end = int(ruined[0])
    return simple_returns(values[: end + 1]) if end > 0 else np.empty(0)


def _padded(measure, returns: np.ndarray, n_returns: int) -> np.ndarray:
    """``measure(returns)`` followed by NaN up to ``n_returns`` entries (the bars after a ruin)."""
    out = np.full(n_returns, np.nan)
    if returns.size:
        out[: returns.size] = measure(returns)
    return out


def _check_finite(values: np.ndarray, what: str, column: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1))
    if bad.size:
        raise DataValidationError(f"{what} has NaN or infinite values at rows {bad[:5].tolist()}; values must be "
                                  "finite", rule="non_finite", column=column, rows=bad[:5].tolist())


def _file_stems(names: list[str]) -> dict[str, str]:
    """Strategy name -> a file-name-safe, unique stem."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "strategy"
        stem, k = base, 2
        while stem in taken:
            stem, k = f"{base}_{k}", k + 1
        taken.add(stem)
        stems[name] = stem
    return stems


# --------------------------------------------------------------------------------------------------- drawing


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


def _axes(title: str, subtitle: str, span: tuple, size: tuple[float, float] = _WIDE):
    """A figure and its axes: title, date axis fixed to ``span`` (first, last timestamp) so all figures align."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = report.new_figure(*size, dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(figure_text(f"{title} — {subtitle}"), fontsize=11, loc="left")
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3, linewidth=0.6)
    axes.set_xlim(*span)
    return figure, axes


def _png(figure) -> bytes:
    return report.png_bytes(figure, dpi=_DPI)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    table = colormaps["tab10" if n <= 10 else "tab20"]
    return [table(k % table.N) for k in range(n)]


def _lines(axes, times: np.ndarray, series: Mapping[str, np.ndarray]) -> None:
    for (name, values), colour in zip(series.items(), _colours(len(series)), strict=True):
        values = np.where(np.isfinite(values), values, np.nan)  # a flat window's Sharpe is +-inf: leave a gap
        keep = _thin_envelope(values)
        axes.plot(times[keep], values[keep], label=figure_text(name), color=colour, linewidth=1.1)


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


def _equity_png(title: str, times: np.ndarray, equity: Mapping[str, np.ndarray], log_scale: bool) -> bytes:
    figure, axes = _axes(title, "portfolio value", (times[0], times[-1]))
    _lines(axes, times, equity)
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


# ------------------------------------------------------------------------------------------------------ HTML


_METRIC_FORMATS = {"pct": ".2%", "ratio": ".2f", "plain": ".4g"}


def _format_metric(value: float | None, kind: str) -> str:
    return report.format_number(None if value is None else float(value), _METRIC_FORMATS[kind])


def _html_page(title: str, notes: Mapping[str, str], metrics: Mapping[str, Mapping[str, float]],
               strategies: list[str], figures: list[_Figure]) -> str:
    notes = dict(notes)
    if not any(str(key).lower().replace("_", " ").replace("-", " ") == "generated at" for key in notes):
        notes["generated at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    columns = list(_METRIC_COLUMNS)
    known = {key for key, _, _ in columns} | {"ruined", "ruin_date"}
    for row in metrics.values():
        columns += [(key, key, "plain") for key in row if key not in known]
        known.update(row)
    names = list(metrics) + [name for name in strategies if name not in metrics]
    ruined = {name: metrics[name].get("ruin_date") or "yes" for name in names
              if name in metrics and metrics[name].get("ruined")}
    rows = [[str(name), *(_format_metric(metrics.get(name, {}).get(key), kind) for key, _, kind in columns),
             *([ruined.get(name, "no")] if ruined else [])]
            for name in names]
    header = ["Strategy", *(label for _, label, _ in columns), *(["Ruined on"] if ruined else [])]
    ruin_notes = [report.paragraph(
        f"Ruined: {name} on {date}. Its value fell to zero or below; as in backtesting.py the run ends there, the "
        "value is held at 0 from that bar on, and its metrics cover the path up to that bar (total return -100%).")
        for name, date in ruined.items()]
    return report.page(
        title,
        report.heading("Run"), report.notes_table(notes),
        report.heading("Metrics"), *ruin_notes, report.table(rows, header),
        report.paragraph(
            "Returns are simple returns of portfolio value from the initial cash (the first one is the first bar's "
            "value over the initial cash, so the opening trade's costs count). CAGR, volatility, Sharpe and Sortino "
            "are annualised; max drawdown is the largest fall from a running peak (negative); CVaR 95% is the mean "
            "loss over the worst 5% of bars; Calmar is CAGR over the absolute max drawdown; turnover is annualised "
            "one-way turnover (100% = the whole book replaced once a year).", css_class="note"),
        report.heading("Figures"),
        *(report.image(figure.png, figure.caption, f"{figure.caption} ({figure.filename})") for figure in figures))
