"""Environment steps per second during PPO training (SB3 overhead included): qfin's PortfolioEnv vs FinRL 0.3.7's
PortfolioOptimizationEnv, the same Stable-Baselines3 PPO on both.

Work: the shipped ``sp500_stocks`` closes (20 assets, all 8,313 days, one whole-span episode, so neither env hits
its terminal step, where FinRL writes plots), window 50, close-only features, 10 bp proportional costs
(transaction-remainder model in both), observation ``[1, 20, 50]`` in both. PPO ``MlpPolicy`` (SB3's flattening,
so the network is the same), ``n_steps=256, batch_size=64, n_epochs=1``, seed 0, one torch thread, ``STEPS``
environment steps of ``model.learn``; model construction is not timed.

- qfin (a): plain SB3 PPO on ``PortfolioEnv`` (the env's own cost).
- qfin (b): :func:`qfin.agents.train_agent` with the same settings (its checkpoint, logging and reward recording
  included), reported beside it.
- peer: FinRL's ``PortfolioOptimizationEnv`` (``comission_fee_model="trf"``, ``normalize_df=None``), loaded from
  its module file as bench_envs.py does, behind a 10-line Gymnasium adapter (FinRL subclasses the old ``gym``;
  SB3 2.x would otherwise need ``shimmy``). Run it with an interpreter that has FinRL
  (``pip install finrl==0.3.7 --no-deps gym==0.26.2 quantstats seaborn yfinance``), e.g.
  ``/tmp/envs-peer/bin/python bench/bench_agents.py``; without FinRL the peer row is skipped.

``--json PATH`` writes [{"name", "qfin_s", "peer", "peer_s", "ratio"}] (ratio = peer / qfin seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

STEPS = 1024
PPO_KWARGS = {"n_steps": 256, "batch_size": 64, "n_epochs": 1}


def _gymnasium_adapter(env):
    import gymnasium

    class Adapter(gymnasium.Env):
        def __init__(self) -> None:
            o, a = env.observation_space, env.action_space
            self.observation_space = gymnasium.spaces.Box(o.low, o.high, dtype=o.dtype)
            self.action_space = gymnasium.spaces.Box(a.low, a.high, dtype=a.dtype)

        def reset(self, *, seed=None, options=None):
            out = env.reset()
            return out if isinstance(out, tuple) else (out, {})

        def step(self, action):
            return env.step(action)

    return Adapter()


def _time_ppo(env) -> float:
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", env, seed=0, device="cpu", **PPO_KWARGS)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        model.learn(STEPS)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from qfin.agents import train_agent
    from qfin.data import load_dataset
    from qfin.envs import PortfolioEnv

    prices = load_dataset("sp500_stocks")
    tics = sorted(c for c in prices.columns if c != "timestamp")  # FinRL orders assets by ticker
    prices = prices.select("timestamp", *tics)
    qfin_s = _time_ppo(PortfolioEnv(prices, window=50, buy_cost=0.001))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_agent({"id": "qfin/Portfolio-v0", "params": {"data": "sp500_stocks", "window": 50, "buy_cost": 0.001}},
                    "ppo", STEPS, seed=0, out_dir=out, extractor=None, algo_kwargs=PPO_KWARGS, checkpoint_freq=0)
        train_s = time.perf_counter() - start  # includes env construction and the final checkpoint
    print(f"PPO training, {STEPS} env steps, 20 assets, window 50, 10 bp, MlpPolicy, 1 thread")
    print(f"  SB3 PPO on qfin PortfolioEnv        {qfin_s:8.2f} s  {STEPS / qfin_s:8.0f} steps/s")
    print(f"  qfin.agents.train_agent (same PPO)  {train_s:8.2f} s  {STEPS / train_s:8.0f} steps/s")
    results = []
    from bench_envs import finrl_frame, load_finrl_env

    env_cls = load_finrl_env()
    if env_cls is None:
        print("  FinRL PortfolioOptimizationEnv: skipped (FinRL 0.3.7 not installed in this interpreter)")
    else:
        with tempfile.TemporaryDirectory() as cwd, contextlib.redirect_stdout(io.StringIO()):
            peer = env_cls(finrl_frame(prices), initial_amount=1.0, comission_fee_model="trf",
                           comission_fee_pct=0.001, features=["close"], normalize_df=None, time_window=50, cwd=cwd,
                           new_gym_api=True)
            peer_s = _time_ppo(_gymnasium_adapter(peer))
        print(f"  SB3 PPO on FinRL env                {peer_s:8.2f} s  {STEPS / peer_s:8.0f} steps/s")
        print(f"  ratio FinRL / qfin                  {peer_s / qfin_s:8.1f}x")
        results.append({"name": f"ppo_training_{STEPS}_steps_20_assets_window_50", "qfin_s": qfin_s,
                        "peer": "finrl 0.3.7 PortfolioOptimizationEnv + SB3 PPO", "peer_s": peer_s,
                        "ratio": peer_s / qfin_s, "train_agent_s": train_s})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
