"""Train PPO portfolio agents on the shipped sp500_stocks closes and judge them in a backtest beside the baselines.

    .venv/bin/python models/train_portfolio.py --quick                 # a few minutes on 2 CPU cores
    .venv/bin/python models/train_portfolio.py --seeds 0 1 2 --timesteps 200000 --reward log_return

Spans: train 2005-2016 (random one-year episodes), validate 2017-2018 (the best validation checkpoint is kept),
test 2019-2022. Each seed's agent becomes a `kind = "agent"` strategy in one backtest with equal weight,
buy-and-hold and (full mode) inverse volatility and minimum variance, so all are compared on identical test
dates, costs (10 bp) and execution (daily decisions at the close). The summary reports each agent metric as the
mean and spread across seeds and the probabilistic Sharpe ratio of each agent vs equal weight's Sharpe
(qfin.risk). Writes OUT/seed_<k>/ (checkpoints, logs), OUT/backtest/ (metrics.json, equity curves, report) and
OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from qfin.agents import evaluate, train_agent
from qfin.envs import REWARDS

TRAIN = ("2005-01-01", "2016-12-31")
VALIDATE = ("2017-01-01", "2018-12-31")
TEST = ("2019-01-01", "2022-12-31")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="models/artifacts/portfolio", help="run folder")
    parser.add_argument("--algo", default="ppo", choices=["ppo", "a2c", "sac", "td3"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=100_000, help="environment steps per seed")
    parser.add_argument("--reward", default="log_return", choices=sorted(REWARDS))
    parser.add_argument("--extractor", default="eiie", choices=["eiie", "mlp"])
    parser.add_argument("--window", type=int, default=50, help="bars per observation")
    parser.add_argument("--cost", type=float, default=0.001, help="proportional fee (env and backtest)")
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, 4096 steps, window 20, equal weight and buy-and-hold only")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.timesteps, args.window = args.seeds[:1], 4096, 20
    torch.set_num_threads(args.threads)
    out = Path(args.out)

    env = {"id": "qfin/Portfolio-v0",
           "params": {"data": "sp500_stocks", "start": TRAIN[0], "end": TRAIN[1], "window": args.window,
                      "episode_length": 252, "buy_cost": args.cost, "reward": args.reward}}
    n_steps = 1024 if args.quick else 2048
    for seed in args.seeds:
        result = train_agent(env, args.algo, args.timesteps, seed=seed, out_dir=out / f"seed_{seed}",
                             extractor=args.extractor, n_envs=args.n_envs,
                             algo_kwargs={"n_steps": n_steps // args.n_envs} if args.algo in ("ppo", "a2c") else {},
                             eval_env={"start": VALIDATE[0], "end": VALIDATE[1], "episode_length": None},
                             eval_freq=max(args.timesteps // 10, n_steps), checkpoint_freq=max(args.timesteps // 10, 1),
                             resume=True, progress=not args.no_progress)
        print(f"seed {seed}: {result.agent.num_timesteps} steps, best validation reward {result.best_eval_reward}")

    baselines = [{"kind": "equal_weight"}, {"kind": "buy_and_hold"}]
    if not args.quick:
        baselines += [{"kind": "inverse_volatility", "lookback": 252}, {"kind": "min_variance", "lookback": 252}]
    agents = {f"{args.algo}_seed{seed}": out / f"seed_{seed}" for seed in args.seeds}
    spec = {"name": f"{args.algo} agents vs baselines, sp500_stocks {TEST[0]}..{TEST[1]}",
            "data": {"dataset": "sp500_stocks", "start": TEST[0], "end": TEST[1]},
            "rebalance": "daily", "costs": {"fee": args.cost}, "strategies": baselines}
    backtest, summary = evaluate(agents, spec, benchmark="equal_weight", out_dir=out / "backtest",
                                 progress=not args.no_progress)
    summary["settings"] = {**vars(args), "train": TRAIN, "validate": VALIDATE, "test": TEST}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))

    print(f"\ntest {TEST[0]}..{TEST[1]}, {args.cost:.2%} fees, daily decisions")
    print(f"{'strategy':22s} {'sharpe':>8s} {'cagr':>8s} {'max_dd':>8s}")
    for name, m in backtest.metrics.items():
        print(f"{name:22s} {m.get('sharpe', float('nan')):8.3f} {m.get('cagr', float('nan')):8.3f} "
              f"{m.get('max_drawdown', float('nan')):8.3f}")
    for key in ("sharpe", "cagr", "max_drawdown", "psr_vs_benchmark"):
        print(f"agents {key:18s} mean {summary[key]['mean']:.3f}  spread {summary[key]['spread']:.3f} "
              f"over {summary[key]['n_seeds']} seed(s)")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
