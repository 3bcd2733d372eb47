"""Pre-train the K-line foundation model, evaluate it on the test spans, fine-tune it per series, ship it.

    .venv/bin/python models/pretrain_kline.py                       # CPU config: 2 cores, well under 10 minutes
    .venv/bin/python models/pretrain_kline.py --config small --evaluate --finetune --ship
                                                                    # the shipped model: train (resumes), evaluate
                                                                    # zero-shot and fine-tuned, write
                                                                    # qfin/kline/pretrained/small.{pt,json,md}
    .venv/bin/python models/pretrain_kline.py --config gpu-large --device cuda --evaluate   # the GPU config
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
    ap.add_argument("--finetune", action="store_true",
                    help="with --evaluate: also fine-tune on each series (train span; validation span for early "
                         "stopping and calibration) and evaluate the fine-tuned model on its test span")
    ap.add_argument("--series", action="append", default=None,
                    help="evaluate (and fine-tune) only this series; repeatable (default: all the config's)")
    ap.add_argument("--finetune-steps", type=int, default=120, help="at most this many fine-tuning updates")
    ap.add_argument("--ship", action="store_true",
                    help="write the checkpoint and its model card (the saved per-series evaluations) into the package")
    ap.add_argument("--budget-note", default="", help="how long the run took and under what load (model card)")
    args = ap.parse_args(argv)

    import torch

    from qfin.errors import QfinError
    from qfin.kline import load_train_config, train_kline

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
    if args.evaluate:
        from qfin.kline import evaluation_datasets

        for name in args.series or evaluation_datasets(config):
            evaluate_one(out, config, name, args)
    if args.ship:
        ship(out, config, res, args.budget_note)
    return 0


def evaluate_one(out: Path, config, name: str, args) -> None:
    """Zero-shot evaluation of the checkpoint on one series' test span, and with --finetune the fine-tuned one
    (fine-tuned on the bars to validation_end; validation from the day after train_end, for early stopping and
    calibration), each saved as <out>/series/<name>-{zero_shot,fine_tuned}.json. One process per series can run
    these side by side."""
    import json

    import numpy as np

    from qfin.data import strict_json
    from qfin.kline import evaluate_checkpoint, finetune_kline, select_bars

    folder = out / "series"
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    zero = evaluate_checkpoint(out, [name], pred_len=args.pred_len, samples=args.samples)
    (folder / f"{name}-zero_shot.json").write_text(strict_json(zero[name]))
    print(f"  evaluated {name} zero-shot in {time.perf_counter() - t0:.1f} s")
    if not args.finetune:
        return
    bars, _ = select_bars(dataset=name, end=config.validation_end)
    ft_dir = out.parent / f"{out.name}-ft-{name}"
    start = str(np.datetime64(config.train_end) + np.timedelta64(1, "D"))
    t0 = time.perf_counter()
    ft = finetune_kline(bars, base=out, out_dir=ft_dir, validation_start=start, steps=args.finetune_steps,
                        eval_every=20, patience=3, lr=2e-4, seed=config.seed, calibrate=False)
    meta = {"initial_loss": ft.initial_loss, "best_loss": ft.best_loss, "best_step": ft.best_step,
            "steps": ft.steps, "seconds": round(time.perf_counter() - t0, 1), **ft.split}
    print(f"  fine-tuned on {name}: validation loss {ft.initial_loss:.4f} -> {ft.best_loss:.4f} "
          f"(best step {ft.best_step} of {ft.steps})")
    tuned = evaluate_checkpoint(ft_dir, [name], pred_len=args.pred_len, samples=args.samples)
    (folder / f"{name}-fine_tuned.json").write_text(strict_json({**tuned[name], "finetune": meta}))
    print(json.dumps(meta))


def read_series(out: Path, config, kind: str) -> dict:
    """The per-series results of :func:`evaluate_one` (those present)."""
    import json

    from qfin.kline import evaluation_datasets

    found = {}
    for name in evaluation_datasets(config):
        path = out / "series" / f"{name}-{kind}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def lean(results: dict) -> dict:
    """Evaluation results without the per-origin series (figures only) for the model card."""
    return {name: {k: v for k, v in r.items() if k != "series"} for name, r in results.items()}


def ship(out: Path, config, res, budget_note: str) -> None:
    """qfin/kline/pretrained/<name>.pt, .json (the model card, with the evaluation tables) and .md."""
    from qfin.kline import export_pretrained

    results, tuned = read_series(out, config, "zero_shot"), read_series(out, config, "fine_tuned")
    n_params = sum(p.numel() for p in res.tokenizer.parameters()) + sum(p.numel() for p in res.model.parameters())
    val = {h["stage"]: h["validation"] for h in res.progress["history"] if "validation" in h}
    card = {
        "name": "small", "parameters": n_params,
        "corpus": {"datasets": list(config.datasets), "held_out": list(config.held_out),
                   "train_end": config.train_end, "validation_end": config.validation_end,
                   "synthetic": {"models": list(config.synthetic_models), "paths_per_model": config.synthetic_paths,
                                 "bars_per_path": config.synthetic_bars, "substeps": config.synthetic_substeps,
                                 "bars_total": config.synthetic_paths * config.synthetic_bars
                                 * len(config.synthetic_models)},
                   "features": config.features},
        "budget": {"tokenizer_steps": config.tokenizer_steps, "model_steps": config.model_steps,
                   "batch_size": config.batch_size, "note": budget_note},
        "seed": config.seed, "validation_losses": val,
        "evaluation": {"zero_shot": lean(results), "fine_tuned": lean(tuned)},
    }
    pt = export_pretrained(out, "small", card)
    md = [f"# K-line model card: small ({n_params:,} parameters)", "",
          f"Corpus: train spans (to {config.train_end}) of {', '.join(config.datasets)}; held out entirely: "
          f"{', '.join(config.held_out)}; {card['corpus']['synthetic']['bars_total']:,} synthetic bars "
          f"({', '.join(config.synthetic_models)}; {config.synthetic_substeps} intrabar sub-steps). Features: "
          f"{config.features}. Budget: {config.tokenizer_steps} tokenizer + {config.model_steps} model steps of "
          f"{config.batch_size} windows; {budget_note}. Seed {config.seed}.", "",
          "## Zero-shot (test spans from 2015-07)", "", evaluation_table(results), ""]
    if tuned:
        md += ["## Fine-tuned on each series' own train span (validation span: early stopping, calibration)", "",
               evaluation_table(tuned), ""]
    pt.with_suffix(".md").write_text("\n".join(md))
    print(f"shipped {pt} ({pt.stat().st_size / 1e6:.1f} MB), {pt.with_suffix('.json')}, {pt.with_suffix('.md')}")


if __name__ == "__main__":
    raise SystemExit(main())
