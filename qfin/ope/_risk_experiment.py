"""The risk part of an OPE experiment (spec section ``[risk]``): per logged dataset and candidate, the return CDF
by each distributional estimator with its mean and CVaR and their bootstrap bounds (:func:`risk_estimates`); the
true laws from the on-policy returns; selection by mean, by CVaR and by the CVaR's lower bound
(:func:`assess_risk_selection`); and the report's figures and tables (estimated vs true CDFs, CVaR estimates with
bounds, SharpeRatio@k against k per criterion)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from qfin import report

from ._cdf_models import cdf_thresholds, fit_cdf_model
from ._distributional import ReturnCDF, weighted_cdf
from ._logged import LoggedData
from ._risk import risk_estimates
from ._risk_selection import assess_risk_selection

__all__ = ["RiskResult", "RiskSpec", "assess_risk", "risk_report_parts", "true_risk"]


class RiskSpec(BaseModel):
    """The spec's ``[risk]`` section: CVaR level ``alpha``, the distributional ``estimators``, the bounds' ``level``
    and ``n_bootstrap``, the CDF grid's size ``thresholds``, and the bootstrap ``seed``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.05, gt=0, lt=1)
    estimators: list[Literal["tis", "sntis", "dm", "dr"]] = Field(["tis", "sntis", "dm", "dr"], min_length=1)
    level: float = Field(0.95, gt=0, lt=1)
    n_bootstrap: int = Field(200, ge=100)
    thresholds: int = Field(200, ge=2)
    seed: int = 0


@dataclass(frozen=True)
class RiskResult:
    """``estimates``: dataset, candidate, estimator, mean, mean_low, mean_high, cvar, cvar_low, cvar_high;
    ``table``: the selection metrics per criterion; ``truth``: candidate (and ``behavior``), mean, cvar;
    ``cdfs``: the first dataset's estimated CDFs, (candidate, estimator) -> ReturnCDF; ``alpha``."""

    estimates: pl.DataFrame
    table: pl.DataFrame
    truth: pl.DataFrame
    cdfs: dict[tuple[str, str], ReturnCDF]
    true_laws: dict[str, ReturnCDF]
    alpha: float


def true_risk(returns: Mapping[str, np.ndarray], alpha: float) -> tuple[pl.DataFrame, dict[str, ReturnCDF]]:
    """Each policy's on-policy law (equal weights on its returns), mean and CVaR at ``alpha``."""
    laws = {name: weighted_cdf(g, np.ones(g.size)) for name, g in returns.items()}
    frame = pl.DataFrame([{"candidate": name, "mean": law.mean(), "cvar": law.cvar(alpha)}
                          for name, law in laws.items()])
    return frame, laws


def assess_risk(datasets: Sequence[LoggedData], candidates: Sequence[str], returns: Mapping[str, np.ndarray], *,
                estimators: Sequence[str], alpha: float, level: float, n_bootstrap: int, n_thresholds: int,
                seed: int, features=None, ks: Sequence[int] | None = None, assess_bootstrap: int = 1000,
                progress=None) -> RiskResult:
    """Risk estimates on every dataset and their assessment as selectors (module docstring); ``features``: a
    function of a dataset giving FQE features [n, H, d] for the dm/dr model (None: the default)."""
    truth, laws = true_risk(returns, alpha)
    rows, cdfs = [], {}
    for k, data in enumerate(datasets):
        grid = cdf_thresholds(data, n_thresholds)
        phi = None if features is None else features(data)
        for cand in candidates:
            models = {}
            if any(e in ("dm", "dr") for e in estimators):
                models["model"] = fit_cdf_model(data, cand, thresholds=grid, features=phi)
            est = risk_estimates(data, cand, estimators, alpha=alpha, grid=grid, level=level,
                                 n_bootstrap=n_bootstrap, seed=seed + k, models=models)
            for name, row in est.items():
                if k == 0:
                    cdfs[(cand, name)] = row["cdf"]
                rows.append({"dataset": k, "candidate": cand, "estimator": name,
                             **{c: float(row[c]) for c in ("mean", "mean_low", "mean_high", "cvar", "cvar_low",
                                                           "cvar_high")}})
        if progress is not None:
            progress()
    estimates = pl.DataFrame(rows)
    by = {r["candidate"]: r for r in truth.iter_rows(named=True)}
    table = assess_risk_selection(estimates, {f: {c: by[c][f] for c in candidates} for f in ("mean", "cvar")},
                                  {f: by["behavior"][f] for f in ("mean", "cvar")}, ks=ks,
                                  n_bootstrap=assess_bootstrap, seed=seed)
    return RiskResult(estimates, table, truth, cdfs, laws, alpha)


def _plot_cdfs(result: RiskResult) -> bytes:
    from matplotlib import colormaps

    names = sorted({c for c, _ in result.cdfs})
    estimators = list(dict.fromkeys(e for _, e in result.cdfs))
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    figure = report.new_figure(3.2 * cols, 2.6 * rows, dpi=100, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).ravel()
    colours = colormaps["tab10"]
    for ax, name in zip(axes, names, strict=False):
        law = result.true_laws[name]
        ax.step(law.atoms, np.cumsum(law.masses), where="post", color="black", linewidth=1.6, label="true")
        for i, est in enumerate(estimators):
            cdf = result.cdfs[(name, est)]
            ax.step(cdf.atoms, np.cumsum(cdf.masses), where="post", color=colours(i), linewidth=0.9, label=est)
        ax.set_title(report.figure_text(name), fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    figure.suptitle("Return CDF per candidate: on-policy truth (black) and estimates from logged dataset 0",
                    fontsize=10)
    return report.png_bytes(figure)


def _plot_cvar_bounds(result: RiskResult) -> bytes:
    from matplotlib import colormaps

    first = result.estimates.filter(pl.col("dataset") == 0)
    names = sorted(first["candidate"].unique().to_list())
    estimators = first["estimator"].unique(maintain_order=True).to_list()
    true = {r["candidate"]: r["cvar"] for r in result.truth.iter_rows(named=True)}
    figure = report.new_figure(max(6.0, 0.9 * len(names)), 3.8, dpi=110, layout="constrained")
    ax = figure.subplots()
    colours = colormaps["tab10"]
    x = np.arange(len(names))
    width = 0.8 / max(len(estimators), 1)
    for i, est in enumerate(estimators):
        part = {r["candidate"]: r for r in first.filter(pl.col("estimator") == est).iter_rows(named=True)}
        mid = np.array([part[n]["cvar"] for n in names])
        low = np.array([part[n]["cvar_low"] for n in names])
        high = np.array([part[n]["cvar_high"] for n in names])
        ax.errorbar(x - 0.4 + (i + 0.5) * width, mid, yerr=[mid - low, high - mid], fmt="o", markersize=3,
                    color=colours(i), label=est, capsize=2)
    ax.scatter(x, [true[n] for n in names], marker="_", s=400, color="black", label="true", zorder=3)
    ax.set_xticks(x, [report.figure_text(n) for n in names], rotation=30, ha="right", fontsize=8)
    ax.set(title=f"CVaR at {result.alpha:g} (mean of the worst {result.alpha:.0%} of returns), dataset 0, "
                 "with bootstrap bounds", ylabel="CVaR of the return")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return report.png_bytes(figure)


def _plot_risk_topk(result: RiskResult) -> bytes:
    from matplotlib import colormaps

    criteria = result.table["criterion"].unique(maintain_order=True).to_list()
    figure = report.new_figure(3.6 * len(criteria), 3.4, dpi=110, layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(criteria), squeeze=False)).ravel()
    colours = colormaps["tab10"]
    part = result.table.filter(pl.col("metric") == "sharpe_ratio_at_k")
    for ax, criterion in zip(axes, criteria, strict=True):
        for i, est in enumerate(part["estimator"].unique(maintain_order=True).to_list()):
            p = part.filter((pl.col("criterion") == criterion) & (pl.col("estimator") == est)).sort("k")
            ax.plot(p["k"].to_numpy(), p["mean"].to_numpy(), "-o", markersize=3, color=colours(i), label=est)
            ax.fill_between(p["k"].to_numpy(), p["low"].to_numpy(), p["high"].to_numpy(), color=colours(i),
                            alpha=0.12, linewidth=0)
        ax.set(title=f"SharpeRatio@k selecting by {criterion}", xlabel="k (policies deployed)")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    return report.png_bytes(figure)


def risk_report_parts(result: RiskResult, k: int = 3) -> tuple[list, dict[str, bytes]]:
    """HTML parts (figures and tables) and the files (PNG, Parquet) of the risk section of the report."""
    import io

    cdf_png, cvar_png, topk_png = _plot_cdfs(result), _plot_cvar_bounds(result), _plot_risk_topk(result)
    parts = [report.heading(f"Risk: return distributions and CVaR at {result.alpha:g}"),
             report.image(cdf_png, "estimated vs true return CDFs per candidate"),
             report.image(cvar_png, "CVaR estimates with bootstrap bounds"),
             report.image(topk_png, "SharpeRatio@k against k per selection criterion")]
    sr = result.table.filter((pl.col("metric") == "sharpe_ratio_at_k") & (pl.col("k") == k))
    criteria = sr["criterion"].unique(maintain_order=True).to_list()
    rows = []
    for est in sr["estimator"].unique(maintain_order=True).to_list():
        cells = {r["criterion"]: r for r in sr.filter(pl.col("estimator") == est).iter_rows(named=True)}
        rows.append([est, *(report.Html(f"{cells[c]['mean']:.3g} <small>[{cells[c]['low']:.3g}, "
                                         f"{cells[c]['high']:.3g}]</small>") if c in cells else "" for c in criteria)])
    parts += [report.heading(f"SharpeRatio@{k} by selection criterion"),
              report.table(rows, ["estimator", *criteria], row_headers=True)]
    first = result.estimates.filter(pl.col("dataset") == 0).sort(["candidate", "estimator"])
    true = {r["candidate"]: r for r in result.truth.iter_rows(named=True)}
    rows = [[r["candidate"], r["estimator"], f"{r['cvar']:.4g}", f"[{r['cvar_low']:.4g}, {r['cvar_high']:.4g}]",
             f"{true[r['candidate']]['cvar']:.4g}", f"{r['mean']:.4g}", f"{true[r['candidate']]['mean']:.4g}"]
            for r in first.iter_rows(named=True)]
    parts += [report.heading("Estimates on dataset 0 against the truth"),
              report.table(rows, ["candidate", "estimator", "CVaR", "bounds", "true CVaR", "mean", "true mean"])]
    buf, table_buf = io.BytesIO(), io.BytesIO()
    result.estimates.write_parquet(buf)
    result.table.write_parquet(table_buf)
    files = {"risk_cdfs.png": cdf_png, "risk_cvar.png": cvar_png, "risk_topk.png": topk_png,
             "risk_estimates.parquet": buf.getvalue(), "risk_metrics.parquet": table_buf.getvalue()}
    return parts, files
