"""Backtest reports: the tearsheet, as PNG figures and one self-contained HTML page.

:func:`write_report` renders every figure into memory first, builds the HTML page from those PNG bytes with
:mod:`qfin.report` (embedded as base64 data URIs, its one stylesheet, no scripts, no external links) and only then
writes the files with :func:`qfin.report.write_files` (all or nothing: each to a temporary name, all renamed once
every one is complete). A failure while drawing or writing therefore leaves the folder as it was.

What the page shows (quantstats' tearsheet): the run's settings; the metrics (and, against a benchmark, alpha,
beta, information ratio, tracking error, capture); value on a log axis and cumulative return against the benchmark;
drawdown and one underwater panel per strategy with the worst-drawdowns table; monthly returns as heatmaps and
end-of-year returns; the distribution of bar returns; rolling Sharpe, volatility and beta; the weights of each
allocation strategy; the trade list when there are trades. Drawing lives in :mod:`._report_figures` and
:mod:`._tearsheet_figures`, tables in :mod:`._tearsheet_tables`, the series in :mod:`._tearsheet_stats`;
``import qfin.backtests`` does not import matplotlib.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qfin import report
from qfin.backtests._metrics import METRIC_NAMES
from qfin.backtests._relative import DRAWDOWN_KEY
from qfin.backtests._report_figures import (  # noqa: F401 (tests patch and call these through this module)
    MAX_POINTS,
    TOP_ASSETS,
    _drawdown_png,
    _equity_png,
    _rolling_sharpe_png,
    _thin_envelope,
    _thin_stride,
    _weight_layers,
    _weights_png,
)
from qfin.backtests._report_input import file_stems as _file_stems
from qfin.backtests._report_input import padded, path_returns_of_values, validated
from qfin.backtests._tearsheet_stats import period_returns, rolling_beta, rolling_volatility
from qfin.errors import DataValidationError, QfinError
from qfin.risk import drawdown_series, sharpe_ratio

__all__ = ["MAX_POINTS", "TOP_ASSETS", "rolling_sharpe", "write_report"]

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
    ("alpha", "Alpha (ann.)", "pct"),
    ("beta", "Beta", "ratio"),
    ("information_ratio", "Information ratio", "ratio"),
    ("tracking_error", "Tracking error", "pct"),
    ("up_capture", "Up capture", "ratio"),
    ("down_capture", "Down capture", "ratio"),
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
                 weights: Mapping[str, np.ndarray], assets: Sequence[str], metrics: Mapping[str, Mapping[str, Any]],
                 notes: Mapping[str, str], rolling_window: int = 126, periods_per_year: int = 252,
                 log_scale: bool = True, benchmark: tuple[str, np.ndarray] | None = None, trades: Any = None,
                 initial_cash: float | None = None) -> Path:
    """Write the tearsheet's PNG figures and ``report.html`` into ``out_dir``; return the HTML path.

    Files: ``equity.png`` (value paths, log axis where all are positive), ``cumulative_returns.png``,
    ``drawdown.png`` (:func:`qfin.risk.drawdown_series`), ``underwater.png`` (one panel per strategy),
    ``yearly_returns.png``, ``distribution.png``, ``rolling_sharpe.png`` (:func:`rolling_sharpe`),
    ``rolling_volatility.png``, ``rolling_beta.png`` (with a benchmark), one ``weights_<strategy>.png`` per weight
    strategy (stacked areas, cash first, the ``TOP_ASSETS`` largest assets by average absolute weight plus
    "other"; shorts stack below zero; characters other than letters, digits, ``.``, ``_`` and ``-`` in the name
    become ``_``) and ``report.html`` (every figure embedded, all text HTML-escaped). Every file is written
    atomically.

    Parameters
    ----------
    out_dir : an existing folder.
    title : page and figure title.
    timestamps : [T] datetime64 bar times, increasing.
    equity : strategy name -> [T] portfolio value at each bar (money, finite).
    weights : strategy name -> [T, N + 1] end-of-bar weights, cash first; only weight strategies (may be empty).
    assets : the N asset names of the weight columns after cash.
    metrics : strategy name -> {metric name: value}, as in metrics.json (numbers or null; ``drawdowns`` a list).
    notes : label -> text shown above the table (execution convention, costs, data span, dataset...); a
        "generated at" line (UTC) is added unless present.
    rolling_window : bars in the rolling windows (>= 2).
    periods_per_year : annualisation factor of the rolling figures.
    log_scale : draw equity on a log axis (linear when some value is not positive).
    benchmark : (name, [T] value path) drawn dashed beside the strategies, and the rolling beta's reference.
    trades : a polars frame of round trips (``results.trades``) listed at the end (at most 200 rows shown).
    initial_cash : the value before the first bar; given, the first return is ``equity[0] / initial_cash - 1`` as
        in the metrics (else returns start at the second bar).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise QfinError(f"report folder {out_dir} does not exist; create it first (write_report writes into it)")
    times, equity_arrays, weight_arrays = validated(timestamps, equity, weights, assets, metrics, rolling_window,
                                                    periods_per_year)
    bench = _checked_benchmark(benchmark, times.shape[0])
    span = (times[0], times[-1])
    use_log = log_scale and all(np.all(v > 0.0) for v in [*equity_arrays.values(), *([bench[1]] if bench else [])])
    # returns at each bar: from the initial cash when it is known (as the metrics), else from the first bar
    start = [] if initial_cash is None else [float(initial_cash)]
    returns_times = times if initial_cash is not None else times[1:]
    n_returns = returns_times.shape[0]  # after a ruin there are no returns: NaN, a gap in the lines
    returns = {name: path_returns_of_values(np.concatenate([start, values])) for name, values in equity_arrays.items()}
    bench_returns = None if bench is None else path_returns_of_values(np.concatenate([start, bench[1]]))
    drawdowns = {name: padded(drawdown_series, r, n_returns) for name, r in returns.items()}
    window = rolling_window
    sharpes = {name: padded(lambda x: rolling_sharpe(x, window, periods_per_year), r, n_returns)
               for name, r in returns.items()}
    vols = {name: padded(lambda x: rolling_volatility(x, window, periods_per_year), r, n_returns)
            for name, r in returns.items()}
    base = float(initial_cash) if initial_cash is not None else None
    cumulative = {name: values / (base or values[0]) - 1.0 for name, values in equity_arrays.items()}
    years, yearly = _yearly(returns_times, returns)
    yearly_bench = None if bench is None else (bench[0], _yearly(returns_times, {"b": bench_returns})[1]["b"])

    figures = [
        _Figure("equity.png", "Portfolio value of each strategy" + (" (log scale)" if use_log else "")
                + (f", {bench[0]} dashed" if bench else ""),
                _equity_png(title, times, equity_arrays, use_log, bench)),
        _Figure("cumulative_returns.png", "Cumulative return from the initial cash" if base else
                "Cumulative return from the first bar", _tearsheet().cumulative_png(
                    title, times, cumulative, None if bench is None else (bench[0], bench[1] / (base or bench[1][0])
                                                                           - 1.0))),
        _Figure("drawdown.png", "Drawdown: fall of portfolio value from its running peak",
                _drawdown_png(title, returns_times, drawdowns, span)),
        _Figure("underwater.png", "Underwater curve of each strategy (drawdown from its running peak)",
                _tearsheet().underwater_png(title, returns_times, drawdowns, span)),
        _Figure("yearly_returns.png", "Return of each calendar year (compounded over its bars)",
                _tearsheet().yearly_png(title, years, yearly, yearly_bench)),
        _Figure("distribution.png", "Distribution of bar returns, with the normal density of the same mean and "
                "standard deviation", _tearsheet().distribution_png(title, returns)),
        _Figure("rolling_sharpe.png",
                f"Rolling Sharpe ratio over {window} bars, annualised with {periods_per_year} periods a year",
                _rolling_sharpe_png(title, returns_times, sharpes, window, span)),
        _Figure("rolling_volatility.png", f"Rolling volatility over {window} bars, annualised",
                _tearsheet().rolling_png(title, f"rolling volatility ({window} bars)", returns_times, vols,
                                         "annualised volatility", span, percent=True)),
    ]
    if bench_returns is not None:
        betas = {name: padded(lambda x: rolling_beta(x, bench_returns[: x.shape[0]], window), r, n_returns)
                 for name, r in returns.items() if not (name == bench[0] and name in equity_arrays)}
        figures.append(_Figure("rolling_beta.png", f"Rolling beta to {bench[0]} over {window} bars",
                               _tearsheet().rolling_png(title, f"rolling beta to {bench[0]} ({window} bars)",
                                                        returns_times, betas, "beta", span, percent=False,
                                                        reference=1.0)))
    for name, stem in _file_stems(list(weight_arrays)).items():
        figures.append(_Figure(f"weights_{stem}.png", f"Portfolio weights of {name} at each bar's close",
                               _weights_png(title, name, times, weight_arrays[name], list(assets))))

    months = {name: period_returns(returns_times[: r.shape[0]], r, "M") for name, r in returns.items()}
    page = _html_page(title, notes, metrics, list(equity_arrays), figures, months, (years, yearly, yearly_bench),
                      bench, trades)
    return report.write_page(out_dir / "report.html", page, {figure.filename: figure.png for figure in figures})


def _tearsheet():
    from qfin.backtests import _tearsheet_figures

    return _tearsheet_figures


def _checked_benchmark(benchmark, n_bars: int) -> tuple[str, np.ndarray] | None:
    if benchmark is None:
        return None
    name, values = benchmark
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n_bars,) or not np.all(np.isfinite(values)) or np.any(values <= 0.0):
        raise DataValidationError(f"benchmark {name!r} must be {n_bars} positive finite values, one per timestamp; "
                                  f"got shape {values.shape}", rule="benchmark", column=str(name))
    return str(name), values


def _yearly(times: np.ndarray, returns: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Calendar years of ``times`` and each series' compounded return in each (NaN after a ruin ends it)."""
    years = [str(y) for y in np.unique(times.astype("datetime64[Y]"))]
    out = {}
    for name, r in returns.items():
        got, values = period_returns(times[: r.shape[0]], r, "Y")
        column = np.full(len(years), np.nan)
        column[[years.index(str(y)) for y in got]] = values
        out[name] = column
    return years, out


# ------------------------------------------------------------------------------------------------------ HTML


_METRIC_FORMATS = {"pct": ".2%", "ratio": ".2f", "plain": ".4g"}


def _format_metric(value: float | None, kind: str) -> str:
    return report.format_number(None if value is None else float(value), _METRIC_FORMATS[kind])


def _html_page(title, notes, metrics, strategies, figures, months, yearly, bench, trades) -> str:
    from qfin.backtests import _tearsheet_tables as tables

    notes = dict(notes)
    if not any(str(key).lower().replace("_", " ").replace("-", " ") == "generated at" for key in notes):
        notes["generated at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    present = {key for row in metrics.values() for key in row}
    columns = [column for column in _METRIC_COLUMNS if column[0] in present or column[0] in METRIC_NAMES]
    known = {key for key, _, _ in _METRIC_COLUMNS} | {"ruined", "ruin_date", DRAWDOWN_KEY}
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
    by_name = {figure.filename: figure for figure in figures}

    def show(*filenames: str) -> list:
        return [report.image(by_name[f].png, by_name[f].caption, f"{by_name[f].caption} ({f})")
                for f in filenames if f in by_name]

    drawdowns = tables.drawdowns_table(metrics)
    years, yearly_values, yearly_bench = yearly
    parts = [
        report.heading("Run"), report.notes_table(notes),
        report.heading("Metrics"), *ruin_notes, report.table(rows, header),
        report.paragraph(
            "Returns are simple returns of portfolio value from the initial cash (the first one is the first bar's "
            "value over the initial cash, so the opening trade's costs count). CAGR, volatility, Sharpe and Sortino "
            "are annualised; max drawdown is the largest fall from a running peak (negative); CVaR 95% is the mean "
            "loss over the worst 5% of bars; Calmar is CAGR over the absolute max drawdown; turnover is annualised "
            "one-way turnover (100% = the whole book replaced once a year)."
            + (f" Against the benchmark ({bench[0]}): beta = cov(r, b) / var(b); alpha = (1 + mean(r - beta b))^P "
               "- 1; tracking error = std(r - b) sqrt(P); information ratio = mean(r - b) / std(r - b) sqrt(P); "
               "up (down) capture = CAGR of the strategy over the bars the benchmark rose (fell) divided by the "
               "benchmark's CAGR over them (empyrical's definitions)." if bench else ""), css_class="note"),
        report.heading("Returns"), *show("equity.png", "cumulative_returns.png"),
        report.heading("Drawdowns"), *show("drawdown.png", "underwater.png"),
        *([report.heading("Worst drawdowns", 3), drawdowns,
           report.paragraph("The five deepest falls from a running peak of each strategy: the first bar under the "
                            "peak, the lowest bar, the first bar back at the peak, and the bars spent under it.",
                            css_class="note")] if drawdowns is not None else []),
        report.heading("Monthly and yearly returns"),
    ]
    for name, (month_starts, values) in months.items():
        parts += [report.heading(f"Monthly returns: {name}", 3), tables.monthly_heatmap(month_starts, values)]
    parts += [report.heading("End-of-year returns", 3), tables.yearly_table(years, yearly_values, yearly_bench),
              *show("yearly_returns.png"),
              report.heading("Distribution of returns"), *show("distribution.png"),
              report.heading("Rolling statistics"), *show("rolling_sharpe.png", "rolling_volatility.png",
                                                          "rolling_beta.png")]
    weight_files = [f.filename for f in figures if f.filename.startswith("weights_")]
    if weight_files:
        parts += [report.heading("Weights"), *show(*weight_files)]
    if trades is not None and trades.height:
        listing, sentence = tables.trades_table(trades)
        parts += [report.heading("Trades"), report.paragraph(sentence, css_class="note"), listing]
    return report.page(title, *parts)

