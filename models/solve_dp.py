"""Solve the shipped distributional-DP finance problems (or a PROBLEM.toml) and show the results.

    .venv/bin/python models/solve_dp.py                       # all specs in models/dp/
    .venv/bin/python models/solve_dp.py models/dp/liquidation.toml --out models/artifacts/dp

Each spec runs through `qfin dp solve SPEC --out DIR`: the optimal objective value, the stock-augmented policy on
the states it reaches (a table), and a PNG of the optimal return distribution beside the risk-neutral one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", type=Path, help="PROBLEM.toml files (default: models/dp/*.toml)")
    parser.add_argument("--out", type=Path, default=HERE / "artifacts" / "dp", help="folder for the PNGs")
    args = parser.parse_args()
    for spec in args.specs or sorted((HERE / "dp").glob("*.toml")):  # each one is `qfin dp solve SPEC`
        subprocess.run([sys.executable, "-m", "qfin", "dp", "solve", str(spec), "--out", str(args.out)], check=True)


if __name__ == "__main__":
    main()
