"""Assessing OPE estimators as policy selectors across logged datasets (Kiyohara et al. 2024, sec. 3 and 5).

Each estimator ranks the candidates once per logged dataset; every top-k metric of :mod:`qfin.ope._metrics` is
computed per dataset against the true values and then summarised across datasets by its mean and a percentile
bootstrap interval over datasets (Efron & Tibshirani 1993, ch. 13), seeded. :func:`plot_topk` draws
SharpeRatio@k and best/worst@k against k per estimator (matplotlib Agg, PNG bytes); :func:`write_report` writes
the table (Parquet), the figure (PNG) and one self-contained HTML page.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from qfin import report
from qfin.errors import DataValidationError
from qfin.ope import _metrics as m

__all__ = ["assess_estimators", "plot_topk", "summary_at_k", "write_report", "TOPK_METRICS", "GLOBAL_METRICS"]

TOPK_METRICS = ("sharpe_ratio_at_k", "best_at_k", "worst_at_k", "mean_at_k", "std_at_k", "kth_at_k",
                "safety_violation_rate", "regret_at_k")
GLOBAL_METRICS = ("rank_correlation", "mse", "normalized_mse", "type_i_error_rate", "type_ii_error_rate",
                  "undefined_rate")


def _bootstrap(values: np.ndarray, n_bootstrap: int, level: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of the mean over datasets; nan where any dataset's value is nan."""
    if values.size == 1 or not np.all(np.isfinite(values)):
        return (math.nan, math.nan)
    means = values[rng.integers(0, values.size, (n_bootstrap, values.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def assess_estimators(estimates: pl.DataFrame, true_values: Mapping[str, float], behavior_value: float, *,
                      ks: Sequence[int] | None = None, safety_threshold: float | None = None,
                      n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0,
                      tie_break: m.TieBreak = "index") -> pl.DataFrame:
    """All selection metrics per estimator, summarised across logged datasets.

    Parameters
    ----------
    estimates : polars DataFrame with columns ``dataset``, ``candidate``, ``estimator``, ``value``
        (e.g. :func:`~qfin.ope.estimate_all` per dataset with a ``dataset`` column added); every
        (dataset, estimator) must list every candidate once.
    true_values : candidate -> true policy value (from exact DP or many on-policy rollouts).
    behavior_value : J(pi_b), the SharpeRatio@k baseline.
    ks : the k to report (default 2..n); SharpeRatio@k and std@k need k >= 2.
    safety_threshold : the value below which a policy is unsafe (default J(pi_b)).

    An estimate that is nan (an estimator that cannot value a candidate on that dataset, e.g. a self-normalised
    one whose weights are all 0) ranks the candidate below every valued one (ties among them by index); that
    dataset's mse, normalized_mse and error rates are nan for the estimator, and ``undefined_rate`` reports the
    fraction of candidates left unvalued.

    Returns
    -------
    polars DataFrame: estimator, metric, k (null for the metrics without k), mean, low, high, n_datasets.
    """
    need = {"dataset", "candidate", "estimator", "value"}
    if not need <= set(estimates.columns):
        raise DataValidationError(f"estimates lacks column(s) {sorted(need - set(estimates.columns))}; needs "
                                  f"{sorted(need)}", rule="missing_columns")
    names = sorted(true_values)
    unknown = sorted(set(estimates["candidate"].unique().to_list()) - set(names))
    if unknown:
        raise DataValidationError(f"candidates {unknown} have estimates but no true value", rule="unknown_candidate",
                                  column="candidate")
    n = len(names)
    ks = list(range(2, n + 1)) if ks is None else [int(k) for k in ks]
    for k in ks:
        m._check_k(k, n, minimum=2, why=" (SharpeRatio@k needs two policies)")
    threshold = float(behavior_value if safety_threshold is None else safety_threshold)
    true = np.array([true_values[c] for c in names], dtype=np.float64)
    wide = estimates.pivot(on="candidate", index=["estimator", "dataset"], values="value",
                           aggregate_function=None).sort(["estimator", "dataset"])
    missing = [c for c in names if c not in wide.columns]
    if missing or wide.select(pl.col(names).is_null().any()).row(0).count(True):
        raise DataValidationError(f"every (dataset, estimator) must estimate every candidate; missing: "
                                  f"{missing or 'some (dataset, estimator) rows'}", rule="incomplete_estimates")
    rng = np.random.default_rng(seed)
    rows = []
    for (est_name,), group in wide.group_by(["estimator"], maintain_order=True):
        mat = group.select(names).to_numpy().astype(np.float64)  # [n_datasets, n_candidates]
        per: dict[tuple[str, int | None], list[float]] = {}
        for raw in mat:
            # An estimator that cannot value a candidate (nan: e.g. a self-normalised estimate whose weights are
            # all 0) does not select it: ranked below every valued candidate; its accuracy metrics are nan.
            undefined = ~np.isfinite(raw)
            row = raw
            if undefined.any():
                floor = np.nanmin(raw[~undefined]) if (~undefined).any() else 0.0
                row = np.where(undefined, floor - 1.0 - np.arange(n), raw)
            for k in ks:
                kw = {"tie_break": tie_break}
                per.setdefault(("sharpe_ratio_at_k", k), []).append(
                    m.sharpe_ratio_at_k(row, true, behavior_value, k, **kw))
                for name in ("best_at_k", "worst_at_k", "mean_at_k", "std_at_k", "kth_at_k", "regret_at_k"):
                    per.setdefault((name, k), []).append(getattr(m, name)(row, true, k, **kw))
                per.setdefault(("safety_violation_rate", k), []).append(
                    m.safety_violation_rate(row, true, k, threshold, **kw))
            per.setdefault(("rank_correlation", None), []).append(m.rank_correlation(row, true))
            accurate = not undefined.any()
            per.setdefault(("mse", None), []).append(m.mse(row, true) if accurate else math.nan)
            per.setdefault(("normalized_mse", None), []).append(m.normalized_mse(row, true) if accurate else math.nan)
            per.setdefault(("type_i_error_rate", None), []).append(
                m.type_i_error_rate(row, true, threshold) if accurate else math.nan)
            per.setdefault(("type_ii_error_rate", None), []).append(
                m.type_ii_error_rate(row, true, threshold) if accurate else math.nan)
            per.setdefault(("undefined_rate", None), []).append(float(undefined.mean()))
        for (metric, k), vals in per.items():
            v = np.asarray(vals)
            lo, hi = _bootstrap(v, n_bootstrap, level, rng)
            rows.append({"estimator": est_name, "metric": metric, "k": k, "mean": float(np.mean(v)), "low": lo,
                         "high": hi, "n_datasets": int(v.size)})
    return pl.DataFrame(rows, schema={"estimator": pl.Utf8, "metric": pl.Utf8, "k": pl.Int64, "mean": pl.Float64,
                                      "low": pl.Float64, "high": pl.Float64, "n_datasets": pl.Int64})


def summary_at_k(table: pl.DataFrame, k: int,
                 metrics: Sequence[str] = ("sharpe_ratio_at_k", "best_at_k", "worst_at_k", "regret_at_k",
                                           "rank_correlation", "normalized_mse", "undefined_rate")) -> pl.DataFrame:
    """One row per estimator, one column per metric: the mean over datasets at this ``k`` (metrics without k as
    they are), from an :func:`assess_estimators` table; estimators in the table's order."""
    ks = table["k"].drop_nulls().unique().to_list()
    if k not in ks:
        raise DataValidationError(f"k = {k} was not assessed; assessed k: {sorted(ks)}", rule="unknown_k",
                                  column="k")
    part = table.filter(pl.col("metric").is_in(list(metrics)) & (pl.col("k").is_null() | (pl.col("k") == k)))
    wide = part.pivot(on="metric", index="estimator", values="mean", aggregate_function=None,
                      maintain_order=True)
    return wide.select("estimator", *[m for m in metrics if m in wide.columns])


def plot_topk(table: pl.DataFrame, *, title: str = "Off-policy selection") -> bytes:
    """PNG of SharpeRatio@k (left) and best@k / worst@k (right) against k, one colour per estimator, with the
    bootstrap intervals shaded. ``table`` is the output of :func:`assess_estimators`."""
    from matplotlib import colormaps

    figure = report.new_figure(11, 4.2, dpi=110, layout="constrained")
    left, right = figure.subplots(1, 2)
    estimators = table["estimator"].unique(maintain_order=True).to_list()
    colours = colormaps["tab10"]
    for i, est in enumerate(estimators):
        colour = colours(i % 10)
        for axes, metric, style, label in ((left, "sharpe_ratio_at_k", "-", est), (right, "best_at_k", "-", est),
                                           (right, "worst_at_k", "--", None)):
            part = table.filter((pl.col("estimator") == est) & (pl.col("metric") == metric)).sort("k")
            k = part["k"].to_numpy()
            mean = np.where(np.isfinite(part["mean"].to_numpy()), part["mean"].to_numpy(), np.nan)
            axes.plot(k, mean, style, color=colour, label=label, marker="o", markersize=3)
            axes.fill_between(k, part["low"].to_numpy(), part["high"].to_numpy(), color=colour, alpha=0.15,
                              linewidth=0)
    left.set(title="SharpeRatio@k", xlabel="k (policies deployed)")
    right.set(title="best@k (solid), worst@k (dashed)", xlabel="k (policies deployed)", ylabel="true policy value")
    for axes in (left, right):
        axes.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figure.suptitle(report.figure_text(title), fontsize=11)
    return report.png_bytes(figure)


def _fmt(mean: float, low: float, high: float) -> report.Html:
    """A cell "mean [low, high]" (the interval small), or the mean alone where there is no interval."""
    if not math.isfinite(mean):
        return report.escape(report.format_number(mean))
    if not math.isfinite(low):
        return report.escape(f"{mean:.4g}")
    return report.Html(f"{mean:.4g} <small>[{low:.4g}, {high:.4g}]</small>")


def write_report(out_dir: str | os.PathLike, table: pl.DataFrame, *, title: str = "Off-policy selection",
                 notes: str = "", truth: pl.DataFrame | None = None, extra_parts: Sequence[object] = (),
                 extra_files: Mapping[str, bytes] | None = None) -> Path:
    """Write ``metrics.parquet`` (the :func:`assess_estimators` table), ``topk.png`` (:func:`plot_topk`) and
    ``report.html`` (the figure embedded, one table of top-k metrics by k and one of the metrics without k, each
    cell "mean [low, high]"; with ``truth`` (candidate, value, stderr and optionally gap_to_next, gap_stderr) a
    table of the true values) into ``out_dir``; every file is rendered first and written atomically (all or
    nothing, :func:`qfin.report.write_files`); ``extra_parts`` and ``extra_files`` (e.g. the risk section) go at
    the end of the page and beside it. Returns the HTML path."""
    out = Path(out_dir)
    png = plot_topk(table, title=title)
    parquet = io.BytesIO()
    table.write_parquet(parquet)
    estimators = table["estimator"].unique(maintain_order=True).to_list()
    parts = [report.paragraph(notes)] if notes else []
    parts.append(report.image(png, "SharpeRatio@k and best/worst@k against k"))
    for metric in TOPK_METRICS:
        part = table.filter(pl.col("metric") == metric)
        ks = sorted(part["k"].unique().to_list())
        rows = []
        for est in estimators:
            cells = {r["k"]: _fmt(r["mean"], r["low"], r["high"])
                     for r in part.filter(pl.col("estimator") == est).iter_rows(named=True)}
            rows.append([est, *(cells.get(k, report.Html("")) for k in ks)])
        parts += [report.heading(metric), report.table(rows, ["estimator", *(f"k={k}" for k in ks)],
                                                       row_headers=True)]
    part = table.filter(pl.col("k").is_null())
    rows = []
    for est in estimators:
        cells = {r["metric"]: _fmt(r["mean"], r["low"], r["high"])
                 for r in part.filter(pl.col("estimator") == est).iter_rows(named=True)}
        rows.append([est, *(cells.get(m, report.Html("")) for m in GLOBAL_METRICS)])
    parts += [report.heading("Accuracy and ranking"), report.table(rows, ["estimator", *GLOBAL_METRICS],
                                                                   row_headers=True)]
    if truth is not None:
        def gap(r: dict) -> str:
            if r.get("gap_to_next") is None:
                return ""
            return f"{r['gap_to_next']:.3g} ± {r['gap_stderr']:.2g}"

        rows = [[str(r["candidate"]), f"{r['value']:.4g}", f"{r['stderr']:.2g}", gap(r)]
                for r in truth.sort("value", descending=True).iter_rows(named=True)]
        parts += [report.heading("True policy values (on-policy rollouts)"),
                  report.table(rows, ["policy", "value", "s.e.", "gap to the next (paired s.e.)"], row_headers=True)]
    n = int(table["n_datasets"].max()) if table.height else 0
    parts += list(extra_parts)
    parts.append(report.paragraph(f"Means over {n} logged datasets; brackets: percentile bootstrap interval over "
                                  "datasets.", css_class="note"))
    report.write_page(out / "report.html", report.page(title, *parts),
                      {"metrics.parquet": parquet.getvalue(), "topk.png": png, **(extra_files or {})})
    return out / "report.html"
