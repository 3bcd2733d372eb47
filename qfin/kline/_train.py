"""Pre-training of the tokenizer and then the model, with checkpoints and exact resume.

A checkpoint folder holds ``config.json`` (the :class:`KlineTrainConfig`), ``tokenizer.pt`` and ``model.pt``
(state dicts), ``optimizer.pt`` and ``progress.json`` (stage, step, loss history). The folder is one unit: each
checkpoint is written whole into a staging folder beside it and swapped in by one atomic exchange
(:func:`qfin.data._output.staged_checkpoint`), so a kill at any instant leaves the folder holding all five files of
one step, never a mix of two. Loading uses ``torch.load(weights_only=True)`` and refuses non-finite weights.
Mini-batches are drawn by a numpy ``Generator`` seeded with ``(seed, stage, step)``, so a run interrupted and
resumed gives the same weights as one that never stopped.

A non-finite loss, gradient norm or parameter stops training at once with :class:`TrainingDivergedError`, before
the diverged state can reach a checkpoint: the folder keeps the last good one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, SpecError, TrainingDivergedError
from ._config import KlineTrainConfig
from ._corpus import KlineCorpus, Windows
from ._model import KlineModel
from ._tokenizer import KlineTokenizer

STAGES = ("tokenizer", "model", "done")


@dataclass
class TrainResult:
    """What :func:`train_kline` leaves: the config, both networks, the progress record and the folder."""

    config: KlineTrainConfig
    tokenizer: KlineTokenizer
    model: KlineModel
    progress: dict = field(default_factory=dict)
    out_dir: Path | None = None


def build_corpus(config: KlineTrainConfig) -> KlineCorpus:
    """The corpus a config names: shipped datasets, split in time, plus its synthetic GARCH K-lines."""
    corpus = KlineCorpus.from_datasets(config.datasets, config.train_end, config.validation_end,
                                       log_volume=config.log_volume, kind=config.features)
    if config.synthetic_garch_paths:
        corpus.add_synthetic_garch(config.synthetic_garch_paths, config.synthetic_garch_steps, seed=config.seed)
    if config.synthetic_paths:
        corpus.add_synthetic(config.synthetic_paths, config.synthetic_bars, config.synthetic_models,
                             seed=config.seed, substeps=config.synthetic_substeps)
    return corpus


def lr_at(config: KlineTrainConfig, step: int, steps: int) -> float:
    """Learning rate of update ``step`` (0-based) of a stage of ``steps``: linear warm-up over ``warmup_steps``,
    then constant or cosine down to 10% of ``lr`` at the last step. A function of the step alone, so a resumed
    run follows the same schedule."""
    import math

    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.lr
    frac = (step - config.warmup_steps) / max(steps - config.warmup_steps, 1)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


CHECKPOINT_FILES = ("config.json", "tokenizer.pt", "model.pt", "optimizer.pt", "progress.json")


def _write_checkpoint(out: Path, config: KlineTrainConfig, tok: KlineTokenizer, model: KlineModel,
                      opt_state: dict, state: dict) -> None:
    """All five files of one step, written into a staging folder and swapped in as one unit. Anything else in the
    folder (``qfin kline evaluate``'s evaluation.json and .html, a user's notes) moves along, never deleted."""
    from ..data._output import staged_checkpoint

    with staged_checkpoint(out) as staging:
        (staging / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        torch.save({k: v.cpu() for k, v in tok.state_dict().items()}, staging / "tokenizer.pt")
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, staging / "model.pt")
        torch.save(opt_state, staging / "optimizer.pt")
        (staging / "progress.json").write_text(json.dumps(state, indent=2))
        if out.is_dir():
            for entry in out.iterdir():
                if entry.name not in CHECKPOINT_FILES:
                    _carry_over(entry, staging / entry.name)


def _carry_over(entry: Path, target: Path) -> None:
    """``entry`` at ``target`` too: hard links where the filesystem allows (no copying), else copies."""
    def link_or_copy(src, dst) -> None:
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            shutil.copy2(src, dst, follow_symlinks=False)

    if entry.is_dir() and not entry.is_symlink():
        shutil.copytree(entry, target, symlinks=True, copy_function=link_or_copy)
    else:
        link_or_copy(entry, target)


def _load_state(module: torch.nn.Module, path: Path, what: str) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: missing {what} weights; the checkpoint folder is incomplete")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged or foreign file; torch's own message would suggest weights_only=False
        raise CheckpointError(f"{path}: not a readable {what} state dict ({type(exc).__name__}); expected the "
                              "tensors torch.save wrote for `qfin kline train`") from None
    load_state_dict(module, state, str(path), what)


def load_state_dict(module: torch.nn.Module, state: object, where: str, what: str) -> None:
    """Load ``state`` into ``module``; one :class:`CheckpointError` line for a non-dict, non-finite weights or
    weights of another shape (``where`` names the file)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{where}: holds a {type(state).__name__}, not a {what} state dict")
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not bool(
        torch.isfinite(v).all())]
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise CheckpointError(f"{where}: the {what} weights hold NaN or infinite values ({bad[0]}{more}); the run "
                              "that wrote them diverged: retrain with a lower lr, or load an earlier checkpoint")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0:3]
        raise CheckpointError(f"{where}: the {what} weights do not fit the config ({' '.join(first)}); "
                              f"the checkpoint was made with another config") from None


def read_config(out_dir: str | Path) -> KlineTrainConfig:
    """The :class:`KlineTrainConfig` stored in a checkpoint folder."""
    path = Path(out_dir) / "config.json"
    if not path.exists():
        raise CheckpointError(f"{path} not found: not a K-line checkpoint folder")
    return KlineTrainConfig.from_dict(json.loads(path.read_text()))


def load_kline(out_dir: str | Path, config: KlineTrainConfig | None = None
               ) -> tuple[KlineTrainConfig, KlineTokenizer, KlineModel]:
    """Load (config, tokenizer, model) from a checkpoint folder (``weights_only=True``). With ``config`` given,
    a folder written with a different config raises :class:`CheckpointError`."""
    out_dir = Path(out_dir)
    stored = read_config(out_dir)
    if config is not None and config != stored:
        diff = {k: (v, stored.to_dict()[k]) for k, v in config.to_dict().items() if stored.to_dict()[k] != v}
        raise CheckpointError(f"{out_dir}: checkpoint of another config; differing keys (given, stored): {diff}")
    tok, model = KlineTokenizer(stored.tokenizer), KlineModel(stored.model)
    _load_state(tok, out_dir / "tokenizer.pt", "tokenizer")
    _load_state(model, out_dir / "model.pt", "model")
    tok.eval()
    model.eval()
    return stored, tok, model


def _batch(n: int, size: int, seed: int, stage: int, step: int) -> np.ndarray:
    return np.random.default_rng([seed, stage, step]).integers(0, n, size=min(size, n))


@torch.no_grad()
def encode_windows(tokenizer: KlineTokenizer, windows: Windows, batch: int = 512):
    """Token indices (coarse, fine) ``[N, W]`` of every window."""
    tokenizer.eval()
    device = next(tokenizer.parameters()).device
    cs, fs = [], []
    for i in range(0, len(windows), batch):
        c, f = tokenizer.encode(torch.from_numpy(windows.z[i:i + batch]).to(device))
        cs.append(c)
        fs.append(f)
    return torch.cat(cs), torch.cat(fs)


def train_kline(config: KlineTrainConfig, out_dir: str | Path | None = None, resume: bool = True,
                progress: bool = True, corpus: KlineCorpus | None = None, stop_after: int | None = None,
                device: str | torch.device = "cpu", time_limit: float | None = None) -> TrainResult:
    """Train the tokenizer (``config.tokenizer_steps`` updates), then the model (``config.model_steps``) on the
    train windows; checkpoint to ``out_dir`` every ``checkpoint_every`` steps and at each stage's end.

    ``resume=True`` continues from ``out_dir`` if it holds a checkpoint of the same config (another config
    raises :class:`CheckpointError`). ``stop_after`` ends the call after that many updates in this call (an
    interruption, for tests and for time-boxed runs); ``time_limit`` (seconds) does the same on the wall clock,
    checkpointing first, so the same call again resumes. ``progress`` shows a rich progress bar. ``device``
    (e.g. ``"cuda"``) is where the updates run; checkpoints and the returned networks are on the CPU.
    """
    device = check_device(device)
    out = Path(out_dir) if out_dir is not None else None
    torch.manual_seed(config.seed)
    tok, model = KlineTokenizer(config.tokenizer), KlineModel(config.model)
    state = {"stage": "tokenizer", "step": 0, "history": []}
    opt_state = None
    saved_at = None  # (stage, step) of the checkpoint in ``out``, named if training diverges
    if out is not None:
        from ..data._output import recover_checkpoint

        recover_checkpoint(out)
    if out is not None and resume and (out / "progress.json").exists():
        _, tok, model = load_kline(out, config)
        state = json.loads((out / "progress.json").read_text())
        saved_at = (state["stage"], state["step"])
        if (out / "optimizer.pt").exists():
            opt_state = torch.load(out / "optimizer.pt", map_location="cpu", weights_only=True)
    elif out is not None and out.exists() and (not out.is_dir() or (
            any(out.iterdir()) and not (out / "config.json").exists())):
        raise CheckpointError(f"{out} exists and is not a K-line checkpoint folder (no config.json); it would be "
                              "replaced by the first checkpoint: choose another --out, or an empty folder")

    corpus = corpus if corpus is not None else build_corpus(config)
    import time

    started = time.monotonic()
    train_which, train_start = corpus.window_index("train", config.lookback + config.horizon, config.stride)

    def train_batch(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        z, cal = corpus.gather(train_which[idx], train_start[idx], config.lookback, config.horizon, config.clip)
        return torch.from_numpy(z).to(device), torch.from_numpy(cal).to(device)

    val = corpus.windows("validation", config.lookback, config.horizon, config.horizon, config.clip)
    done_here = 0
    tok.to(device)
    model.to(device)

    def checkpoint(opt) -> None:
        nonlocal saved_at
        if out is None:
            return
        _write_checkpoint(out, config, tok, model, opt.state_dict() if opt is not None else {}, state)
        saved_at = (state["stage"], state["step"])

    def diverged(stage: str, steps: int, what: str) -> TrainingDivergedError:
        if out is None:
            kept = "nothing was saved (no out_dir)"
        elif saved_at is None:
            kept = f"no checkpoint was written to {out} yet"
        else:
            kept = f"the last good checkpoint ({saved_at[0]} stage, step {saved_at[1]}) is kept in {out}"
        return TrainingDivergedError(f"K-line {stage} training diverged at step {state['step'] + 1} of {steps}: "
                                     f"{what} is not finite (lr {config.lr:g}); {kept}. Lower lr and train again")

    for stage_id, (stage, net, steps) in enumerate(
            [("tokenizer", tok, config.tokenizer_steps), ("model", model, config.model_steps)]):
        if STAGES.index(state["stage"]) > stage_id:
            continue
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if opt_state:
            opt.load_state_dict(opt_state)
            opt_state = None
        if stage == "model":
            tok.eval()
        net.train()
        bar = _progress(progress, f"kline {stage}", steps, state["step"])
        try:
            while state["step"] < steps:
                if (stop_after is not None and done_here >= stop_after) or (
                        time_limit is not None and time.monotonic() - started > time_limit):
                    checkpoint(opt)
                    return TrainResult(config, tok.cpu().eval(), model.cpu().eval(), state, out)
                z, cal = train_batch(_batch(len(train_start), config.batch_size, config.seed, stage_id,
                                            state["step"]))
                for group in opt.param_groups:
                    group["lr"] = lr_at(config, state["step"], steps)
                if stage == "tokenizer":
                    loss, parts = tok.loss(z)
                else:
                    with torch.no_grad():
                        c, f = tok.encode(z)
                    loss, parts = model.loss(c, f, cal)
                if not bool(torch.isfinite(loss)):
                    raise diverged(stage, steps, f"the loss ({loss.item()})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if not bool(torch.isfinite(torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0))):
                    raise diverged(stage, steps, "the gradient norm")
                opt.step()
                if not _finite_parameters(net):
                    raise diverged(stage, steps, "a parameter after the update")
                state["step"] += 1
                done_here += 1
                if bar is not None:
                    bar[0].update(bar[1], advance=1, description=f"kline {stage} loss {loss.item():.4f}")
                if state["step"] % config.checkpoint_every == 0 or state["step"] == steps:
                    state["history"].append({"stage": stage, "step": state["step"], **parts})
                    checkpoint(opt)
        finally:
            if bar is not None:
                bar[0].stop()
        net.eval()
        state["history"].append({"stage": stage, "step": state["step"], "validation": _val_loss(
            stage, tok, model, val, device)})
        state["stage"], state["step"] = STAGES[stage_id + 1], 0
        checkpoint(None)
    return TrainResult(config, tok.cpu().eval(), model.cpu().eval(), state, out)


@torch.no_grad()
def _finite_parameters(net: torch.nn.Module) -> bool:
    return bool(torch.stack([torch.isfinite(p).all() for p in net.parameters()]).all())


@torch.no_grad()
def _val_loss(stage: str, tok: KlineTokenizer, model: KlineModel, val: Windows, device) -> dict[str, float]:
    z = torch.from_numpy(val.z[:1024]).to(device)
    if stage == "tokenizer":
        return tok.loss(z)[1]
    c, f = tok.encode(z)
    return model.loss(c, f, torch.from_numpy(val.calendar[:1024]).to(device))[1]


def _progress(show: bool, label: str, total: int, done: int):
    if not show:
        return None
    from rich.progress import Progress

    p = Progress(transient=True)
    p.start()
    return p, p.add_task(label, total=total, completed=done)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device this torch can train on (cpu, cuda, cuda:N with CUDA present)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise SpecError(f"--device {device!r}: not a torch device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA device; use --device cpu")
    return device
