"""Hyperparameter search with Ray Tune over an iterative job, trials checkpointed so a stopped search resumes.

An :class:`IterativeJob` is a generator function ``run(config, seed, state)`` yielding ``(metrics, state)`` once
per iteration; ``state`` (JSON values and numpy arrays, :mod:`qfin.parallel._state`) is what the job needs to go
on from that iteration, so a trial restarted from its checkpoint computes the same numbers as one never stopped.
Every trial gets the spec's one seed: trials differ only in their parameters (common random numbers).

Where things live under ``out_dir``: ``tune/search`` is Tune's ``storage_path`` (experiment state, each trial's
``result.json`` and its checkpoints, the last two kept); :meth:`TuneResult.write` adds ``trials.parquet``,
``iterations.parquet``, ``tune.json`` and ``report.html`` beside it. Faults: a trial whose worker process or node
dies restarts from its last checkpoint up to ``max_failures`` times (Tune's ``FailureConfig(max_failures=...)``);
SIGINT stops the search with its state saved (Tune's own handler), and ``resume=True`` continues it with
``Tuner.restore(resume_unfinished=True, resume_errored=True)``: finished trials are kept, not run again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qfin.errors import QfinError, SpecError
from qfin.parallel._ray import connect
from qfin.parallel._state import load_state, save_state
from qfin.parallel._tune_spec import TuneSpec, search_space
from qfin.progress import progress_bar

__all__ = ["IterativeJob", "TuneResult", "run_tune", "tune_storage"]

ITERATION = "iteration"


@dataclass(frozen=True)
class IterativeJob:
    """A job a search can run: ``run(config, seed, state)`` yields ``(metrics, state)`` per iteration.

    ``metrics`` names every figure it reports (the spec's metric must be one); ``defaults`` are the config
    keys it accepts with their values when neither [config] nor [space] sets them (``open_keys``: it also takes
    keys of its own, e.g. a strategy's parameters, and checks them itself)."""

    name: str
    run: Callable[[dict[str, Any], int, dict[str, Any] | None], Iterator[tuple[dict[str, float], dict[str, Any]]]]
    metrics: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    open_keys: bool = False


def check_job(job: IterativeJob, spec: TuneSpec, where: str) -> None:
    """The spec's metric is one the job reports and its keys are ones the job accepts (one-line SpecErrors)."""
    if spec.metric not in job.metrics:
        raise SpecError(f"{where}: metric {spec.metric!r} is never reported by job {job.name!r}; it reports: "
                        f"{', '.join(job.metrics)}")
    for table in () if job.open_keys else ("config", "space"):
        unknown = sorted(set(getattr(spec, table)) - set(job.defaults))
        if unknown:
            raise SpecError(f"{where}: {table}.{unknown[0]} is not a setting of job {job.name!r}; accepted: "
                            f"{', '.join(sorted(job.defaults))}")


def tune_storage(out_dir: str | Path) -> Path:
    """Tune's storage_path under ``out_dir`` (the experiment itself is its ``search`` folder)."""
    return Path(out_dir).resolve() / "tune"


def _trainable(job: IterativeJob, fixed: dict[str, Any], seed: int, max_iterations: int) -> Callable:
    """The function trainable: resumes from the trial's checkpoint if there is one, reports every iteration."""

    def trial(params: dict[str, Any]) -> None:
        from ray import tune

        state, done = None, 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                state = load_state(folder)
            done = int(state.pop("_iteration"))
        config = {**job.defaults, **fixed, **params}
        if done >= max_iterations:
            return
        for step, (metrics, new_state) in enumerate(job.run(config, seed, state), start=done + 1):
            with tempfile.TemporaryDirectory() as folder:
                save_state({**new_state, "_iteration": step}, folder)
                tune.report({**metrics, ITERATION: step}, checkpoint=tune.Checkpoint.from_directory(folder))
            if step >= max_iterations:
                break

    trial.__name__ = f"qfin_{job.name}"
    return trial


@dataclass
class TuneResult:
    """Every trial's parameters and final figures (``trials``), their figures per iteration (``iterations``),
    the best trial, and what the scheduler stopped."""

    spec: TuneSpec
    trials: Any  # polars DataFrame, one row per trial
    iterations: Any  # polars DataFrame: trial_id, iteration, every reported metric
    params: list[str]
    best: dict[str, Any] | None
    interrupted: bool
    storage: Path

    @property
    def stopped_early(self) -> int:
        """Trials that ended before max_iterations (ASHA stopped them) without an error."""
        t = self.trials
        return int(((t["iterations"] < self.spec.max_iterations) & t["error"].is_null()).sum())

    def write(self, out_dir: str | Path, spec_hash: str | None = None) -> list[Path]:
        """trials.parquet, iterations.parquet, tune.json and report.html into ``out_dir`` (beside Tune's own
        storage), all or nothing (:func:`qfin.data.recorded_files`, kind "tune")."""
        from qfin.data import recorded_files, strict_json
        from qfin.parallel._tune_report import tune_report
        from qfin.report import write_files

        names = ["trials.parquet", "iterations.parquet", "tune.json", "report.html"]
        files = {"trials.parquet": _parquet(self.trials), "iterations.parquet": _parquet(self.iterations),
                 "tune.json": strict_json({"spec": self.spec.model_dump(mode="json"), "best": self.best,
                                           "stopped_early": self.stopped_early,
                                           "storage": str(self.storage)}),
                 "report.html": tune_report(self)}
        with recorded_files(out_dir, "tune", names, spec_hash=spec_hash) as folder:
            written = write_files(folder, files)
        return [written[name] for name in names]


def _parquet(frame: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def run_tune(job: IterativeJob, spec: TuneSpec, out_dir: str | Path, *, address: str | None = None,
             resume: bool = False, progress: bool = True, where: str = "tune spec") -> TuneResult:
    """Search ``spec.space`` over ``job`` with Ray Tune (local Ray, or the cluster at ``address``).

    ``resume`` restores the search saved under ``out_dir`` (after SIGINT, a crash or a lost driver): finished
    trials are kept as they are, unfinished ones go on from their last checkpoint. The spec must be the one the
    search was started with."""
    check_job(job, spec, where)
    if spec.search == "optuna":
        _import_optuna()  # before any work: one line if it is missing
    storage = tune_storage(out_dir)
    experiment = storage / "search"
    saved = storage / "spec.json"
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    if resume:
        if not (experiment / "tuner.pkl").exists():
            raise QfinError(f"--resume: {out_dir} holds no search to resume (no {experiment}/tuner.pkl); run "
                            "without --resume to start one")
        if saved.exists() and saved.read_text() != text:
            raise SpecError(f"--resume: the spec differs from the one the search in {out_dir} was started with; "
                            "resume with that spec, or start a new search in another --out")
    elif experiment.exists():
        raise QfinError(f"--out {out_dir}: a search is already saved there ({experiment}); add --resume to go on "
                        "with it, or give another --out")
    ray = connect(address)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the old reporter honours verbose=0: qfin prints the table
    logging.getLogger("ray.tune").setLevel(logging.ERROR)  # TensorboardX missing, snapshot timing
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    storage.mkdir(parents=True, exist_ok=True)
    if not resume:
        saved.write_text(text)
    trainable = _trainable(job, spec.config, spec.seed, spec.max_iterations)
    scheduler = (ASHAScheduler(time_attr="training_iteration", max_t=spec.max_iterations,
                               grace_period=min(spec.grace_period, spec.max_iterations),
                               reduction_factor=spec.reduction_factor)
                 if spec.scheduler == "asha" else FIFOScheduler())
    n_trials = spec.num_samples * math.prod(len(d.values) for d in spec.space.values() if d.type == "grid")
    with progress_bar(n_trials, f"tuning {job.name}", progress) as advance:
        callbacks = [_Progress(advance)]
        if resume:
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space=search_space(spec),
                tune_config=tune.TuneConfig(metric=spec.metric, mode=spec.mode, num_samples=spec.num_samples,
                                            scheduler=scheduler, max_concurrent_trials=spec.max_concurrent,
                                            search_alg=_searcher(spec, BasicVariantGenerator)),
                run_config=tune.RunConfig(name="search", storage_path=str(storage), verbose=0,
                                          callbacks=callbacks,
                                          failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                          checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
        grid = tuner.fit()
    del ray
    return _collect(spec, grid, storage, job.metrics, _unfinished(experiment))


def _unfinished(experiment: Path) -> int:
    """Trials the saved experiment state holds as not yet done (after SIGINT, Tune's in-memory trials read
    TERMINATED; the state it saved on the way out still says PENDING or RUNNING)."""
    from ray.tune import ExperimentAnalysis

    return sum(trial.status not in ("TERMINATED", "ERROR") for trial in ExperimentAnalysis(str(experiment)).trials)


def _searcher(spec: TuneSpec, basic: type) -> Any:
    """Tune's random/grid generator seeded by the spec, or Optuna's TPE sampler (imported only when asked for)."""
    if spec.search == "random":
        return basic(random_state=spec.seed)
    optuna = _import_optuna()
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=spec.seed))


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise QfinError('search = "optuna" needs Optuna, which is not installed: pip install optuna (or use '
                        'search = "random")') from None
    return optuna


class _Progress:
    """A Tune callback advancing qfin's progress bar once per finished trial (built lazily: ray.tune.Callback)."""

    def __new__(cls, advance: Callable[[], None]):
        from ray import tune

        class Progress(tune.Callback):
            def on_trial_complete(self, iteration, trials, trial, **info):
                advance()

        return Progress()


def _collect(spec: TuneSpec, grid: Any, storage: Path, reported: tuple[str, ...], unfinished: int) -> TuneResult:
    import polars as pl

    params = list(spec.space)
    rows, history = [], []
    for result in grid:
        frame = result.metrics_dataframe
        records = [] if frame is None or spec.metric not in frame else frame.to_dict("records")
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name
        for record in records:
            history.append({"trial_id": trial_id, ITERATION: int(record[ITERATION]),
                            **{m: float(record[m]) for m in reported if m in record}})
        values = [float(record[spec.metric]) for record in records]
        best = (min if spec.mode == "min" else max)(values) if values else None
        rows.append({"trial_id": trial_id, **{p: (result.config or {}).get(p) for p in params},
                     spec.metric: values[-1] if values else None, f"best_{spec.metric}": best,
                     "iterations": len(values), "error": None if result.error is None else _one_line(result.error)})
    trials = pl.DataFrame(rows, infer_schema_length=None)
    sign = 1 if spec.mode == "min" else -1
    ranked = trials.filter(pl.col(spec.metric).is_not_null()).sort(
        [pl.col("iterations"), pl.col(spec.metric) * sign], descending=[True, False])
    best = ranked.row(0, named=True) if ranked.height else None
    iterations = (pl.DataFrame(history) if history
                  else pl.DataFrame(schema={"trial_id": pl.Utf8, ITERATION: pl.Int64, spec.metric: pl.Float64}))
    return TuneResult(spec, trials.sort(spec.metric, descending=spec.mode == "max", nulls_last=True), iterations,
                      params, best, unfinished > 0, storage)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"
