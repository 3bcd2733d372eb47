"""Fine-tuning a pre-trained K-line model on one user series: a chronological train / validation split, early
stopping on the validation loss, conformal re-calibration of the intervals on the validation span, and a new
checkpoint folder (the :func:`train_kline` layout plus ``finetune.json`` and ``calibration.json``).

Leakage guarantees are the training ones: bars after ``end`` are dropped before anything is read; training
windows lie wholly inside the train part; the validation part is read only for the stopping rule and the
calibration. The tokenizer stays frozen (the token vocabulary is the pre-trained one); the model is updated.
A non-finite loss, gradient or parameter stops at once with :class:`TrainingDivergedError`; the folder keeps
the last good checkpoint (at worst the base model's weights, written before the first update).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from ..errors import CheckpointError, DataValidationError, SpecError, TrainingDivergedError
from ._corpus import KlineCorpus, Series, calendar_features
from ._normalize import FEATURES

__all__ = ["FinetuneResult", "finetune_kline"]


@dataclass
class FinetuneResult:
    """What :func:`finetune_kline` leaves: the predictor (best weights, calibrated), the validation loss before
    and after, the history of validation checks and the folder."""

    predictor: object
    initial_loss: float
    best_loss: float
    best_step: int
    steps: int
    history: list = field(default_factory=list)
    out_dir: Path | None = None
    split: dict = field(default_factory=dict)


def _split(bars: pl.DataFrame, width: int, validation_fraction: float, validation_start) -> int:
    """Row where the validation part starts; both parts must hold more than one window."""
    n = bars.height
    if validation_start is not None:
        from ._inputs import _date_bound, _naive_timestamp

        bound = _date_bound(str(validation_start), "validation_start", whole_day=False)
        i_val = int(bars.select((_naive_timestamp(bars) < bound).sum()).item())
    else:
        if not 0.0 < validation_fraction < 1.0:
            raise SpecError(f"validation_fraction {validation_fraction}: must lie in (0, 1)")
        i_val = n - max(int(round(validation_fraction * n)), width + 1)
    if i_val <= width or n - i_val <= width:
        raise DataValidationError(
            f"fine-tuning needs more than one window ({width} bars = lookback + horizon) in both the train and the "
            f"validation part; got {bars.height} bars split {i_val} / {n - i_val}: give more bars", rule="too_short")
    return i_val


def finetune_kline(bars: pl.DataFrame, base: str | Path = "small", out_dir: str | Path | None = None, *,
                   end: str | None = None, validation_fraction: float = 0.2, validation_start: str | None = None,
                   steps: int = 300, eval_every: int = 25, patience: int = 4, lr: float = 2e-4,
                   batch_size: int = 32, seed: int = 0, calibrate: bool = True, calibration_samples: int = 64,
                   progress: bool = False) -> FinetuneResult:
    """Fine-tune ``base`` (a shipped checkpoint name or a checkpoint folder) on ``bars`` (one symbol, Bars schema).

    The bars up to ``end`` (inclusive; all by default) are split in time: the last ``validation_fraction`` (or
    from ``validation_start``) validate. Every ``eval_every`` updates the validation loss (teacher-forced next-token
    cross-entropy over the validation windows) is measured; the best weights are written to ``out_dir``; training
    stops after ``patience`` checks without improvement or ``steps`` updates. Then, with ``calibrate``, the 80% and
    90% intervals are re-calibrated on the validation span (contexts may reach back into the train part) and
    saved as ``calibration.json``, which :meth:`KlinePredictor.from_checkpoint` loads.
    """
    from ..data import validate_bars
    from ._inputs import _date_bound, _naive_timestamp
    from ._predictor import KlinePredictor
    from ._train import _finite_parameters, _write_checkpoint, read_config

    if steps < 1 or eval_every < 1 or patience < 1 or batch_size < 1 or not lr > 0:
        raise SpecError(f"steps ({steps}), eval_every ({eval_every}), patience ({patience}) and batch_size "
                        f"({batch_size}) must be >= 1 and lr ({lr}) > 0")
    predictor = KlinePredictor.load(base)
    cfg, tok, model = predictor.config, predictor.tokenizer, predictor.model
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and (out / "config.json").exists() and read_config(out) != cfg:
        raise CheckpointError(f"{out}: holds a checkpoint of another config than {base}; choose another --out "
                              "or an empty folder")
    if out is not None and out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (
            out / "config.json").exists())):
        raise CheckpointError(f"{out} exists and is not a K-line checkpoint folder; choose another --out")
    if not isinstance(bars, pl.DataFrame):
        raise DataValidationError(f"bars must be a polars DataFrame in the Bars schema; got {type(bars).__name__}",
                                  rule="bad_type")
    bars = validate_bars(bars).sort("timestamp")
    if bars["symbol"].n_unique() != 1:
        raise DataValidationError("fine-tuning bars must hold one symbol", rule="several_symbols", column="symbol")
    if end is not None:
        bars = bars.filter(_naive_timestamp(bars) <= _date_bound(str(end), "end", whole_day=True))
    width = cfg.lookback + cfg.horizon
    i_val = _split(bars, width, validation_fraction, validation_start)
    ohlcv = bars.select(FEATURES).to_numpy().astype(np.float64)
    from ._normalize import bars_to_features

    series = Series(name="finetune", features=bars_to_features(ohlcv, cfg.log_volume, cfg.features),
                    calendar=calendar_features(bars["timestamp"]), timestamps=bars["timestamp"].to_numpy(),
                    parts={"train": np.arange(i_val), "validation": np.arange(i_val, bars.height),
                           "test": np.arange(0)})
    corpus = KlineCorpus([series], cfg.log_volume, cfg.features)
    which, starts = corpus.window_index("train", width, 1)
    val = corpus.windows("validation", cfg.lookback, cfg.horizon, 1, cfg.clip)
    vz, vcal = torch.from_numpy(val.z[:512]), torch.from_numpy(val.calendar[:512])
    with torch.no_grad():
        vc, vf = tok.encode(vz)

    @torch.no_grad()
    def val_loss() -> float:
        model.eval()
        loss = float(model.loss(vc, vf, vcal)[0])
        model.train()
        return loss

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    split = {"bars": bars.height, "train_bars": i_val, "validation_bars": bars.height - i_val,
             "validation_start": str(bars["timestamp"][i_val]), "last_bar": str(bars["timestamp"][-1])}
    meta = {"base": str(base), "split": split, "lr": lr, "seed": seed, "steps": steps, "eval_every": eval_every,
            "patience": patience}
    initial = best = val_loss()
    best_step, history, saved = 0, [{"step": 0, "validation_loss": initial}], False
    best_state = {k: v.clone() for k, v in model.state_dict().items()}

    def save(step: int) -> None:
        nonlocal saved
        if out is None:
            return
        state = {"stage": "done", "step": 0, "history": [], "finetune_step": step}
        _write_checkpoint(out, cfg, tok, model, {}, state)
        from ..data import atomic_path

        with atomic_path(out / "finetune.json") as tmp:
            Path(tmp).write_text(json.dumps({**meta, "best_step": best_step, "best_loss": best,
                                             "initial_loss": initial, "history": history}, indent=2))
        saved = True

    save(0)
    model.train()
    bad_checks = 0
    step = 0
    for step in range(1, steps + 1):
        idx = np.random.default_rng([seed, 9, step]).integers(0, len(starts), size=min(batch_size, len(starts)))
        z, cal = corpus.gather(which[idx], starts[idx], cfg.lookback, cfg.horizon, cfg.clip)
        with torch.no_grad():
            c, f = tok.encode(torch.from_numpy(z))
        loss, _ = model.loss(c, f, torch.from_numpy(cal))
        what = None
        if not bool(torch.isfinite(loss)):
            what = f"the loss ({loss.item()})"
        else:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if not bool(torch.isfinite(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))):
                what = "the gradient norm"
            else:
                opt.step()
                if not _finite_parameters(model):
                    what = "a parameter after the update"
        if what is not None:
            kept = (f"the last good checkpoint (step {best_step}) is kept in {out}" if saved else
                    "nothing was saved (no out_dir)")
            raise TrainingDivergedError(f"K-line fine-tuning diverged at step {step} of {steps}: {what} is not "
                                        f"finite (lr {lr:g}); {kept}. Lower lr and fine-tune again")
        if step % eval_every == 0 or step == steps:
            current = val_loss()
            history.append({"step": step, "validation_loss": current})
            if current < best:
                best, best_step, bad_checks = current, step, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
                save(step)
            else:
                bad_checks += 1
                if bad_checks >= patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    tuned = KlinePredictor(tok, model, cfg)
    if calibrate:
        span = bars.slice(i_val - cfg.lookback, bars.height - i_val + cfg.lookback)
        n_origins = max(min(60, span.height - width), 2)
        tuned.calibrate(span, cfg.horizon, n_origins=n_origins, samples=calibration_samples, seed=seed + 1)
        if out is not None:
            from ..data import atomic_path

            with atomic_path(out / "calibration.json") as tmp:
                Path(tmp).write_text(json.dumps({"horizon": tuned.calibration_horizon, "levels": {
                    str(k): v.tolist() for k, v in tuned.calibration.items()}}))
    if out is not None:
        save(best_step)
    return FinetuneResult(tuned, initial, best, best_step, step, history, out, split)
