"""Train PPO or SAC to hedge a short option in HedgingEnv and compare with the Black-Scholes delta hedge.

    .venv/bin/python models/train_hedging_rl.py --quick                       # a few minutes on 2 CPU cores
    .venv/bin/python models/train_hedging_rl.py --algo sac --timesteps 100000 --objective entropic

The environment is a preset (default envs/hedging_gbm.toml: short ATM 30-day call on GBM, daily rebalancing)
with the objective and cost set here. Each seed's agent and the Black-Scholes delta hedge (the optimal hedge
without costs on GBM) and no hedge are run on the SAME test paths (the test env is seeded apart from training);
the P&L is summarised by mean, standard deviation, 95% CVaR (qfin.risk.expected_shortfall, a positive loss) and
entropic risk (qfin.risk.entropic_risk, lambda = --risk-aversion). Writes OUT/seed_<k>/ and OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from qfin.agents import train_agent
from qfin.envs import load_preset
from qfin.hedging import bs_delta
from qfin.risk import entropic_risk, expected_shortfall

TEST_SEED = 2024


def _pnl(env, policy, episodes: int) -> np.ndarray:
    """Terminal hedged P&L of ``episodes`` paths; the env is seeded once so every policy sees the same paths."""
    out = np.empty(episodes)
    obs, _ = env.reset(seed=TEST_SEED)
    for k in range(episodes):
        if k:
            obs, _ = env.reset()
        done = False
        while not done:  # an episode ends at maturity (terminated) or at a time limit a wrapper sets (truncated)
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        out[k] = info["pnl"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="envs/hedging_gbm.toml")
    parser.add_argument("--out", default="models/artifacts/hedging_rl")
    parser.add_argument("--algo", default="ppo", choices=["ppo", "sac", "a2c", "td3"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--objective", default="mean_variance", choices=["pnl", "entropic", "mean_variance"])
    parser.add_argument("--risk-aversion", type=float, default=1.0)
    parser.add_argument("--cost", type=float, default=0.0)
    parser.add_argument("--episodes", type=int, default=2000, help="test paths")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 seed, 6000 steps, 500 test paths")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.timesteps, args.episodes = args.seeds[:1], 6000, 500
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    preset = load_preset(args.preset)
    env_config = {"id": preset.id, "description": preset.description,
                  "params": {**preset.params, "objective": args.objective, "risk_aversion": args.risk_aversion,
                             "cost": args.cost}}

    results: dict[str, np.ndarray] = {}
    for seed in args.seeds:
        algo_kwargs = {"n_steps": 1024, "batch_size": 128} if args.algo == "ppo" else {}
        result = train_agent(env_config, args.algo, args.timesteps, seed=seed, out_dir=out / f"seed_{seed}",
                             algo_kwargs=algo_kwargs, checkpoint_freq=max(args.timesteps // 10, 1), resume=True,
                             progress=not args.no_progress)
        agent = result.agent
        results[f"{args.algo}_seed{seed}"] = _pnl(agent.make_env(), agent.predict, args.episodes)
    env = result.agent.make_env().unwrapped
    strike, sigma, kind = env.strike, env.sigma, env.kind
    results["bs_delta"] = _pnl(result.agent.make_env(), lambda o: np.array(
        [bs_delta(strike * np.exp(float(o[0])), strike, max(float(o[1]), 1e-12), 0.0, sigma, kind)]), args.episodes)
    results["no_hedge"] = _pnl(result.agent.make_env(), lambda o: np.array([0.0]), args.episodes)

    summary = {name: {"mean": float(p.mean()), "std": float(p.std(ddof=1)),
                      "cvar_95": float(expected_shortfall(p, level=0.95)),
                      "entropic": float(entropic_risk(p, args.risk_aversion))} for name, p in results.items()}
    agents = [k for k in results if k.startswith(args.algo)]
    summary["agents_across_seeds"] = {
        m: {"mean": float(np.mean([summary[a][m] for a in agents])),
            "spread": float(np.std([summary[a][m] for a in agents], ddof=1)) if len(agents) > 1 else float("nan")}
        for m in ("mean", "std", "cvar_95", "entropic")}
    summary["settings"] = vars(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{args.episodes} test paths, objective {args.objective}, cost {args.cost}")
    print(f"{'hedge':16s} {'mean':>8s} {'std':>8s} {'cvar95':>8s} {'entropic':>9s}")
    for name in results:
        m = summary[name]
        print(f"{name:16s} {m['mean']:8.4f} {m['std']:8.4f} {m['cvar_95']:8.4f} {m['entropic']:9.4f}")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
