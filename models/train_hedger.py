"""Train the LSTM deep hedger with Adam and with K-FAC and compare them with the classical hedges.

    .venv/bin/python models/train_hedger.py --out runs/hedging               # small default budget
    .venv/bin/python models/train_hedger.py --iterations 600 --batch-size 2048 --out runs/hedging_full

Heston parameters come from the shipped sp500_index and VIX data (qfin.hedging.heston_from_history), the option
is a 30-day ATM call rebalanced daily with 10 bp proportional costs, the training loss is the entropic risk
(lambda = 1). Writes OUT/metrics.json and OUT/report.html (see qfin.hedging.run_hedging_experiment).
"""

from __future__ import annotations

import argparse
import json

import torch

from qfin.hedging import ExperimentConfig, HedgerConfig, run_hedging_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/hedging")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--loss", default="entropic", choices=["entropic", "cvar", "mean_variance"])
    parser.add_argument("--cost", type=float, default=0.001)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = ExperimentConfig(n_train=args.n_train, n_test=args.n_test, seeds=tuple(args.seeds),
                           hedger=HedgerConfig(loss=args.loss, cost=args.cost, iterations=args.iterations,
                                               batch_size=args.batch_size))
    summary = run_hedging_experiment(cfg, args.out)
    print(f"{'strategy':24s} {'mean':>8s} {'std':>8s} {'cvar95':>8s} {'entropic':>9s} {'costs':>7s} {'P&L SR':>7s}")
    for name, m in summary["strategies"].items():
        print(f"{name:24s} {m['mean']:8.4f} {m['std']:8.4f} {m['cvar_95']:8.4f} {m['entropic']:9.4f} "
              f"{m['costs']:7.4f} {m['pnl_sharpe']:7.4f}")
    print(json.dumps(summary["speed"], indent=1))
    print(json.dumps(summary["paired_entropic"]))


if __name__ == "__main__":
    main()
