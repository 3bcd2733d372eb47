"""Pre-train the K-line foundation model on every shipped OHLCV series, then evaluate it on the test span.

    .venv/bin/python models/pretrain_kline.py                       # CPU config: 2 cores, well under 10 minutes
    .venv/bin/python models/pretrain_kline.py --config gpu          # the larger config (use a GPU-backed torch)
    .venv/bin/python models/pretrain_kline.py --config my.json      # a KlineTrainConfig as JSON (unknown keys: error)
    .venv/bin/python models/pretrain_kline.py --evaluate            # also write evaluation.json / evaluation.md

Checkpoints land in models/artifacts/kline-<config>/ (git-ignored); an interrupted run resumes from the last
checkpoint when started again with the same config (--fresh starts over). The evaluation calibrates the
intervals on each series' validation span and forecasts from rolling origins on its test span.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_config(name: str):
    from qfin.kline import KlineTrainConfig, cpu_config, gpu_config

    if name == "cpu":
        return cpu_config()
    if name == "gpu":
        return gpu_config()
    path = Path(name)
    if not path.exists():
        sys.exit(f"--config: {name!r} is neither 'cpu', 'gpu' nor an existing JSON file")
    return KlineTrainConfig.from_dict(json.loads(path.read_text()))


def evaluation_table(results: dict) -> str:
    """Markdown table of the figures the issue asks for, one column per series."""
    names = list(results)
    rows = [("vol MAE kline", lambda r: r["volatility"]["kline"]["mae"]),
            ("vol MAE GARCH(1,1)", lambda r: r["volatility"].get("garch11", {}).get("mae", float("nan"))),
            ("vol MAE persistence", lambda r: r["volatility"]["persistence"]["mae"]),
            ("vol MAE trailing 63d", lambda r: r["volatility"]["trailing"]["mae"]),
            ("vol R^2 kline", lambda r: r["volatility"]["kline"]["r2"]),
            ("return RankIC", lambda r: r["return"]["rank_ic"]),
            ("RankIC std error", lambda r: r["return"]["rank_ic_se"]),
            ("80% coverage raw", lambda r: r["coverage"]["0.8"]["raw"]),
            ("80% coverage calibrated", lambda r: r["coverage"]["0.8"]["calibrated"]),
            ("90% coverage raw", lambda r: r["coverage"]["0.9"]["raw"]),
            ("90% coverage calibrated", lambda r: r["coverage"]["0.9"]["calibrated"]),
            ("90% coverage Gaussian RW", lambda r: r["coverage"]["0.9"]["gaussian_rw"]),
            ("CRPS kline", lambda r: r["crps"]["kline"]),
            ("CRPS Gaussian RW", lambda r: r["crps"]["gaussian_rw"]),
            ("discriminative score", lambda r: r["generation"]["discriminative_score"]),
            ("origins", lambda r: r["n_origins"])]
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, get in rows:
        lines.append(f"| {label} | " + " | ".join(f"{get(results[n]):.4g}" for n in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="cpu", help="cpu, gpu, or a JSON file of KlineTrainConfig")
    ap.add_argument("--out", default=None, help="checkpoint folder (default models/artifacts/kline-<config>)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    ap.add_argument("--evaluate", action="store_true", help="evaluate on the test span after training")
    ap.add_argument("--pred-len", type=int, default=None, help="evaluation horizon (default: config horizon)")
    ap.add_argument("--samples", type=int, default=64, help="sample paths per forecast origin")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="where training runs: cpu, cuda, cuda:1, ...")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np
    import polars as pl
    import torch

    from qfin.data import load_dataset
    from qfin.kline import KlinePredictor, evaluate_kline, train_kline

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    out = Path(args.out) if args.out else HERE / "artifacts" / f"kline-{Path(args.config).stem}"
    t0 = time.perf_counter()
    res = train_kline(config, out, resume=not args.fresh, progress=not args.no_progress,
                      device=args.device)
    print(f"trained in {time.perf_counter() - t0:.1f} s -> {out}")
    for h in res.progress["history"]:
        if "validation" in h:
            print(f"  {h['stage']} validation: {h['validation']}")
    if not args.evaluate:
        return 0
    predictor = KlinePredictor.from_checkpoint(out)
    pred_len = args.pred_len or config.horizon
    results = {}
    for name in config.datasets:
        t1 = time.perf_counter()
        bars = load_dataset(name)
        ts = bars["timestamp"].cast(pl.Datetime("us")).to_numpy()
        # first bar after each boundary (the config's boundaries are inclusive ends of train / validation)
        val_start = ts[ts >= np.datetime64(config.train_end, "D") + np.timedelta64(1, "D")][0]
        test_start = ts[ts >= np.datetime64(config.validation_end, "D") + np.timedelta64(1, "D")][0]
        results[name] = evaluate_kline(predictor, bars, test_start, val_start,
                                       pred_len=pred_len, samples=args.samples, seed=config.seed)
        print(f"  evaluated {name} in {time.perf_counter() - t1:.1f} s")
    (out / "evaluation.json").write_text(json.dumps(results, indent=2))
    table = evaluation_table(results)
    (out / "evaluation.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
