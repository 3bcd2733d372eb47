"""An off-policy selection experiment from a TOML spec (``qfin ope run SPEC.toml``).

The spec names an environment with a finite action menu, a stochastic behavior policy, candidate policies,
how many logged datasets of how many episodes to draw, how many on-policy episodes give the ground truth, and
which estimators to assess. The run:

1. computes each candidate's true value J(pi_e) and J(pi_b) by on-policy rollouts on common random numbers,
   with standard errors;
2. logs ``n_datasets`` independent datasets under the behavior policy (saved as Parquet, :func:`save_logged`);
3. estimates every candidate with every estimator on every dataset;
4. scores the estimators as policy selectors across datasets (:func:`assess_estimators`: SharpeRatio@k and
   the other top-k metrics with bootstrap intervals) and writes the report.

Spec keys (unknown keys are errors)::

    title = "..."                     # optional
    gamma = 1.0
    [env]                             # an env preset inline (id, params, actions) or preset = "path.toml"
    [behavior]                        # a policy (below)
    [[candidates]]                    # at least two policies, each with a unique name
    [logging]   n_datasets, n_episodes, seed
    [truth]     n_episodes, seed
    [estimators] names = ["dm", "tis", "pdis", "dr", "sntis", "snpdis", "sndr"], features = "quadratic"
    [assessment] ks, n_bootstrap, level, safety_threshold, seed
    [menu]      allocators = ["cash", "equal_weight", "inverse_vol", "min_variance", "momentum"]  # PortfolioEnv
    [risk]      alpha = 0.05, estimators = ["tis", "sntis", "dm", "dr"], level, n_bootstrap, thresholds, seed

A policy is ``kind`` plus its keys: ``delta`` (vol, put), ``band`` (vol, put, band), ``constant`` (hedge),
``uniform``, ``agent`` (path: a trained qfin agent on the same menu); every kind but uniform takes the noise keys
``temperature`` and ``epsilon`` (:mod:`qfin.ope._policies`), agents only ``epsilon``. On ``qfin/Portfolio-v0``
the ``[menu]`` of classical allocators is the action set (:mod:`qfin.ope._allocators`) and policies are
``allocator`` (prefer, epsilon), ``mix`` (probabilities = {allocator = p, ...}) or ``uniform``.

With ``[risk]`` the run also estimates each candidate's return CDF by the distributional estimators, its mean and
CVaR at ``alpha`` with bootstrap bounds, and scores selection by mean, by CVaR and by the CVaR's lower bound
(:mod:`qfin.ope._risk_experiment`); the report gains that section and ``risk_*.parquet`` / ``risk_*.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from qfin.data import check_memory, check_output_dir, config_hash, staged_output, strict_json
from qfin.envs import EnvPreset, load_preset
from qfin.errors import SpecError
from qfin.progress import progress_bar
from qfin.specs import parse_model, read_toml

from ._allocators import MenuPreset
from ._allocators import make_menu_env as make_env  # qfin.envs.make_env, wrapped in the allocator menu if any
from ._estimators import _MODEL_BASED, ESTIMATORS, estimate_all, fitted_q_evaluation
from ._logged import save_logged
from ._policy_specs import PolicySpec, build_policy
from ._risk_experiment import RiskResult, RiskSpec, assess_risk, risk_report_parts
from ._rollout import log_episodes, policy_returns, truth_table
from ._selection import assess_estimators, write_report

__all__ = ["OPESpec", "OPERun", "load_ope_spec", "run_ope_experiment", "OUTPUT_MARKER"]

OUTPUT_MARKER = "ope.json"
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoggingSpec(_Strict):
    n_datasets: int = Field(5, ge=1)
    n_episodes: int = Field(1000, ge=2)
    seed: int = 0


class TruthSpec(_Strict):
    n_episodes: int = Field(20_000, ge=2)
    seed: int = 1


class EstimatorSpec(_Strict):
    names: list[str] = list(ESTIMATORS)
    features: Literal["linear", "quadratic"] = "quadratic"


class AssessmentSpec(_Strict):
    ks: list[int] | None = None
    n_bootstrap: int = Field(1000, ge=1)
    level: float = Field(0.95, gt=0, lt=1)
    safety_threshold: float | None = None
    seed: int = 0


class MenuSpec(_Strict):
    allocators: list[str] = Field(min_length=2)


class OPESpec(_Strict):
    title: str = "Off-policy selection"
    gamma: float = Field(1.0, ge=0, le=1)
    env: str | EnvPreset
    behavior: PolicySpec
    candidates: list[PolicySpec] = Field(min_length=2)
    logging: LoggingSpec = LoggingSpec()
    truth: TruthSpec = TruthSpec()
    estimators: EstimatorSpec = EstimatorSpec()
    assessment: AssessmentSpec = AssessmentSpec()
    menu: MenuSpec | None = None
    risk: RiskSpec | None = None


def load_ope_spec(path: str | Path) -> tuple[OPESpec, Path]:
    """Parse and check a spec; returns it with the folder relative paths in it are resolved against."""
    path = Path(path)
    raw = read_toml(path)
    if isinstance(raw.get("env"), dict) and set(raw["env"]) == {"preset"}:
        raw["env"] = raw["env"]["preset"]
    spec = parse_model(OPESpec, raw, path)
    for i, policy in enumerate(spec.candidates):
        if not policy.name:
            raise SpecError(f"{path}: candidates[{i}]: every candidate needs a name")
    names = [c.name for c in spec.candidates]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{path}: candidate names must be unique; repeated: {dupes}")
    unknown = [e for e in spec.estimators.names if e not in ESTIMATORS]
    if unknown:
        raise SpecError(f"{path}: estimators.names: unknown {unknown}; known: {list(ESTIMATORS)}")
    too_many = [k for k in spec.assessment.ks or () if not 1 <= k <= len(spec.candidates)]
    if too_many:
        raise SpecError(f"{path}: assessment.ks: {too_many} outside 1..{len(spec.candidates)}, the number of "
                        "candidates (top-k metrics rank the candidates)")
    return spec, path.parent


def _preset(spec: OPESpec, base: Path) -> EnvPreset:
    preset = load_preset(base / spec.env) if isinstance(spec.env, str) else spec.env
    if spec.menu is not None:
        if preset.id != "qfin/Portfolio-v0" or preset.actions is not None:
            raise SpecError(f"menu: an allocator menu is the action set of qfin/Portfolio-v0 without env.actions; "
                            f"the env is {preset.id}" + (" with actions" if preset.actions is not None else ""))
        return MenuPreset(**preset.model_dump(), menu=list(spec.menu.allocators))
    if preset.actions is None:
        raise SpecError("env: off-policy evaluation needs a finite action menu; add actions = [...] to the env "
                        "(e.g. hedge ratios [0.0, 0.25, 0.5, 0.75, 1.0]), or on qfin/Portfolio-v0 a [menu] of "
                        "allocators")
    return preset


def _quadratic_features(state: np.ndarray) -> np.ndarray:
    """FQE features [1, s, s_i s_j (i <= j)] of logged vector states [n, H, d] (``features = "quadratic"``; the
    linear setting is FQE's own default, [1, s])."""
    i, j = np.triu_indices(state.shape[2])
    return np.concatenate([np.ones(state.shape[:2] + (1,)), state, state[:, :, i] * state[:, :, j]], axis=2)


@dataclass(frozen=True)
class OPERun:
    """What a run produced: the true values (candidate, value, stderr; the behavior as ``behavior``), every
    estimate (dataset, candidate, estimator, value, stderr), the assessment table, the output folder, and with
    ``[risk]`` the risk estimates and their assessment (:class:`~qfin.ope._risk_experiment.RiskResult`)."""

    truth: pl.DataFrame
    estimates: pl.DataFrame
    table: pl.DataFrame
    out_dir: Path | None
    risk: RiskResult | None = None


def _policies(spec: OPESpec, base: Path):
    preset = _preset(spec, base)
    values = make_env(preset).values  # the menu as DiscreteActions normalised it, [A, m]
    behavior = build_policy(spec.behavior, values, preset.id, base)
    return preset, behavior, {c.name: build_policy(c, values, preset.id, base) for c in spec.candidates}


def _logged_dataset(spec: OPESpec, preset: EnvPreset, behavior, candidates, k: int):
    """Dataset ``k`` logged under the behavior policy and every estimator's estimate on it."""
    data = log_episodes(lambda: make_env(preset), behavior, candidates, spec.logging.n_episodes, gamma=spec.gamma,
                        seed=spec.logging.seed + 7919 * k)
    q = None
    if any(e in _MODEL_BASED for e in spec.estimators.names):
        phi = _quadratic_features(data.state) if spec.estimators.features == "quadratic" else None
        q = {c: fitted_q_evaluation(data, c, features=phi) for c in candidates}
    return data, estimate_all(data, spec.estimators.names, q_values=q).with_columns(pl.lit(k).alias("dataset"))


def truth_run(job: tuple[OPESpec, Path, str], seed: int) -> np.ndarray:
    """A qfin.parallel job: the on-policy returns of one policy (``job`` = (spec, base, name)) on the truth
    streams of ``seed``; equal to its column of the all-policies rollout (common random numbers per episode)."""
    spec, base, name = job
    preset, behavior, candidates = _policies(spec, base)
    policy = behavior if name == "behavior" else candidates[name]
    return policy_returns(lambda: make_env(preset), {name: policy}, spec.truth.n_episodes, gamma=spec.gamma,
                          seed=seed)[name]


def dataset_run(job: tuple[OPESpec, Path], k: int):
    """A qfin.parallel job: logged dataset ``k`` of the spec and its estimates (``job`` = (spec, base))."""
    spec, base = job
    preset, behavior, candidates = _policies(spec, base)
    return _logged_dataset(spec, preset, behavior, candidates, k)


def run_ope_experiment(spec: str | Path | OPESpec, out_dir: str | Path | None = None, *, base: Path | None = None,
                       progress: bool = True, backend: str = "local", n_workers: int | None = 1,
                       address: str | None = None) -> OPERun:
    """Run the experiment a spec describes (module docstring); with ``out_dir`` write ``truth.parquet``,
    ``estimates.parquet``, ``metrics.parquet``, ``topk.png``, ``report.html``, ``ope.json`` (the spec and the
    truth) and ``logged/dataset_<k>.parquet``, all or nothing (:func:`qfin.data.staged_output`, kind "ope");
    ``out_dir`` is checked before any work. The truth rollouts (one job per policy) and the logged datasets (one
    per dataset) go through :func:`qfin.parallel.run_jobs` on ``backend`` (``n_workers=1``, the default: one
    after another in this process); every backend gives the same numbers."""
    if out_dir is not None:
        check_output_dir(out_dir, "ope")
    if not isinstance(spec, OPESpec):
        spec, base = load_ope_spec(spec)
    base = Path(".") if base is None else base
    preset, behavior, candidates = _policies(spec, base)

    def factory():
        return make_env(preset)

    if backend == "local" and n_workers == 1:  # in this process, one after another
        with progress_bar(len(candidates) + 1, "ground truth (on-policy)", progress) as tick:
            returns = policy_returns(factory, {"behavior": behavior, **candidates}, spec.truth.n_episodes,
                                     gamma=spec.gamma, seed=spec.truth.seed, progress=tick)
        logged = []
        with progress_bar(spec.logging.n_datasets, "logged datasets", progress) as tick:
            for k in range(spec.logging.n_datasets):
                logged.append(_logged_dataset(spec, preset, behavior, candidates, k))
                tick()
    else:
        from .. import parallel

        options = {"backend": backend, "n_workers": n_workers, "address": address, "progress": progress}
        names = ["behavior", *candidates]
        check_memory(8.0 * spec.truth.n_episodes * (len(names) + 2), f"the on-policy returns of {len(names)} "
                     f"policies x {spec.truth.n_episodes:,} episodes", "the number of ground-truth episodes")
        returns = dict(zip(names, parallel.run_jobs(truth_run, [((spec, base, n), spec.truth.seed) for n in names],
                                                    description="ground truth (on-policy)", **options),
                           strict=True))
        logged = parallel.run_jobs(dataset_run, [((spec, base), k) for k in range(spec.logging.n_datasets)],
                                   description="logged datasets", **options)
    datasets, frames = [d for d, _ in logged], [f for _, f in logged]
    estimates = pl.concat(frames).select("dataset", "candidate", "estimator", "value", "stderr")
    truth_frame = truth_table(returns)
    truth = {r["candidate"]: (r["value"], r["stderr"]) for r in truth_frame.iter_rows(named=True)}
    gaps = truth_frame.drop_nulls("gap_to_next")
    resolved = int((gaps["gap_to_next"] > 2 * gaps["gap_stderr"]).sum())
    a = spec.assessment
    table = assess_estimators(estimates, {c: truth[c][0] for c in candidates}, truth["behavior"][0], ks=a.ks,
                              safety_threshold=a.safety_threshold, n_bootstrap=a.n_bootstrap, level=a.level,
                              seed=a.seed)
    risk = None
    if spec.risk is not None:
        r = spec.risk

        def features(data):
            return _quadratic_features(data.state) if spec.estimators.features == "quadratic" else None

        with progress_bar(len(datasets), "risk estimates (return CDFs)", progress) as tick:
            risk = assess_risk(datasets, list(candidates), returns, estimators=r.estimators, alpha=r.alpha,
                               level=r.level, n_bootstrap=r.n_bootstrap, n_thresholds=r.thresholds, seed=r.seed,
                               features=features, ks=a.ks, assess_bootstrap=a.n_bootstrap, progress=tick)
    out = None
    if out_dir is not None:
        notes = (f"{len(candidates)} candidates, {spec.logging.n_datasets} logged datasets of "
                 f"{spec.logging.n_episodes} episodes; ground truth from {spec.truth.n_episodes} on-policy "
                 f"episodes per policy (common random numbers): J(pi_b) = {truth['behavior'][0]:.4g} "
                 f"(s.e. {truth['behavior'][1]:.2g}); largest candidate s.e. "
                 f"{max(s for c, (_, s) in truth.items() if c != 'behavior'):.2g}; {resolved} of {gaps.height} "
                 "adjacent true values differ by more than 2 paired s.e.")
        with staged_output(out_dir, "ope", spec_hash=config_hash(spec)) as staging:
            parts, files = risk_report_parts(risk) if risk is not None else ([], {})
            write_report(staging, table, title=spec.title, notes=notes, truth=truth_frame, extra_parts=parts,
                         extra_files=files)
            truth_frame.write_parquet(staging / "truth.parquet")
            estimates.write_parquet(staging / "estimates.parquet")
            (staging / "logged").mkdir()
            for k, data in enumerate(datasets):
                save_logged(data, staging / "logged" / f"dataset_{k}.parquet")
            (staging / OUTPUT_MARKER).write_text(strict_json(
                {"spec": spec.model_dump(mode="json"), "truth": truth_frame.to_dicts()}))
        out = Path(out_dir)
    return OPERun(truth_frame, estimates, table, out, risk)
