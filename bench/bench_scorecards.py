"""Binning + WoE transform + IV on 1,000,000 rows x 20 numeric features: qfin vs optbinning and toad (issue 9).

Work, the same for all three, on one seeded data set (saved once as .npy and read by every process):
- qfin: ``WoEEncoder(StumpBinner()).fit_transform(X, y)`` with the library defaults (each feature's depth-1
  boosted stumps fitted on its histogram, cut points searched on a 50,000-row sample, counts, WoE and IV with
  delta-method SEs on all rows, the WoE matrix);
- optbinning: ``BinningProcess(names).fit(X, y)``, ``transform(X, metric="woe")``, IV from ``summary()``;
- toad: ``Combiner().fit(df, y, method="quantile", n_bins=10)``, ``transform``, ``WOETransformer().fit_transform``,
  IV per column with ``toad.stats.IV`` on the binned columns.
Each engine runs in its own process (``--peer-python`` may point at another venv; by default the peers are the
bench extra's, in this interpreter); the times are the wall clock and the process CPU time of the work after
imports and data loading, median of ``--repeats``. qfin's compiled passes are loaded (numba's on-disk cache) by
a warm-up fit on 2,000 rows outside the timing, like the imports; that first-call cost is printed apart. The
peers run single-threaded; qfin's passes use every core, so the CPU ratio is printed too.
Target: qfin at least 10x faster than both. Ratios printed are peer time / qfin time.

    python bench/bench_scorecards.py [--rows 1000000] [--peer-python PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FEATURES = 20


def _clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time is the steadier figure."""
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    t1 = _clock()
    return t1[0] - t0[0], t1[1] - t0[1]


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """[rows, 20] float64 features and a 0/1 target (about 20% bad) with linear and non-linear signal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, N_FEATURES))
    logit = -1.6 + X[:, :10] @ np.linspace(0.5, 0.05, 10) + 0.3 * np.abs(X[:, 10]) + 0.2 * (X[:, 11] > 1)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return X, y


def run_qfin(X, y, max_search_rows):
    import xgboost  # noqa: F401  (imported lazily by the binner; imports are outside the timing, as for the peers)

    from qfin.scorecards import StumpBinner, WoEEncoder
    options = {} if max_search_rows is None else {"max_search_rows": max_search_rows}
    t = _clock()
    enc = WoEEncoder(StumpBinner(**options))
    W = enc.fit_transform(X, y)
    iv = [r.value for r in enc.iv_]
    return _since(t), iv, float(W[:, 0].mean())


def run_optbinning(X, y):
    from optbinning import BinningProcess
    names = [f"x{j}" for j in range(X.shape[1])]
    t = _clock()
    bp = BinningProcess(names).fit(X, y)
    W = bp.transform(X, metric="woe")
    iv = bp.summary().set_index("name").loc[names, "iv"].astype(float).tolist()
    return _since(t), iv, float(np.asarray(W)[:, 0].mean())


def run_toad(X, y):
    import pandas as pd
    import toad
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    t = _clock()
    c = toad.transform.Combiner()
    c.fit(df, y, method="quantile", n_bins=10)
    binned = c.transform(df)
    W = toad.transform.WOETransformer().fit_transform(binned, y)
    iv = [float(toad.stats.IV(binned[col], y)) for col in df.columns]
    return _since(t), iv, float(W.iloc[:, 0].mean())


ENGINES = {"optbinning": run_optbinning, "toad": run_toad}


def run_sql(rows: int) -> None:
    """Issue 23: score ``rows`` rows with ``Scorecard.points`` and with ``Scorecard.to_sql``'s query in SQLite
    (in memory) and DuckDB (on the same table, read from a pandas frame); rows/s of the scoring alone (loading
    the table is printed apart), and the largest difference from ``points``."""
    import sqlite3

    import duckdb
    import pandas as pd

    from qfin.scorecards import Scorecard
    X, y = make_data(rows)
    names = [f"x{j}" for j in range(N_FEATURES)]
    card = Scorecard().fit(X[:100_000], y[:100_000])
    frame = pd.DataFrame(X, columns=names)
    t = _clock()
    points = card.points(X)
    results = {"Scorecard.points": (_since(t), points)}
    con = sqlite3.connect(":memory:")
    t = _clock()
    frame.to_sql("applicants", con, index=False)
    load = _since(t)
    t = _clock()
    got = np.array([r[0] for r in con.execute(f"SELECT score FROM ({card.to_sql('applicants', 'sqlite')})")])
    results["sqlite3 " + sqlite3.sqlite_version] = (_since(t), got)
    duck = duckdb.connect()
    duck.register("applicants", frame)
    t = _clock()
    got = duck.execute(f"SELECT score FROM ({card.to_sql('applicants', 'duckdb')})").fetchnumpy()["score"]
    results["duckdb " + duckdb.__version__] = (_since(t), got)
    print(f"to_sql scoring, {rows:,} rows x {N_FEATURES} features (SQLite table load {load[0]:.2f} s, not counted)")
    for name, ((wall, cpu), score) in results.items():
        print(f"  {name:18s} {rows / wall:12,.0f} rows/s wall  {rows / max(cpu, 1e-9):12,.0f} rows/s CPU   "
              f"max |score - points| {np.max(np.abs(score - points)):.2e}")


def _child(engine: str, data: str, repeats: int, max_search_rows: int | None) -> None:
    X, y = np.load(f"{data}/X.npy"), np.load(f"{data}/y.npy")
    warmup = None
    if engine == "qfin":  # load the compiled passes (numba's disk cache) outside the timing, like an import
        warmup = run_qfin(X[:2000], y[:2000], max_search_rows)[0]
    runs = [run_qfin(X, y, max_search_rows) if engine == "qfin" else ENGINES[engine](X, y) for _ in range(repeats)]
    version = "qfin"
    if engine != "qfin":
        import importlib.metadata
        version = importlib.metadata.version(engine)
    print(json.dumps({"engine": engine, "version": version, "times": [r[0][0] for r in runs],
                      "cpu": [r[0][1] for r in runs], "iv": runs[-1][1], "warmup": warmup}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--peer-python", default=sys.executable, help="interpreter with optbinning and toad")
    ap.add_argument("--json", help="write [{name, qfin_s, peer, peer_s, ratio}] here")
    ap.add_argument("--max-search-rows", type=int, default=None,
                    help="qfin: rows sampled for the cut-point search (default: the library's, 50,000)")
    ap.add_argument("--engines", default="qfin,optbinning,toad", help="comma-separated subset to run")
    ap.add_argument("--sql", action="store_true", help="instead: to_sql scoring in SQLite and DuckDB vs points")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sql:
        run_sql(args.rows)
        return
    if args.child:
        _child(args.child, args.data, args.repeats, args.max_search_rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        X, y = make_data(args.rows)
        np.save(f"{tmp}/X.npy", X)
        np.save(f"{tmp}/y.npy", y)
        results = {}
        for engine in args.engines.split(","):
            python = sys.executable if engine == "qfin" else args.peer_python
            if engine != "qfin" and not Path(python).exists():
                print(f"{engine}: skipped (no peer interpreter at {python}; pass --peer-python)")
                continue
            cmd = [python, __file__, "--child", engine, "--data", tmp, "--repeats", str(args.repeats)]
            if args.max_search_rows:
                cmd += ["--max-search-rows", str(args.max_search_rows)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{engine}: failed\n{proc.stderr[-2000:]}")
                continue
            results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    q = results.get("qfin")
    print(f"binning + WoE + IV, {args.rows:,} rows x {N_FEATURES} features (median of {args.repeats})")
    rows = []
    for engine, r in results.items():
        t, c = statistics.median(r["times"]), statistics.median(r["cpu"])
        ratio = ""
        if q and engine != "qfin":
            q_t = statistics.median(q["times"])
            ratio = f"  qfin is {t / q_t:.1f}x faster (wall), {c / statistics.median(q['cpu']):.1f}x (CPU)"
            rows.append({"name": f"scorecard_binning_woe_iv_{args.rows}_x_{N_FEATURES}_vs_{engine}", "qfin_s": q_t,
                         "peer": f"{engine} {r['version']}", "peer_s": t, "ratio": t / q_t})
        iv = r["iv"]
        top = ", ".join(f"x{j}={iv[j]:.3f}" for j in np.argsort(iv)[::-1][:3])
        print(f"  {engine:10s} {r['version']:8s} wall {t:7.2f} s  CPU {c:7.2f} s   top IV {top}{ratio}")
    if q and q.get("warmup"):
        print(f"  (qfin's warm-up fit on 2,000 rows in the fresh process, loading the compiled passes: "
              f"{q['warmup'][0]:.2f} s wall)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))

if __name__ == "__main__":
    main()
