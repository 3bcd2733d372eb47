"""Pre-train the K-line foundation model on every shipped OHLCV series, then evaluate it on the test span.

    .venv/bin/python models/pretrain_kline.py                       # CPU config: 2 cores, well under 10 minutes
    .venv/bin/python models/pretrain_kline.py --config gpu          # the larger config (use a GPU-backed torch)
    .venv/bin/python models/pretrain_kline.py --config my.toml      # KlineTrainConfig fields, TOML or JSON
    .venv/bin/python models/pretrain_kline.py --evaluate            # also write evaluation.json / evaluation.md

Checkpoints land in models/artifacts/kline-<config>/ (git-ignored); an interrupted run resumes from the last
checkpoint when started again with the same config (--fresh starts over). The evaluation calibrates the
intervals on each series' validation span and forecasts from rolling origins on its test span (the same
library call as `qfin kline evaluate`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def evaluation_table(results: dict) -> str:
    """Markdown table of the evaluation figures, one column per series."""
    from qfin.kline import EVALUATION_ROWS, evaluation_cell

    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, keys in EVALUATION_ROWS:
        lines.append(f"| {label} | " + " | ".join(evaluation_cell(results[n], keys) for n in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="cpu", help="cpu, gpu, or a TOML/JSON file of KlineTrainConfig fields")
    ap.add_argument("--out", default=None, help="checkpoint folder (default models/artifacts/kline-<config>)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    ap.add_argument("--evaluate", action="store_true", help="evaluate on the test span after training")
    ap.add_argument("--pred-len", type=int, default=None, help="evaluation horizon (default: config horizon)")
    ap.add_argument("--samples", type=int, default=64, help="sample paths per forecast origin")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="where training runs: cpu, cuda, cuda:1, ...")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from qfin.errors import QfinError
    from qfin.kline import evaluate_checkpoint, load_train_config, save_evaluation, train_kline

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        config = load_train_config(args.config)
    except QfinError as err:
        sys.exit(f"--config: {err}")
    out = Path(args.out) if args.out else HERE / "artifacts" / f"kline-{Path(args.config).stem}"
    t0 = time.perf_counter()
    res = train_kline(config, out, resume=not args.fresh, progress=not args.no_progress, device=args.device)
    print(f"trained in {time.perf_counter() - t0:.1f} s -> {out}")
    for h in res.progress["history"]:
        if "validation" in h:
            print(f"  {h['stage']} validation: {h['validation']}")
    if not args.evaluate:
        return 0
    results = evaluate_checkpoint(out, pred_len=args.pred_len, samples=args.samples,
                                  on_series=lambda name, s: print(f"  evaluated {name} in {s:.1f} s"))
    save_evaluation(results, out)
    table = evaluation_table(results)
    (out / "evaluation.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
