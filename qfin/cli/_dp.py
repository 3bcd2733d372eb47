"""`qfin dp solve PROBLEM.toml`: solve a distributional-DP problem exactly and show value, policy and return law."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console

dp_app = command_group("Distributional dynamic programming with stock augmentation.")


@dp_app.command("solve")
def solve_command(
    spec: Path = typer.Argument(..., help="Problem spec (TOML), e.g. models/dp/liquidation.toml."),
    out: Path = typer.Option(Path("runs") / "dp", "--out", "-o",
                             help="Folder for the HTML report and the return-distribution PNG."),
) -> None:
    """Print the optimal objective value, the stock-augmented policy on the states it reaches, and draw the
    optimal return distribution beside the risk-neutral one; writes OUT/<spec>.html (value, policy, figure) and
    OUT/<spec>.png."""
    from qfin.data import check_output_dir, config_hash
    from qfin.dp import load_spec, solve_spec, write_solve_report

    printer = console()
    page = out / f"{spec.stem}.html"
    check_output_dir(out, "dp", files=[page.name, page.with_suffix(".png").name])  # before the work, not after it
    result, neutral, rows, _ = solve_spec(spec)
    printer.rule(f"{spec.name}: {type(result.objective).__name__}")
    printer.print(f"optimal value {result.value:.6g} (start stock c0 = {result.initial_stock:g}); risk-neutral "
                  f"policy's value {result.objective.evaluate(neutral.distribution):.6g}, its mean "
                  f"{neutral.value:.6g}")
    table = Table("t", "state", "stock c_t", "action", "probability")
    for row in rows:
        table.add_row(str(row["t"]), str(row["state"]), f"{row['stock']:.4g}", str(row["action"]),
                      f"{row['probability']:.4f}")
    printer.print(table)
    page = write_solve_report(page, result, neutral, rows, title=spec.name, spec_hash=config_hash(load_spec(spec)))
    printer.print(f"report: {page}; return distributions: {page.with_suffix('.png')}")
