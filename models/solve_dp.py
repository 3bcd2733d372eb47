"""Solve the shipped distributional-DP finance problems (or a PROBLEM.toml) and show the results.

    python models/solve_dp.py                       # all specs in models/dp/
    python models/solve_dp.py models/dp/liquidation.toml --out models/artifacts/dp

For each spec: the optimal objective value, the stock-augmented policy on the states it reaches (a table), and a
PNG of the optimal return distribution beside the risk-neutral one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from qfin.dp import plot_return_distributions, solve_spec

HERE = Path(__file__).resolve().parent


def show(spec: Path, out: Path, console: Console) -> None:
    result, neutral, rows, _ = solve_spec(spec)
    console.rule(f"{spec.name}: {type(result.objective).__name__}")
    console.print(f"optimal value {result.value:.6g} (start stock c0 = {result.initial_stock:g}); risk-neutral "
                  f"policy's value {result.objective.evaluate(neutral.distribution):.6g}, its mean "
                  f"{neutral.value:.6g}")
    table = Table("t", "state", "stock c_t", "action", "probability")
    for row in rows:
        table.add_row(str(row["t"]), str(row["state"]), f"{row['stock']:.4g}", str(row["action"]),
                      f"{row['probability']:.4f}")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_return_distributions(result, neutral, out / f"{spec.stem}.png")
    console.print(f"return distributions: {png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", type=Path, help="PROBLEM.toml files (default: models/dp/*.toml)")
    parser.add_argument("--out", type=Path, default=HERE / "artifacts" / "dp", help="folder for the PNGs")
    args = parser.parse_args()
    console = Console()
    for spec in args.specs or sorted((HERE / "dp").glob("*.toml")):
        show(spec, args.out, console)


if __name__ == "__main__":
    main()
