"""Distributional DP with stock augmentation (issue 7): how exact value iteration scales, and the quantile and
categorical versions at 10^6 state-atoms.

1. Exact stock-augmented value iteration (``qfin.dp.solve``, CVaR(0.1), the outer search over c0 included) on
   random MDPs with rewards in {-1, 0, 1}, 4 successors per (s, a), gamma = 1, sweeping states S, actions A and
   horizon T one at a time: a table of times and the growth exponent of each (slope of log time on log size).
2. The risk-neutral case (ExpectedUtility(x)) against pymdptoolbox's ``FiniteHorizon`` (the peer, when it is
   importable; the ratio is peer time / qfin time): same MDP, same optimal value checked first.
3. The quantile version on 20 states x 500 stocks x 100 quantiles = 10^6 state-atoms, horizon 5, 3 actions
   (target: under 10 s on 2 cores), its policy then valued by Monte Carlo.
4. The categorical version (Cramér projection onto 100 atoms) on the same problem and stock grid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from qfin.dp import CVaR, ExpectedUtility, FiniteMDP, solve


def random_mdp(n_states, n_actions, horizon, seed=0, n_succ=2):
    rng = np.random.default_rng(seed)
    p = np.zeros((n_states, n_actions, n_states))
    for s in range(n_states):
        for a in range(n_actions):
            nxt = rng.choice(n_states, size=min(n_succ, n_states), replace=False)
            p[s, a, nxt] = rng.dirichlet(np.ones(nxt.size))
    r = rng.integers(-1, 2, size=(n_states, n_actions, n_states)).astype(float)
    return FiniteMDP(p, r, gamma=1.0, horizon=horizon, initial_state=0)


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def sweep(name, sizes, make, repeats):
    rows = []
    for n in sizes:
        mdp = make(n)
        t, res = best_of(lambda m=mdp: solve(m, CVaR(0.1)), repeats)
        rows.append((n, t, res.value))
        print(f"  {name}={n:4d}  {t * 1e3:9.1f} ms  CVaR_0.1 = {res.value:.4f}", flush=True)
    x = np.log([r[0] for r in rows])
    y = np.log([r[1] for r in rows])
    slope = float(np.polyfit(x, y, 1)[0])
    print(f"  growth exponent in {name}: {slope:.2f}")
    return rows, slope


PEER_CODE = """
import json, sys, time
import numpy as np
import mdptoolbox, mdptoolbox.mdp as mtb
d = np.load(sys.argv[1])
p = np.transpose(d["transitions"], (1, 0, 2))  # [A, S, S]
r = np.einsum("sat,sat->sa", d["transitions"], d["rewards"])  # expected reward R[s, a]
best = float("inf")
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    fh = mtb.FiniteHorizon(p, r, 1.0, int(d["horizon"]))
    fh.run()
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"value": float(fh.V[int(d["initial_state"]), 0]), "seconds": best}))
"""


def peer_finite_horizon(mdp, python, repeats):
    """pymdptoolbox FiniteHorizon on the same MDP, run by ``python`` (an interpreter that has it), or None."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mdp.npz"
        np.savez(path, transitions=mdp.transitions, rewards=mdp.rewards[..., 0], horizon=mdp.horizon,
                 initial_state=mdp.initial_state)
        run = subprocess.run([python, "-c", PEER_CODE, str(path), str(repeats)], capture_output=True, text=True,
                             check=False)
    if run.returncode != 0:
        print(f"  peer unavailable: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
        return None
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here (a list of dicts)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter with pymdptoolbox 4.0b3 installed (default: this one)")
    args = parser.parse_args()
    results = []

    print("1. exact stock-augmented value iteration, CVaR(0.1)")
    # 4 successors per (s, a) and T = 6: every state is reachable, so the work really grows with S
    rows_s, k_s = sweep("S", [8, 16, 32, 64, 128], lambda n: random_mdp(n, 2, 6, n_succ=4), args.repeats)
    rows_a, k_a = sweep("A", [2, 4, 8, 16], lambda n: random_mdp(16, n, 6, n_succ=4), args.repeats)
    rows_t, k_t = sweep("T", [2, 4, 8, 16, 32], lambda n: random_mdp(16, 2, n, n_succ=4), args.repeats)

    print("2. risk-neutral case against pymdptoolbox FiniteHorizon")
    mdp = random_mdp(64, 4, 8)
    t_q, res = best_of(lambda: solve(mdp, ExpectedUtility(lambda x: x)), args.repeats)
    peer = peer_finite_horizon(mdp, args.peer_python, args.repeats)
    if peer is None:
        t_p, peer_name = math.nan, "pymdptoolbox (not installed)"
        print(f"  qfin {t_q * 1e3:.1f} ms; peer not importable")
    else:
        assert abs(peer["value"] - res.value) < 1e-9, (peer, res.value)
        t_p, peer_name = peer["seconds"], "pymdptoolbox FiniteHorizon"
        print(f"  qfin {t_q * 1e3:.1f} ms, peer {t_p * 1e3:.1f} ms, same value {res.value:.6f}")
    results.append({"name": "dp_risk_neutral_S64_A4_T8", "qfin_s": t_q, "peer": peer_name, "peer_s": t_p,
                    "ratio": t_p / t_q if not math.isnan(t_p) else math.nan,
                    "exact_cvar_growth_exponents": {"S": k_s, "A": k_a, "T": k_t},
                    "exact_cvar_rows": {"S": rows_s, "A": rows_a, "T": rows_t}})

    print("3. quantile version, 20 states x 500 stocks x 100 quantiles = 1e6 state-atoms, T = 5")
    big = random_mdp(20, 3, 5, seed=1, n_succ=3)
    t0, c0 = time.perf_counter(), time.process_time()
    qres = solve(big, CVaR(0.1), method="quantile", n_quantiles=100, n_stocks=500, evaluation="monte_carlo",
                 n_eval_paths=100_000, seed=0)
    t_big, cpu_big = time.perf_counter() - t0, time.process_time() - c0
    exact = solve(big, CVaR(0.1))
    # CPU time as well: on a shared machine the wall time includes waiting for a core
    print(f"  {t_big:.2f} s wall, {cpu_big:.2f} s CPU (target < 10 s); policy's Monte Carlo CVaR {qres.value:.4f}, "
          f"quantile estimate {qres.approx_value:.4f}, exact optimum {exact.value:.4f}")
    results.append({"name": "dp_quantile_1e6_state_atoms", "qfin_s": t_big, "peer": "none (absolute figure)",
                    "peer_s": math.nan, "ratio": math.nan, "cpu_s": cpu_big, "mc_value": qres.value,
                    "quantile_estimate": qres.approx_value, "exact_optimum": exact.value})

    print("4. categorical version, 20 states x 500 stocks x 100 atoms = 1e6 state-atoms, T = 5")
    t0, c0 = time.perf_counter(), time.process_time()
    cres = solve(big, CVaR(0.1), method="categorical", n_atoms=100, n_stocks=500, evaluation="monte_carlo",
                 n_eval_paths=100_000, seed=0)
    t_cat, cpu_cat = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {t_cat:.2f} s wall, {cpu_cat:.2f} s CPU (target < 10 s); policy's Monte Carlo CVaR {cres.value:.4f}, "
          f"categorical estimate {cres.approx_value:.4f}, exact optimum {exact.value:.4f}")
    results.append({"name": "dp_categorical_1e6_state_atoms", "qfin_s": t_cat, "peer": "none (absolute figure)",
                    "peer_s": math.nan, "ratio": math.nan, "cpu_s": cpu_cat, "mc_value": cres.value,
                    "categorical_estimate": cres.approx_value, "exact_optimum": exact.value})
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
