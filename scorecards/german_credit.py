"""Build, evaluate and save a credit scorecard on the UCI German credit data, as plain library use.

    .venv/bin/python scorecards/german_credit.py [--out OUT_DIR]     # default runs/scorecards

Writes to OUT_DIR: metrics.json (test AUC/Gini/KS with bootstrap intervals for the three encodings),
iv_table.csv (IV with delta-method SEs), points_table.csv, frontier.csv, stability.csv, PNG charts (WoE per
feature, ROC, fairness frontier) and report.html gathering them (self-contained). Everything is seeded.
The same build from the command line: `qfin scorecard build german_credit --target target --out OUT_DIR
--protected "age_in_years<25" --protected "personal_status_and_sex~female"`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qfin.data import load_dataset
from qfin.scorecards import build_scorecard

SEED = 0
# protected groups: applicants under 25 (the frontier's group) and women
PROTECTED = ["age_in_years<25", "personal_status_and_sex~female"]


def main(out: Path) -> dict:
    """Build the German credit scorecard into ``out``; return the test metrics per encoding."""
    result = build_scorecard(load_dataset("german_credit"), "target", out, protected=PROTECTED, seed=SEED,
                             title="German credit scorecard")
    return result["test_metrics"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments: where to write the scorecard (the positional form is kept for old scripts)."""
    parser = argparse.ArgumentParser(description="Build, evaluate and save the German credit scorecard.")
    parser.add_argument("out_dir", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/scorecards)")
    args = parser.parse_args(argv)
    if args.out is not None and args.out_dir is not None:
        parser.error("give the output folder once: either --out OUT_DIR or OUT_DIR, not both")
    args.out = (args.out or args.out_dir or Path("runs/scorecards")).resolve()
    return args


if __name__ == "__main__":
    out_dir = parse_args().out
    metrics = main(out_dir)
    for enc, v in metrics.items():
        print(f"{enc:7s} test AUC {v['auc']['value']:.3f} [{v['auc']['ci_low']:.3f}, {v['auc']['ci_high']:.3f}]"
              f"  KS {v['ks']['value']:.3f}")
    print(f"report: {out_dir / 'report.html'}")
