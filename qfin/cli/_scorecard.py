"""`qfin scorecard build DATA --target COL --out DIR`: fit, evaluate and report a credit scorecard."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console

scorecard_app = command_group("Credit scorecards: binning, WoE/IV, three encodings, fairness.")


@scorecard_app.command("build")
def build_command(
    data: str = typer.Argument(..., help="Dataset name (see `qfin data list`, e.g. german_credit) or a CSV/Parquet "
                                         "file with one row per applicant."),
    target: str = typer.Option(..., "--target", "-t", help="The 0/1 target column (1 = bad, 0 = good)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.html, the CSV tables, metrics.json and "
                                                      "the charts (replaced only if empty or an earlier scorecard)."),
    protected: list[str] = typer.Option([], "--protected", "-p",
                                        help="Protected attribute, repeatable: COL, COL<NUMBER (numeric: below "
                                             "NUMBER is the group) or COL~TEXT (levels containing TEXT)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, binning, models and bootstrap."),
) -> None:
    """Split, bin, fit the WoE, one-hot and stump scorecards, and write a self-contained HTML report with test
    AUC/Gini/KS, IV with standard errors, points, stability and (with --protected) the fairness frontier."""
    from qfin.data import read_table

    frame = read_table(data)  # first: a wrong DATA fails before the heavy imports below
    from qfin.scorecards import build_scorecard

    with warnings.catch_warnings():  # the sample-size verdict is printed below, once, without a source line
        warnings.filterwarnings("ignore", message=r"the (woe|onehot) scorecard has \d+ parameters")
        result = build_scorecard(frame, target, out, protected=protected, seed=seed,
                                 title=f"Scorecard: {Path(data).stem}")
    printer = console()
    table = Table(title=f"test discrimination ({result['n_test']} rows, 95% bootstrap CI)", box=box.SIMPLE_HEAD)
    for column in ("encoding", "AUC", "Gini", "KS"):
        table.add_column(column, justify="left" if column == "encoding" else "right", no_wrap=True)
    for enc, m in result["test_metrics"].items():
        table.add_row(enc, *(f"{m[k]['value']:.3f} [{m[k]['ci_low']:.3f}, {m[k]['ci_high']:.3f}]"
                             for k in ("auc", "gini", "ks")))
    printer.print(table)
    top = Table(title="top features by information value", box=box.SIMPLE_HEAD)
    top.add_column("feature", no_wrap=True)
    top.add_column("IV", justify="right")
    top.add_column("SE", justify="right")
    for row in result["top_iv"][:5]:
        top.add_row(row["feature"], f"{row['iv']:.3f}", f"{row['std_error']:.3f}")
    printer.print(top)
    for enc, c in result["sample_size"].items():
        if "error" in c:
            printer.print(f"sample size ({enc}): {c['error']}")
        else:
            verdict = "ok" if c["ok"] else f"too many parameters: needs {c['min_rows']} rows or at most " \
                                           f"{c['max_params']} parameters"
            printer.print(f"sample size ({enc}): {c['n_params']} parameters, {c['n_rows']} rows, expected KL "
                          f"p/2n = {c['expected_kl']:.4f} nats (limit {c['tolerance']:g}): {verdict}")
    for column, group in result["protected"].items():
        printer.print(f"IV_fair of the score, {group}: {result['iv_fair_score'][column]:.4f}")
    printer.print(f"report: {out / 'report.html'}")


@scorecard_app.command("monitor")
def monitor_command(
    reference: str = typer.Argument(..., help="The reference sample (dataset name or CSV/Parquet), e.g. the "
                                              "development data."),
    new: str = typer.Argument(..., help="The new sample to compare (dataset name or CSV/Parquet)."),
    card: Path = typer.Option(..., "--card", "-c", help="A `qfin scorecard build` folder (its scorecard.json) or "
                                                        "the JSON spec itself."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for report.html, monitoring.json and the CSV tables "
                                                       "(replaced only if empty or an earlier monitoring output)."),
    target: str = typer.Option(None, "--target", "-t", help="The 0/1 outcome column, when both samples hold it: "
                                                            "the score's KS and Gini drift."),
    thresholds: str = typer.Option("industry", "--thresholds", help="PSI limits: industry (0.10/0.25) or paper "
                                                                    "(0.02/0.10)."),
) -> None:
    """PSI per feature and for the score (with standard errors and p-values), characteristic analysis, the score's
    KS/Gini drift and alerts between a reference and a new sample, under a built scorecard."""
    from qfin.data import read_table
    from qfin.errors import DataValidationError

    if thresholds not in ("industry", "paper"):
        raise DataValidationError(f"--thresholds must be 'industry' or 'paper'; got {thresholds!r}", rule="value")
    ref, cur = read_table(reference), read_table(new)
    from qfin.scorecards import monitor, write_monitoring

    result = monitor(card, ref, cur, target=target, thresholds=thresholds)
    printer = console()
    table = Table(title=f"stability, {result.score['reference_rows']} reference vs {result.score['new_rows']} new "
                        f"rows", box=box.SIMPLE_HEAD)
    for column in ("feature", "PSI", "SE", "p-value", "status", "points shift"):
        table.add_column(column, justify="left" if column in ("feature", "status") else "right", no_wrap=True)
    for r in result.to_frame().iter_rows(named=True):
        table.add_row(r["feature"], f"{r['psi']:.4f}", f"{r['std_error']:.4f}", f"{r['p_value']:.3g}", r["status"],
                      f"{r['points_shift']:+.2f}")
    printer.print(table)
    if result.discrimination is not None:
        for r in result.discrimination.iter_rows(named=True):
            printer.print(f"{r['metric'].upper()}: {r['reference']:.3f} -> {r['new']:.3f} (drift {r['drift']:+.3f})")
    for r in result.alerts.iter_rows(named=True):
        printer.print(f"{r['level'].upper()}: {r['message']}")
    if not result.alerts.height:
        printer.print("no alerts")
    if out is not None:
        printer.print(f"report: {write_monitoring(result, out)}")
