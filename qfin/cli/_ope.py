"""`qfin ope run SPEC.toml`: assess off-policy estimators as policy selectors (SharpeRatio@k and friends)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._parallel import ADDRESS, BACKEND, WORKERS, parallel_options
from qfin.cli._tables import console

ope_app = command_group("Off-policy evaluation: estimators scored as policy selectors.")

HEADERS = {"sharpe_ratio_at_k": "SharpeRatio@k", "best_at_k": "best@k", "worst_at_k": "worst@k",
           "regret_at_k": "regret@k", "rank_correlation": "Spearman", "normalized_mse": "nMSE",
           "undefined_rate": "unvalued"}


@ope_app.command("run")
def run_command(
    spec: Path = typer.Argument(..., help="Experiment spec (TOML), e.g. models/ope/hedging.toml."),
    out: Path = typer.Option(Path("runs") / "ope", "--out", "-o", help="Output folder (report.html, tables, logs)."),
    k: int = typer.Option(3, "--k", help="The k of the printed top-k metrics (the report has every k)."),
    backend: str = BACKEND, workers: int = WORKERS, address: str = ADDRESS,
) -> None:
    """Roll out the ground truth, log datasets under the behavior policy, estimate every candidate with every
    estimator, and score the estimators across datasets; prints the true values and a table at k."""
    from qfin.ope import run_ope_experiment, summary_at_k

    printer = console()
    result = run_ope_experiment(spec, out, **parallel_options(backend, workers, address))
    truth = Table("policy", "true value", "s.e.", "gap to next", "paired s.e.", title="Ground truth (on-policy)",
                  box=box.SIMPLE_HEAD)
    for row in result.truth.sort("value", descending=True).iter_rows(named=True):
        gap = row.get("gap_to_next")
        truth.add_row(row["candidate"], f"{row['value']:.4f}", f"{row['stderr']:.4f}",
                      "" if gap is None else f"{gap:.4f}", "" if gap is None else f"{row['gap_stderr']:.4f}")
    printer.print(truth)
    summary = summary_at_k(result.table, k)
    n = int(result.table["n_datasets"].max())
    table = Table(title=f"Estimators as selectors, k = {k} (means over {n} datasets)", box=box.SIMPLE_HEAD)
    table.add_column("estimator", no_wrap=True)
    for name in summary.columns[1:]:
        table.add_column(HEADERS.get(name, name), justify="right", no_wrap=True)
    for row in summary.iter_rows():
        table.add_row(row[0], *(f"{v:.3f}" if v is not None else "-" for v in row[1:]))
    printer.print(table)
    if result.risk is not None:
        printer.print(_risk_table(result.risk, k))
    printer.print(f"report: {result.out_dir / 'report.html'}")


def _risk_table(risk, k: int) -> Table:
    """SharpeRatio@k per distributional estimator when selecting by mean, by CVaR and by the CVaR's lower bound."""
    import polars as pl

    part = risk.table.filter((pl.col("metric") == "sharpe_ratio_at_k") & (pl.col("k") == k))
    criteria = part["criterion"].unique(maintain_order=True).to_list()
    table = Table(title=f"SharpeRatio@{k} by selection criterion (CVaR at {risk.alpha:g}; means over datasets)",
                  box=box.SIMPLE_HEAD)
    table.add_column("estimator", no_wrap=True)
    for criterion in criteria:
        table.add_column(criterion, justify="right", no_wrap=True)
    for est in part["estimator"].unique(maintain_order=True).to_list():
        cells = {r["criterion"]: r["mean"] for r in part.filter(pl.col("estimator") == est).iter_rows(named=True)}
        table.add_row(est, *(f"{cells[c]:.3f}" if cells.get(c) is not None else "-" for c in criteria))
    return table
