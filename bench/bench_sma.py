"""SMA-crossover backtests: qfin's signal engine against vectorbt 1.2.0 and backtesting.py 0.6.6 (issue 3).

Work: long/flat SMA crossover, all-in with fractional shares, 10,000 cash, fee 0.1% of traded value, fills at the
next bar's open, on the GOOG daily file backtesting.py ships (2,148 bars); (1) one SMA(10/30) run, (2) the
100-combination grid fast 5..14 x slow 20..65 step 5. The rule as each engine spells it is in bench/_peers.py.

First the three engines must agree on the final equity to the cent (single run, and every grid column without an
exact tie of the two SMAs, where "crossed" depends on the engine, see _check_grid), so the timings compare the
same work. Then two timings:
- whole process: a fresh interpreter per run (import + load the CSV + run), median of --repeats rounds after one
  untimed round (file cache, numba's on-disk cache); each round runs every engine once, in turn, so the host's busy
  spells fall on all of them alike. The harness itself imports nothing the engine does not. vectorbt and
  backtesting.py read the CSV with pandas (their APIs take pandas frames); qfin's API takes numpy arrays, so its
  headline figure reads the CSV with --qfin-loader (numpy.loadtxt by default: numpy only, no pandas or polars
  import); qfin's figures with the other two loaders are printed and written too;
- warm in-process: best of --warm calls after a warm-up (numba JIT compile excluded), the grid split into signal
  building and simulation where the engine separates them.
Targets (issue 3): whole process at least 10x faster than backtesting.py and faster than vectorbt; warm grid no
slower than vectorbt's. Ratios are peer time / qfin time (above 1: qfin faster).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _peers  # noqa: E402  (bench-local helper next to this script)

ENGINES = ("qfin", "vectorbt", "backtesting")


def goog_csv() -> Path:
    """Path of backtesting.py's GOOG.csv, found without importing backtesting."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("backtesting.py is not installed: pip install backtesting==0.6.6 (the bench extra)")
    return Path(spec.submodule_search_locations[0]) / "test" / "GOOG.csv"


def label(engine: str) -> str:
    return f"{engine} {importlib.metadata.version(engine)}"


def quiet(fn, *args):
    """Call fn with stderr swallowed (backtesting.py draws tqdm progress bars there)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return fn(*args)


def best_of(fn, n: int, *args) -> tuple[float, object]:
    """Fastest of n timed calls of fn(*args), after one untimed warm-up call; also the last result."""
    result = quiet(fn, *args)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = quiet(fn, *args)
        times.append(time.perf_counter() - start)
    return min(times), result


def process_times(configs: list[tuple[str, str]], work: str, csv: Path, repeats: int
                  ) -> dict[tuple[str, str], tuple[float, float, object]]:
    """Per (engine, loader): median wall time of `python _peers.py ENGINE WORK CSV LOADER` over `repeats` rounds,
    its untimed first run's time and the printed final equities. Each round runs every configuration once, in turn,
    so that a busy spell of a shared host slows all engines alike instead of one engine's block of runs."""
    times: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    outs: dict[tuple[str, str], object] = {}
    for _ in range(repeats + 1):
        for engine, loader in configs:
            command = [sys.executable, str(HERE / "_peers.py"), engine, work, str(csv), loader]
            start = time.perf_counter()
            run = subprocess.run(command, capture_output=True, text=True)
            times[engine, loader].append(time.perf_counter() - start)
            if run.returncode != 0:
                sys.exit(f"{' '.join(command)} failed:\n{run.stderr[-3000:]}")
            outs[engine, loader] = json.loads(run.stdout.strip().splitlines()[-1])
    return {c: (statistics.median(t[1:]), t[0], outs[c]) for c, t in times.items()}


def _cents(x) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64), 2)


def _check_single(finals: dict[str, float]) -> None:
    for engine, value in finals.items():
        print(f"  {label(engine):22s} final equity {value:12,.2f}")
    if len({float(_cents(v)) for v in finals.values()}) != 1:
        sys.exit("single SMA(10/30) run: the engines disagree on the final equity; timings would not compare the "
                 "same work")


def _check_grid(frame, finals: dict[str, list[float]]) -> list[str]:
    """Every column must agree to the cent, except columns where the fast and slow SMA are exactly equal on some
    bar: there "crossed" differs by engine (qfin and backtesting.py's ``crossover`` want strictly below then
    strictly above; vectorbt's ``crossed_above`` also counts below -> equal -> above; FractionalBacktest scales
    prices by 1e-8, which can break an exact tie either way). Returns a note per such column."""
    from qfin.backtests import moving_average

    fast, slow = (np.asarray(v) for v in _peers.grid_pairs())
    averages = moving_average(frame["Close"].to_numpy(), np.arange(1, slow.max() + 1))
    tie = np.array([np.any(averages[:, f - 1] == averages[:, s - 1]) for f, s in zip(fast, slow, strict=True)])
    ours = _cents(finals["qfin"])
    notes = []
    for engine in ENGINES[1:]:
        differs = ours != _cents(finals[engine])
        unexplained = differs & ~tie
        if unexplained.any():
            k = int(np.argmax(unexplained))
            sys.exit(f"grid: {engine} disagrees with qfin at fast={fast[k]}, slow={slow[k]}: "
                     f"{finals[engine][k]:,.2f} vs {finals['qfin'][k]:,.2f}")
        print(f"  {label(engine):22s} agrees with qfin to the cent on {int((~differs).sum())}/{len(ours)} columns")
        for k in np.flatnonzero(differs):
            bars = np.flatnonzero(averages[:, fast[k] - 1] == averages[:, slow[k] - 1])
            when = ", ".join(str(frame.index[b].date()) for b in bars)
            notes.append(f"SMA({fast[k]}/{slow[k]}): {engine} {finals[engine][k]:,.2f} vs qfin {ours[k]:,.2f}; "
                         f"the two SMAs tie exactly on {when}")
            print(f"    differs on {notes[-1]}")
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds of fresh processes, every engine once per round (median per engine)")
    parser.add_argument("--warm", type=int, default=5, help="in-process calls per measurement (best of)")
    parser.add_argument("--qfin-loader", choices=_peers.LOADERS, default="numpy",
                        help="how qfin's whole-process run reads the CSV for the headline ratio (default numpy; the "
                             "peers always read it with pandas, their APIs need a pandas frame)")
    parser.add_argument("--json", type=Path, help="write the results here (a list of dicts)")
    args = parser.parse_args()

    csv = goog_csv()
    frame = _peers.load_frame(str(csv), "pandas")
    print(f"GOOG daily, {len(frame):,} bars; SMA crossover long/flat, all-in fractional, fee 0.1%, next-open fills")

    print("\nagreement, single SMA(10/30) run:")
    single = {engine: quiet(_peers.WORK[engine, "single"], frame) for engine in ENGINES}
    _check_single(single)
    print("agreement, 100-combination grid:")
    grid = {engine: quiet(_peers.WORK[engine, "grid"], frame) for engine in ENGINES}
    notes = _check_grid(frame, grid)

    results = []

    def record(name, qfin_s, engine, peer_s, target=None, ok=None, **extra):
        ratio = peer_s / qfin_s
        mark = "" if ok is None else ("  [meets target]" if ok(ratio) else "  [MISSES target]")
        print(f"  {name:37s} qfin {qfin_s * 1000:9.2f} ms   {label(engine):20s} {peer_s * 1000:10.2f} ms   "
              f"ratio {ratio:8.1f}{mark}")
        results.append({"name": name, "qfin_s": qfin_s, "peer": label(engine), "peer_s": peer_s, "ratio": ratio,
                        "target": target, "meets_target": None if ok is None else bool(ok(ratio)), **extra})

    print(f"\nwarm in-process (best of {args.warm} after a warm-up):")
    fast, slow = _peers.grid_pairs()
    warm = {(e, w): best_of(_peers.WORK[e, w], args.warm if e != "backtesting" else max(1, args.warm // 2), frame)[0]
            for e in ENGINES for w in ("single", "grid")}
    q_sig, q_exposure = best_of(_peers.qfin_signals, args.warm, frame, fast, slow)
    q_sim, _ = best_of(_peers.qfin_simulate, args.warm, frame, q_exposure)
    v_sig, v_signals = best_of(_peers.vbt_signals, args.warm, frame, fast, slow)
    v_sim, _ = best_of(_peers.vbt_simulate, args.warm, frame, v_signals)
    for engine in ENGINES[1:]:
        record(f"sma_single_warm_vs_{engine}", warm["qfin", "single"], engine, warm[engine, "single"])
    record("sma_grid_warm_vs_vectorbt", warm["qfin", "grid"], "vectorbt", warm["vectorbt", "grid"],
           target="ratio >= 1 (no slower than vectorbt)", ok=lambda r: r >= 1.0)
    record("sma_grid_warm_signals_vs_vectorbt", q_sig, "vectorbt", v_sig)
    record("sma_grid_warm_simulation_vs_vectorbt", q_sim, "vectorbt", v_sim)
    record("sma_grid_warm_vs_backtesting", warm["qfin", "grid"], "backtesting", warm["backtesting", "grid"],
           note="backtesting.py optimize() runs in processes over all cores; qfin and vectorbt use one")

    print(f"\nwhole process (import + load CSV + run; median of {args.repeats} interleaved rounds after an untimed "
          f"one). vectorbt and backtesting.py read the CSV\nwith pandas (their APIs take pandas frames); qfin takes "
          f"numpy arrays and reads it with {args.qfin_loader} for the rows\nbelow (--qfin-loader); qfin with each "
          f"loader follows:")
    floor = statistics.median(process_time_floor() for _ in range(args.repeats))
    for work, expected in (("single", single), ("grid", grid)):
        configs = [(e, "pandas") for e in ENGINES] + [("qfin", "polars"), ("qfin", "numpy")]
        times = {}
        for (engine, loader), (median, first, out) in process_times(configs, work, csv, args.repeats).items():
            if not np.array_equal(_cents(out), _cents(expected[engine])):
                sys.exit(f"{engine} {work} ({loader}): the subprocess computed other equities than in-process")
            times[engine, loader] = (median, first)
        q, q_first = times["qfin", args.qfin_loader]
        for engine, target, ok in (("vectorbt", "ratio > 1 (faster than vectorbt)", lambda r: r > 1.0),
                                   ("backtesting", "ratio >= 10 (10x faster than backtesting.py)",
                                    lambda r: r >= 10.0)):
            peer_s = times[engine, "pandas"][0]
            record(f"sma_{work}_process_vs_{engine}", q, engine, peer_s, target=target, ok=ok,
                   qfin_loader=args.qfin_loader, peer_loader="pandas", qfin_first_s=q_first,
                   peer_first_s=times[engine, "pandas"][1],
                   **{f"qfin_{loader}_s": times["qfin", loader][0] for loader in _peers.LOADERS},
                   **{f"ratio_{loader}": peer_s / times["qfin", loader][0] for loader in _peers.LOADERS})
        for loader in _peers.LOADERS:
            t = times["qfin", loader][0]
            vbt_ratio, bt_ratio = (times[engine, "pandas"][0] / t for engine in ENGINES[1:])
            print(f"    qfin reading with {loader:6s}: {t * 1000:7.1f} ms; ratios vectorbt {vbt_ratio:5.1f}, "
                  f"backtesting.py {bt_ratio:5.1f}{'  (headline)' if loader == args.qfin_loader else ''}")
    print(f"  interpreter floor (python -c pass): {floor * 1000:.1f} ms")
    if notes:
        print("\nnotes:\n  " + "\n  ".join(notes))

    if args.json:
        for r in results:
            r.update(floor_s=floor, bars=len(frame), final_equity_single=single["qfin"], tie_notes=notes)
        args.json.write_text(json.dumps(results, indent=2))


def process_time_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
