"""A 100-point grid with stops: qfin's order simulator against vectorbt 1.2.0's Portfolio.from_signals (issue 18).

Work: SMA(10/30) crossover on the shipped sp500_index bars 1999-2018 (5,031 OHLC bars), long/flat, all-in with
fractional shares, fee 0.1%, 1,000,000 cash, fills at the decision bar's close; the grid is 10 stop-losses
(1%..10%) x 10 take-profits (2%..20%), checked against each bar's high and low, filled at the stop price or the
open through a gap (vectorbt's semantics; tests/backtests/test_orders.py pins qfin to it to the cent). Both
engines run the 100 columns in one call, signals included.

First the two engines must agree on every column's final value to the cent, so the timings compare the same work.
Then two timings, peer time / qfin time printed as ratios (above 1: qfin faster):
- whole process: a fresh interpreter per run (import, read the CSV, signals, the grid), median of --repeats rounds
  after one untimed round (file cache, numba's on-disk caches); each round runs both engines in turn, so a busy
  spell of the shared host falls on both alike. Wall and CPU time (the child's user + system) are both reported;
- warm: best of --warm in-process calls after a warm-up call (JIT compile excluded).
Target (issue 18): faster than vectorbt in both. The host load (/proc/loadavg) is printed with the figures.

    python bench/bench_stops_grid.py [--python-vectorbt PY] [--repeats 5] [--warm 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAST, SLOW, FEE, CASH = 10, 30, 0.001, 1_000_000.0
SL = [0.01 * k for k in range(1, 11)]
TP = [0.02 * k for k in range(1, 11)]


def grid() -> tuple[list[float], list[float]]:
    """The 100 (sl, tp) points, sl-major."""
    return [s for s in SL for _ in TP], [t for _ in SL for t in TP]


def run_qfin(path: str) -> list[float]:
    import numpy as np

    from qfin.backtests._orders import run_orders
    from qfin.backtests._signals import sma_crossover_exposure

    with open(path, encoding="utf-8") as handle:
        open_, high, low, close = np.loadtxt(handle, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), unpack=True)
    sl, tp = grid()
    exposure = np.repeat(sma_crossover_exposure(close, FAST, SLOW), len(sl), axis=1)
    run = run_orders(close, exposure, open_=open_, high=high, low=low, grid={"sl_stop": np.array(sl),
                     "tp_stop": np.array(tp)}, fee=FEE, initial_cash=CASH)
    return run.equity[-1].tolist()


def run_vectorbt(path: str) -> list[float]:
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    bars = pd.read_csv(path, index_col=0, parse_dates=True)
    sl, tp = grid()
    fast, slow = vbt.MA.run(bars.close, FAST).ma, vbt.MA.run(bars.close, SLOW).ma
    entries, exits = fast.vbt.crossed_above(slow), fast.vbt.crossed_below(slow)
    tile = lambda s: pd.DataFrame(np.repeat(s.to_numpy()[:, None], len(sl), axis=1), index=s.index)  # noqa: E731
    pf = vbt.Portfolio.from_signals(tile(bars.close), tile(entries), tile(exits), open=tile(bars.open),
                                    high=tile(bars.high), low=tile(bars.low), sl_stop=np.array([sl]),
                                    tp_stop=np.array([tp]), fees=FEE, init_cash=CASH)
    return [float(v) for v in pf.final_value().to_numpy()]


ENGINES = {"qfin": run_qfin, "vectorbt": run_vectorbt}


def child(engine: str, path: str, warm: int) -> None:
    """One engine in this process: the grid once (whole-process work), or best of ``warm`` calls after one."""
    if warm:
        ENGINES[engine](path)
        best = float("inf")
        for _ in range(warm):
            start = time.perf_counter()
            finals = ENGINES[engine](path)
            best = min(best, time.perf_counter() - start)
        print(json.dumps({"warm_s": best, "finals": finals}))
    else:
        print(json.dumps({"finals": ENGINES[engine](path)}))


def timed(python: str, engine: str, path: str, warm: int = 0) -> tuple[float, float, dict]:
    """Wall and CPU seconds of one child process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([python, __file__, "--child", engine, path, "--warm-calls", str(warm)], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "CSV"), help=argparse.SUPPRESS)
    parser.add_argument("--warm-calls", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--python-qfin", default=sys.executable, help="interpreter with qfin (default: this one)")
    parser.add_argument("--python-vectorbt", default=sys.executable, help="interpreter with vectorbt 1.2.0")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.warm_calls)
        return

    from qfin.data import load_dataset

    pythons = {"qfin": args.python_qfin, "vectorbt": args.python_vectorbt}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "sp500_index.csv")
        load_dataset("sp500_index").drop("symbol").write_csv(path)
        first = {e: timed(pythons[e], e, path)[2]["finals"] for e in ENGINES}  # untimed round: caches
        gap = max(abs(a - b) for a, b in zip(first["qfin"], first["vectorbt"], strict=True))
        print(f"100 columns, largest final-value difference qfin - vectorbt: {gap:.2e}")
        if gap >= 0.005:
            sys.exit("the engines disagree by a cent or more: the timings would not compare the same work")
        rounds: dict[str, list[tuple[float, float]]] = {e: [] for e in ENGINES}
        for _ in range(args.repeats):
            for e in ENGINES:
                rounds[e].append(timed(pythons[e], e, path)[:2])
        warm = {e: timed(pythons[e], e, path, args.warm)[2]["warm_s"] for e in ENGINES}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    whole = {e: statistics.median(w for w, _ in rounds[e]) for e in ENGINES}
    cpu = {e: statistics.median(c for _, c in rounds[e]) for e in ENGINES}
    print(f"load average {' '.join(load)}; whole process median of {args.repeats}, warm best of {args.warm}")
    for e in ENGINES:
        print(f"  {e:9s} whole {whole[e]:7.3f} s wall {cpu[e]:7.3f} s cpu   warm {warm[e] * 1e3:9.2f} ms")
    ratios = {"whole_wall": whole["vectorbt"] / whole["qfin"], "whole_cpu": cpu["vectorbt"] / cpu["qfin"],
              "warm": warm["vectorbt"] / warm["qfin"]}
    print("vectorbt / qfin: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    if args.json:
        args.json.write_text(json.dumps([
            {"name": "stops_grid_100_whole_process", "qfin_s": whole["qfin"], "peer": "vectorbt 1.2.0",
             "peer_s": whole["vectorbt"], "ratio": ratios["whole_wall"], "cpu_ratio": ratios["whole_cpu"],
             "loadavg": load},
            {"name": "stops_grid_100_warm", "qfin_s": warm["qfin"], "peer": "vectorbt 1.2.0",
             "peer_s": warm["vectorbt"], "ratio": ratios["warm"], "loadavg": load}], indent=2))


if __name__ == "__main__":
    main()
