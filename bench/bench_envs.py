"""qfin.envs.PortfolioEnv vs FinRL 0.3.7's PortfolioOptimizationEnv, and the batched simulators.

1. ``portfolio_env_steps``: steps per second on the shipped ``sp500_stocks`` closes (all 8,313 days, 20 assets),
   window 50, close-only features, 10 bp proportional costs (both use the transaction-remainder model), the
   same random weights every step, the same first ``N_STEPS`` steps of the whole-span episode (FinRL's terminal
   step writes plots and a quantstats report, so it is left out of the timing); each env is built once and
   the timing covers reset + steps. A zero-cost run first checks
   that both envs produce the same values (FinRL casts weights to float32, hence a 1e-5 tolerance).
   - qfin: ``PortfolioEnv(window=50, buy_cost=0.001)``, stepped with logits whose softmax is the weights.
   - peer: ``finrl.meta.env_portfolio_optimization.env_portfolio_optimization.PortfolioOptimizationEnv``
     (``comission_fee_model="trf"``, ``features=["close"]``, ``normalize_df=None``), loaded from its module
     file: ``import finrl`` pulls broker SDKs. It needs ``gym``, ``quantstats`` and ``stable_baselines3``.
2. ``simulate_portfolio``: ``qfin.envs.simulate_portfolio`` on 64 paths x 252 days x 20 assets with costs vs the
   same work as a Python loop of ``PortfolioEnv.step`` (one path at a time), and its throughput in asset-steps/s
   on 4,096 paths.
3. ``hedging_pnl``: ``qfin.data.simulate.hedging_pnl`` on 1,000 paths x 30 steps vs a per-path Python loop
   (cash account, trade by trade), and its throughput on 200,000 paths (numpy; torch for context).

Best of 3 after one warm-up. ``--json PATH`` writes a list of {"name", "qfin_s", "peer", "peer_s", "ratio"}
(ratio = peer / qfin). Without FinRL installed the first entry is skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW = 50
FEE = 0.001
N_STEPS = 300
REPEATS = 3


def best_of(fn, repeats: int = REPEATS, warmup: bool = True) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls after one untimed warm-up (skipped for the slow peers, which were
    already exercised once by the agreement check)."""
    if warmup:
        fn()
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def load_finrl_env():
    """FinRL's PortfolioOptimizationEnv class from its module file (None if FinRL is not installed)."""
    spec = importlib.util.find_spec("finrl")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "meta" / "env_portfolio_optimization" \
        / "env_portfolio_optimization.py"
    module_spec = importlib.util.spec_from_file_location("finrl_portfolio_optimization_env", path)
    module = importlib.util.module_from_spec(module_spec)
    with contextlib.redirect_stderr(io.StringIO()):  # gym 0.26's deprecation banner
        module_spec.loader.exec_module(module)
    return module.PortfolioOptimizationEnv


def finrl_frame(prices):
    """sp500_stocks in FinRL's long layout: date, tic, close."""

    wide = prices.to_pandas()
    long = wide.melt(id_vars="timestamp", var_name="tic", value_name="close")
    long["date"] = long.pop("timestamp").dt.strftime("%Y-%m-%d")
    return long[["date", "tic", "close"]].sort_values(["date", "tic"]).reset_index(drop=True)


def bench_portfolio_env(results: list[dict]) -> None:
    from qfin.data import load_dataset
    from qfin.envs import PortfolioEnv

    env_cls = load_finrl_env()
    if env_cls is None:
        print("portfolio_env_steps: skipped (needs finrl==0.3.7 installed --no-deps, plus gym==0.26.2, "
              "quantstats, seaborn, yfinance)")
        return
    prices = load_dataset("sp500_stocks")
    tics = sorted(c for c in prices.columns if c != "timestamp")  # FinRL orders assets by ticker
    prices = prices.select("timestamp", *tics)
    frame = finrl_frame(prices)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(N_STEPS, len(tics) + 1))
    weights = _softmax(logits)  # qfin's softmax_scale=1 maps the logits to exactly these weights

    def qfin_run(env) -> np.ndarray:
        env.reset()
        values = np.empty(N_STEPS)
        for k in range(N_STEPS):
            values[k] = env.step(logits[k])[4]["value"]
        return values

    def finrl_run(env) -> np.ndarray:
        with contextlib.redirect_stdout(io.StringIO()):
            env.reset()
            values = np.empty(N_STEPS)
            for k in range(N_STEPS):
                env.step(weights[k])
                values[k] = env._portfolio_value
        return values

    def finrl_env(fee: float, cwd: str):
        with contextlib.redirect_stdout(io.StringIO()):
            return env_cls(frame, initial_amount=1.0, comission_fee_model="trf", comission_fee_pct=fee,
                           features=["close"], normalize_df=None, time_window=WINDOW, cwd=cwd, new_gym_api=True)

    with tempfile.TemporaryDirectory() as cwd:
        ours = qfin_run(PortfolioEnv(prices, window=WINDOW, softmax_scale=1.0))
        theirs = finrl_run(finrl_env(0.0, cwd))
        if not np.allclose(ours, theirs, rtol=1e-5):
            sys.exit(f"portfolio_env_steps: qfin and FinRL disagree at zero cost: {ours[-1]} vs {theirs[-1]}")
        qfin_env = PortfolioEnv(prices, window=WINDOW, buy_cost=FEE, softmax_scale=1.0)
        peer_env = finrl_env(FEE, cwd)
        qfin_s, _ = best_of(lambda: qfin_run(qfin_env))
        peer_s, _ = best_of(lambda: finrl_run(peer_env), repeats=1, warmup=False)
    ratio = peer_s / qfin_s
    print(f"PortfolioEnv, {len(tics)} assets, window {WINDOW}, {prices.height} days, first {N_STEPS} steps "
          f"(reset + steps; construction not timed)")
    print(f"  qfin.envs.PortfolioEnv             {qfin_s:8.3f} s  {N_STEPS / qfin_s:10,.0f} steps/s")
    print(f"  FinRL PortfolioOptimizationEnv     {peer_s:8.3f} s  {N_STEPS / peer_s:10,.0f} steps/s")
    print(f"  ratio FinRL / qfin                 {ratio:8.1f}x")
    results.append({"name": "portfolio_env_300_steps_20_assets_window_50", "qfin_s": qfin_s,
                    "peer": "finrl 0.3.7 PortfolioOptimizationEnv", "peer_s": peer_s, "ratio": ratio})


def bench_simulate_portfolio(results: list[dict]) -> None:
    from qfin.data import load_dataset
    from qfin.envs import PortfolioEnv, simulate_portfolio

    prices = load_dataset("sp500_stocks")
    close = prices.drop("timestamp").to_numpy()
    n_days, n_assets = 252, close.shape[1]
    rng = np.random.default_rng(1)

    def work(n_paths: int):
        starts = rng.integers(WINDOW, close.shape[0] - n_days - 1, size=n_paths)
        panel = np.stack([close[s: s + n_days + 1] for s in starts])
        logits = rng.normal(size=(n_paths, n_days, n_assets + 1))
        return starts, panel, logits

    starts, panel, logits = work(64)
    weights = _softmax(logits)

    def env_loop():
        env = PortfolioEnv(prices, window=WINDOW, episode_length=n_days, buy_cost=FEE, softmax_scale=1.0)
        out = np.empty(len(starts))
        for i, s in enumerate(starts):
            env.reset(options={"start": int(s)})
            for t in range(n_days):
                info = env.step(logits[i, t])[4]
            out[i] = info["value"]
        return out

    qfin_s, values = best_of(lambda: simulate_portfolio(panel, weights, buy_cost=FEE))
    peer_s, loop_values = best_of(env_loop, repeats=1, warmup=False)
    if not np.allclose(values[:, -1], loop_values, rtol=1e-10):
        sys.exit("simulate_portfolio: batched and per-step values disagree")
    _, big_panel, big_logits = work(4096)
    big_weights = _softmax(big_logits)
    big_s, _ = best_of(lambda: simulate_portfolio(big_panel, big_weights, buy_cost=FEE), repeats=2)
    rate = big_panel.shape[0] * n_days * n_assets / big_s
    ratio = peer_s / qfin_s
    print(f"simulate_portfolio, 64 paths x {n_days} days x {n_assets} assets, 10 bp")
    print(f"  qfin.envs.simulate_portfolio       {qfin_s:8.3f} s")
    print(f"  PortfolioEnv.step loop             {peer_s:8.3f} s")
    print(f"  ratio loop / batched               {ratio:8.1f}x")
    print(f"  throughput on 4,096 paths          {rate / 1e6:8.2f} M asset-steps/s ({big_s:.2f} s)")
    results.append({"name": "simulate_portfolio_64x252x20", "qfin_s": qfin_s, "peer": "PortfolioEnv.step loop",
                    "peer_s": peer_s, "ratio": ratio, "asset_steps_per_s": rate})


def _hedging_loop(spot, hedge, payoff, premium, cost):
    """Per-path, per-trade cash account (the brute force of tests/data_sim/test_hedging_pnl.py)."""
    out = np.empty(spot.shape[0])
    for i in range(spot.shape[0]):
        cash, units = premium, 0.0
        for t in range(hedge.shape[1]):
            trade = hedge[i, t] - units
            cash -= trade * spot[i, t] + cost * abs(trade) * spot[i, t]
            units = hedge[i, t]
        out[i] = cash + units * spot[i, -1] - cost * abs(units) * spot[i, -1] - payoff[i]
    return out


def bench_hedging(results: list[dict]) -> None:
    from qfin.data.simulate import gbm, hedging_pnl

    n_steps = 30
    spot = gbm(100.0, 0.0, 0.2, 30 / 365, n_steps, 1000, seed=0)
    hedge = np.random.default_rng(2).uniform(0, 1, size=(1000, n_steps))
    payoff = np.maximum(spot[:, -1] - 100.0, 0.0)
    qfin_s, pnl = best_of(lambda: hedging_pnl(spot, hedge, payoff, 2.3, 0.001).pnl)
    peer_s, loop = best_of(lambda: _hedging_loop(spot, hedge, payoff, 2.3, 0.001), repeats=1)
    if not np.allclose(pnl, loop, rtol=1e-10, atol=1e-10):
        sys.exit("hedging_pnl: batched and loop P&L disagree")
    big = gbm(100.0, 0.0, 0.2, 30 / 365, n_steps, 200_000, seed=1)
    big_hedge = np.random.default_rng(3).uniform(0, 1, size=(200_000, n_steps))
    big_payoff = np.maximum(big[:, -1] - 100.0, 0.0)
    big_s, _ = best_of(lambda: hedging_pnl(big, big_hedge, big_payoff, 2.3, 0.001))
    rate = big_hedge.size / big_s
    ratio = peer_s / qfin_s
    print(f"hedging_pnl, 1,000 paths x {n_steps} steps, 10 bp")
    print(f"  qfin hedging_pnl (numpy)           {qfin_s * 1e3:8.3f} ms")
    print(f"  per-path Python loop               {peer_s * 1e3:8.3f} ms")
    print(f"  ratio loop / batched               {ratio:8.1f}x")
    print(f"  throughput on 200,000 paths        {rate / 1e6:8.2f} M asset-steps/s (numpy)")
    try:
        import torch

        t_spot, t_payoff = torch.tensor(big), torch.tensor(big_payoff)
        t_hedge = torch.tensor(big_hedge, requires_grad=True)

        def forward_backward():
            hedging_pnl(t_spot, t_hedge, t_payoff, 2.3, 0.001).pnl.mean().backward()

        torch_s, _ = best_of(forward_backward)
        print(f"  torch forward + backward           {big_hedge.size / torch_s / 1e6:8.2f} M asset-steps/s")
    except ImportError:
        pass
    results.append({"name": "hedging_pnl_1000x30", "qfin_s": qfin_s, "peer": "per-path python loop",
                    "peer_s": peer_s, "ratio": ratio, "asset_steps_per_s": rate})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    results: list[dict] = []
    bench_portfolio_env(results)
    bench_simulate_portfolio(results)
    bench_hedging(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
