"""The README's path-dependent deep-hedging table: a barrier, an Asian, a lookback and a call spread under the
calibrated Heston with 10 bp costs, every classical hedge against the LSTM hedger trained with Adam and K-FAC.

    nice -n 10 .venv/bin/python models/compare_hedgers.py --out runs/hedging_claims

Runs ``qfin.hedging.run_hedging_experiment`` on each of models/hedging/{barrier,asian,lookback,call_spread}.toml
(3 seeds each; the budget is in those files), writes each run's metrics.json and report.html under OUT/<name>,
and prints two Markdown tables: the strategies (mean, std, CVaR 95 of the P&L, entropic risk, costs; LSTM rows
are means over the seeds) and the paired differences in entropic risk over the seeds (mean +- standard error).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from qfin.hedging import load_experiment_config, run_hedging_experiment

CONFIGS = ("barrier", "asian", "lookback", "call_spread")
COLUMNS = ("mean", "std", "cvar_95", "entropic", "costs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/hedging_claims")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", choices=CONFIGS, default=list(CONFIGS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    here = Path(__file__).parent / "hedging"
    rows, diffs = [], []
    for name in args.only:
        cpu, wall = time.process_time(), time.perf_counter()
        summary = run_hedging_experiment(load_experiment_config(here / f"{name}.toml"), Path(args.out) / name,
                                         progress=True)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{name}: {cpu:.0f} s CPU, {wall:.0f} s wall; premium {summary['premium']:.4f} "
              f"(+- {summary['premium_std_error']:.4f})", flush=True)
        for strategy, m in summary["strategies"].items():
            rows.append(f"| {name} | {strategy} | " + " | ".join(f"{m[c]:.3f}" for c in COLUMNS) + " |")
        for r in summary["paired"]:
            if r["metric"] == "entropic" and (r["difference"].endswith(("- delta", "- delta + variance swap"))
                                              or "kfac) - LSTM" in r["difference"]):
                diffs.append(f"| {name} | {r['difference']} | {r['mean']:+.3f} +- {r['std_error']:.3f} |")
    print("\n| claim | strategy | " + " | ".join(COLUMNS) + " |\n|---|---|" + "---:|" * len(COLUMNS))
    print("\n".join(rows))
    print("\n| claim | entropic risk difference | mean +- s.e. (3 seeds) |\n|---|---|---:|")
    print("\n".join(diffs))


if __name__ == "__main__":
    main()
