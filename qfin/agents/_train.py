"""Train a Stable-Baselines3 agent on a qfin environment preset, with checkpoints a killed run resumes from.

Out folder layout (``out_dir``)::

    last/             the latest checkpoint (every ``checkpoint_freq`` steps and at the end); an off-policy
                      agent's replay buffer too (replay_buffer.npz), so a resumed run keeps its transitions
    best/             the checkpoint with the best mean validation reward (when ``eval_env`` is given)
    logs/progress.csv SB3's logger: losses, policy entropy (``train/entropy_loss``), and qfin's validation
                      figures ``eval/mean_reward``, ``eval/std_reward``, ``eval/best_mean_reward``
    tb/               the same figures as TensorBoard event files, when asked (``tensorboard=True``)
    train_rewards.npy per-step training rewards [steps, n_envs]

Each checkpoint folder is one unit (written beside itself and swapped in by one atomic exchange), so a kill at any
instant leaves every complete checkpoint intact. ``resume=True`` continues from the newest complete checkpoint
(``last``, or ``best`` when a kill fell between saving ``best`` and ``last``), and ``logs/progress.csv`` is
continued, not rewritten: the rows up to the resumed step are kept, the rows the killed run logged after it are
dropped (the resumed run logs those steps again), and every row names its step (``time/total_timesteps``).

Training checkpoints also hold resume.json: the figures recorded but not yet written to progress.csv and, for an
on-policy run (PPO, A2C) on DummyVecEnv whose checkpoint falls where every environment has just started an episode
(e.g. ``n_steps`` a multiple of the episode length), the random states (torch, numpy, and each environment's from
just before that episode's reset); resuming from it replays that reset and gives the same weights and log rows as a
run that never stopped. Other checkpoints resume with new episodes (the same counters, optimizer and buffer).

A non-finite gradient or parameter (checked at every optimizer step) or a policy whose action distribution has
non-finite parameters stops training at once with :class:`qfin.errors.TrainingDivergedError`; nothing is saved
after it, so the folder keeps the last good checkpoint.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qfin.errors import CheckpointError, QfinError, SpecError, TrainingDivergedError

from ._checkpoint import (
    CONFIG_FILE,
    FORMAT,
    REPLAY_FILE,
    RESUME_FILE,
    Agent,
    build_env,
    check_algo,
    describe_space,
    load_agent,
    new_model,
    resolve_env_config,
)

__all__ = ["TrainResult", "train_agent"]

_OFF_POLICY_BUFFER = 50_000  # SB3's default 1e6 transitions of a [20, 50] observation would need ~8 GB


@dataclass
class TrainResult:
    """What :func:`train_agent` returns: the final agent, the folder, the training rewards, the best validation."""

    agent: Agent
    out_dir: Path
    rewards: np.ndarray
    best_eval_reward: float | None


def _tensorboard_dir(tensorboard: bool | str | Path, out_dir: Path) -> Path | None:
    """Where TensorBoard logs go (None: not asked); the package must be installed when they are asked for."""
    if tensorboard is False or tensorboard is None:
        return None
    if not isinstance(tensorboard, (bool, str, Path)) or (isinstance(tensorboard, str) and not tensorboard.strip()):
        raise SpecError(f"tensorboard must be true, false or a log folder; got {tensorboard!r}")
    try:
        import tensorboard as _tensorboard  # noqa: F401  (only imported when asked for)
    except ImportError:
        raise QfinError('TensorBoard logs need the tensorboard package: pip install "qfin[tensorboard]" '
                        "(or train with tensorboard = false)") from None
    return out_dir / "tb" if tensorboard is True else Path(tensorboard)


_STEP = "time/total_timesteps"


def _progress_csv(log_dir: Path, resumed_at: int):
    """SB3's CSV writer for ``log_dir/progress.csv`` that writes every row's step and, on resume, continues the file.

    A resumed run (``resumed_at > 0``) keeps the rows logged at steps up to ``resumed_at`` (byte for byte) and drops
    the later ones, which the killed run logged after its checkpoint and the resumed run logs again. The kept rows
    are written to a temporary file renamed over progress.csv, so a kill here never leaves the file shorter.
    """
    from stable_baselines3.common.logger import CSVOutputFormat

    class ProgressCSV(CSVOutputFormat):
        def __init__(self, path: Path) -> None:
            keys, lines = [], []
            if resumed_at > 0 and path.is_file():
                keys, lines = _rows_up_to(path, resumed_at)
            log_dir.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(prefix="progress.csv.tmp-", dir=log_dir)
            with os.fdopen(handle, "w") as stream:
                if keys:
                    stream.write(",".join(keys) + "\n" + "".join(lines))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            self.file = open(path, "r+")  # noqa: SIM115 (closed by close(), as SB3's writer is)
            self.file.seek(0, os.SEEK_END)
            self.keys, self.separator, self.quotechar = keys, ",", '"'

        def write(self, key_values, key_excluded, step=0) -> None:
            if _STEP not in key_values:  # rows qfin dumps itself (validation) name their step too
                key_values = {**key_values, _STEP: step}
            super().write(key_values, key_excluded, step)

    return ProgressCSV(log_dir / "progress.csv")


def _rows_up_to(path: Path, step: int) -> tuple[list[str], list[str]]:
    """(header keys, raw lines) of the rows of an SB3 progress.csv logged at a step <= ``step`` (rows without a
    step, from a qfin that did not write one, are kept)."""
    with open(path, newline="") as stream:
        lines = stream.read().splitlines(keepends=True)
    if not lines:
        return [], []
    keys = next(csv.reader([lines[0]]))
    if _STEP not in keys:
        return keys, [line if line.endswith("\n") else line + "\n" for line in lines[1:]]
    at = keys.index(_STEP)
    kept = []
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        value = fields[at] if at < len(fields) else ""
        try:
            logged = float(value) if value else None
        except ValueError:
            logged = None
        if logged is None or logged <= step:
            kept.append(line if line.endswith("\n") else line + "\n")
    return keys, kept


def _logger(log_dir: Path, tb_dir: Path | None, resumed_at: int):
    """SB3's logger writing progress.csv in ``log_dir`` (continued on resume, :func:`_progress_csv`) and, if
    ``tb_dir``, TensorBoard events there.

    A resumed run writes a TensorBoard restart marker (what ``SummaryWriter(purge_step=...)`` writes) at the step
    after its checkpoint's, so TensorBoard drops the killed run's points logged after that checkpoint and keeps
    those up to it (the resumed run does not log them again).
    """
    from stable_baselines3.common.logger import Logger, make_output_format

    formats = [_progress_csv(log_dir, resumed_at)]
    if tb_dir is not None:
        writer = make_output_format("tensorboard", str(tb_dir))
        if resumed_at > 0:
            from tensorboard.compat.proto.event_pb2 import Event, SessionLog

            writer.writer.file_writer.add_event(Event(step=resumed_at + 1,
                                                      session_log=SessionLog(status=SessionLog.START)))
        formats.append(writer)
    return Logger(str(log_dir), formats)


class _RecordResets(gym.Wrapper):
    """An env that keeps its random state from just before its latest reset (``rng_before_reset``), so that a
    checkpoint taken right after every env's reset can replay those resets on resume."""

    rng_before_reset = None

    def reset(self, **kwargs):
        self.rng_before_reset = self.unwrapped.np_random.bit_generator.state
        return self.env.reset(**kwargs)


def _recorders(venv) -> list | None:
    found = []
    for env in getattr(venv, "envs", None) or []:
        while not isinstance(env, _RecordResets) and hasattr(env, "env"):
            env = env.env
        if not isinstance(env, _RecordResets):
            return None
        found.append(env)
    return found or None


_NUMPY_SCALARS = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                  "uint64")


def _resume_state(model) -> dict[str, Any]:
    """What a resumed run needs beyond the parameters (JSON, saved as resume.json): the figures SB3 has recorded
    but not yet written (the last update's losses, dumped with the next rollout's row), the recent episodes behind
    ``rollout/ep_rew_mean`` and, where they let an
    on-policy run resume exactly, the random states: torch, numpy and each env's from just before its latest reset.
    The random states are left out for an off-policy model or an env in mid-episode (whose state qfin cannot save
    without pickling); such a checkpoint resumes with new episodes."""
    import torch
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    # each value with its type: SB3 writes a float32 with fewer digits than the float64 it would come back as
    pending = {k: [v.item() if isinstance(v, np.generic) else v, type(v).__name__]
               for k, v in model.logger.name_to_value.items()
               if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
    episodes = [{k: float(v) for k, v in info.items() if k in ("r", "l", "t")} for info in model.ep_info_buffer or []]
    state: dict[str, Any] = {"logger": pending, "episodes": episodes}
    recorders = _recorders(model.get_env())
    if (not isinstance(model, OnPolicyAlgorithm) or recorders is None or model._last_episode_starts is None
            or not np.all(model._last_episode_starts) or any(r.rng_before_reset is None for r in recorders)):
        return state
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state["random"] = {"torch": torch.get_rng_state().tolist(),
                       "numpy": {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
                                 "gauss": float(gauss)},
                       "envs": [r.rng_before_reset for r in recorders]}
    return state


def _restore_resume_state(path: Path, model, venv) -> bool:
    """Apply ``resume.json`` of the checkpoint ``path``: the pending figures go back into the logger and, where the
    random states fit these envs, each env replays its last reset and torch and numpy continue their streams.
    True when the random states were restored (the run continues exactly)."""
    import torch
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    if not (path / RESUME_FILE).is_file():
        return False
    try:
        state = json.loads((path / RESUME_FILE).read_text())
        for key, (value, kind) in state.get("logger", {}).items():
            model.logger.record(key, getattr(np, kind)(value) if kind in _NUMPY_SCALARS else value)
        if "episodes" in state:  # the recent episodes behind rollout/ep_rew_mean and ep_len_mean
            from collections import deque

            model.ep_info_buffer = deque(state["episodes"], maxlen=model._stats_window_size)
            model.ep_success_buffer = deque(maxlen=model._stats_window_size)
        random, recorders = state.get("random"), _recorders(venv)
        if (random is None or recorders is None or not isinstance(model, OnPolicyAlgorithm)
                or len(random["envs"]) != len(recorders)):
            return False
        for recorder, env_state in zip(recorders, random["envs"], strict=True):
            recorder.unwrapped.np_random.bit_generator.state = env_state
        torch.set_rng_state(torch.tensor(random["torch"], dtype=torch.uint8))
        np_state = random["numpy"]
        np.random.set_state((np_state["name"], np.array(np_state["keys"], dtype=np.uint32), np_state["pos"],
                             np_state["has_gauss"], np_state["gauss"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{path / RESUME_FILE}: unreadable resume state ({type(err).__name__}: {err}); delete "
                              "the file to resume with new episodes") from None
    venv._reset_seeds()  # the model's constructor seeded the envs; their first reset must use the restored states
    model._last_obs = None  # so learn() resets them (replaying the uninterrupted run's resets)
    return True


def _newest_checkpoint(out_dir: Path, needs_buffer: bool) -> Path | None:
    """The checkpoint a resumed run continues from: the one of ``last`` and ``best`` saved at the latest step (``last``
    on a tie; ``best`` only where it holds what resuming needs: an off-policy agent's buffer when one is kept)."""
    from qfin.data._output import recover_checkpoint

    found = []
    for rank, sub in enumerate(("best", "last")):
        recover_checkpoint(out_dir / sub)
        path = out_dir / sub
        if not (path / CONFIG_FILE).is_file() or (sub == "best" and needs_buffer
                                                   and not (path / REPLAY_FILE).is_file()):
            continue
        try:
            step = int(json.loads((path / CONFIG_FILE).read_text()).get("num_timesteps", 0))
        except (OSError, ValueError, AttributeError):
            continue  # unreadable: load_agent would name it; another complete checkpoint may serve
        found.append((step, rank, path))
    return max(found)[2] if found else None


def _callbacks(agent_ref: dict, out_dir: Path, checkpoint_freq: int, eval_env: Any, eval_freq: int,
               eval_episodes: int, progress_total: int | None, replay_buffer: bool):
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    class _Training(BaseCallback):
        """Records rewards; at each rollout start (parameters and counters consistent) checkpoints/evaluates."""

        def __init__(self) -> None:
            super().__init__()
            self.rewards: list[np.ndarray] = []
            self.last_saved = self.last_eval = None
            self.saved_step: int | None = None  # step of the checkpoint in out_dir/last, named if training diverges
            self.best = -math.inf
            self.bar = self.task = None
            self.guards: list = []

        def _on_training_start(self) -> None:
            self.last_saved = self.last_eval = self.num_timesteps
            self.guard()
            if progress_total:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )

                self.bar = Progress(TextColumn(f"training {agent_ref['agent'].algo}"), BarColumn(),
                                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                    console=Console(stderr=True), transient=False)
                self.bar.__enter__()
                self.task = self.bar.add_task("steps", total=progress_total, completed=self.num_timesteps)

        def _on_step(self) -> bool:
            self.rewards.append(np.array(self.locals["rewards"], dtype=np.float64, copy=True))
            if self.bar is not None:
                self.bar.update(self.task, completed=self.num_timesteps)
            return True

        def _on_rollout_start(self) -> None:
            if eval_env is not None and self.num_timesteps - self.last_eval >= eval_freq:
                self.evaluate()
            if checkpoint_freq and self.num_timesteps - self.last_saved >= checkpoint_freq:
                agent_ref["agent"].save(out_dir / "last", replay_buffer=replay_buffer,
                                        resume_state=_resume_state(self.model))
                self.last_saved = self.saved_step = self.num_timesteps

        def guard(self) -> None:
            """Check every optimizer step: the gradients before it (a non-finite loss makes them non-finite) and
            the parameters after it; either raises :class:`TrainingDivergedError` at once."""
            import torch

            self.unguard()
            for name in self.model._get_torch_save_params()[0]:
                optimizer = attrgetter(name)(self.model)
                if not isinstance(optimizer, torch.optim.Optimizer):
                    continue

                def before(opt, _args, _kwargs, name=name) -> None:
                    if not _finite([p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]):
                        raise self.diverged(f"the gradients of {name} are not finite, as after a non-finite loss")

                def after(opt, _args, _kwargs, name=name) -> None:
                    if not _finite([p for g in opt.param_groups for p in g["params"]]):
                        raise self.diverged(f"the parameters updated by {name} are not finite")

                self.guards += [optimizer.register_step_pre_hook(before), optimizer.register_step_post_hook(after)]

        def unguard(self) -> None:
            for handle in self.guards:
                handle.remove()
            self.guards = []

        def diverged(self, what: str) -> TrainingDivergedError:
            algo = agent_ref["agent"].algo
            lr = (agent_ref["agent"].config.get("algo_kwargs") or {}).get("learning_rate", "default")
            kept = (f"the last good checkpoint, {out_dir / 'last'} at step {self.saved_step}, is kept"
                    if self.saved_step is not None else
                    f"no checkpoint was written yet (checkpoint_freq {checkpoint_freq})")
            return TrainingDivergedError(f"{algo} training diverged near step {self.num_timesteps}: {what} "
                                         f"(learning_rate {lr}); {kept}. Lower learning_rate and "
                                         "train again")

        def evaluate(self) -> None:
            self.last_eval = self.num_timesteps
            mean, std = evaluate_policy(self.model, eval_env, n_eval_episodes=eval_episodes, deterministic=True)
            improved = mean > self.best
            self.best = max(self.best, float(mean))
            self.logger.record("eval/mean_reward", float(mean))
            self.logger.record("eval/std_reward", float(std))
            self.logger.record("eval/best_mean_reward", self.best)
            # written now, at the step evaluated (as SB3's EvalCallback does), not at the algorithm's next dump, and
            # before the checkpoints of this step: a run killed between them resumes from an earlier step and drops
            # this row as one it logs again, while a run resumed from them has it already
            self.logger.dump(self.num_timesteps)
            if improved:
                agent = agent_ref["agent"]
                agent.config["best_eval_reward"] = self.best
                resume_state = _resume_state(self.model)  # in best too: a kill before `last` resumes from best
                agent.save(out_dir / "best", resume_state=resume_state)
                agent.save(out_dir / "last", replay_buffer=replay_buffer,  # keep `last` the live run's checkpoint
                           resume_state=resume_state)
                self.last_saved = self.saved_step = self.num_timesteps

        def _on_training_end(self) -> None:
            self.unguard()
            if self.bar is not None:
                self.bar.__exit__(None, None, None)

    return _Training()


def _finite(tensors: list) -> bool:
    import torch

    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def _invalid_distribution(err: ValueError) -> bool:
    """torch.distributions' argument check failing on non-finite or out-of-range parameters (e.g. a Normal whose
    scale overflowed to inf): the policy diverged although its parameters are still finite numbers."""
    return "distribution" in str(err) and "found invalid values" in str(err)


def train_agent(env_config: Any, algo: str = "ppo", total_timesteps: int = 10_000, seed: int = 0,
                out_dir: str | Path = "models/artifacts/agent", *, extractor: str | None = "auto",
                extractor_kwargs: dict[str, Any] | None = None, policy_kwargs: dict[str, Any] | None = None,
                algo_kwargs: dict[str, Any] | None = None, n_envs: int = 1, eval_env: dict[str, Any] | None = None,
                eval_freq: int = 5_000, eval_episodes: int = 1, checkpoint_freq: int = 5_000, resume: bool = False,
                tensorboard: bool | str | Path = False, save_replay_buffer: bool = True, progress: bool = False,
                callbacks: list | None = None) -> TrainResult:
    """Train ``algo`` on the environment of ``env_config`` for ``total_timesteps`` steps (in all envs).

    Parameters
    ----------
    env_config : preset TOML path, :class:`qfin.envs.EnvPreset` or ``{"id": ..., "params": {...}}`` (a price frame
        is accepted as ``params["data"]``).
    algo : ``"ppo"``, ``"a2c"``, ``"sac"``, ``"td3"`` (Box actions) or ``"qrdqn"`` (Discrete actions only).
    total_timesteps : environment steps to reach (a resumed run trains only the remainder).
    seed : seeds torch, numpy, the action space and the training envs (env i gets ``seed + i``).
    out_dir : the run folder (layout in the module docstring).
    extractor : ``"eiie"`` (weights shared across assets), ``"mlp"``, or None (SB3's flattening); ``"auto"`` picks
        eiie for the portfolio env and None otherwise.
    extractor_kwargs, policy_kwargs, algo_kwargs : JSON-able keyword arguments of the extractor, the SB3 policy
        (e.g. ``net_arch``) and the algorithm (e.g. ``n_steps``, ``learning_rate``).
    n_envs : vectorised training envs (DummyVecEnv).
    eval_env : constructor overrides (e.g. ``{"start": "2017-01-01", "end": "2018-12-31", "episode_length": None}``)
        making the validation env; evaluated every ``eval_freq`` steps, the best agent kept in ``out_dir/best``.
    checkpoint_freq : steps between checkpoints in ``out_dir/last`` (0: only at the end).
    resume : continue from ``out_dir/last`` (step counter, optimizer state, best validation score, an off-policy
        agent's replay buffer); the config saved there must name the same algorithm and environment.
    tensorboard : also write SB3's and qfin's logged figures as TensorBoard events: True (in ``out_dir/tb``) or a
        folder; needs the ``tensorboard`` package (``pip install "qfin[tensorboard]"``), imported only when asked.
    save_replay_buffer : keep an off-policy agent's replay buffer in ``out_dir/last`` (one ``.npz`` of the filled
        rows; large for big observations and buffers). Without it a resumed run starts with an empty buffer.
    progress : show a progress bar (rich, on stderr).
    callbacks : extra SB3 callbacks.
    """
    import torch  # noqa: F401  (fail early and clearly if torch is missing)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    preset, frame = resolve_env_config(env_config)
    probe = build_env(preset, frame)
    name = check_algo(algo, probe.action_space)
    if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, (int, np.integer)) or total_timesteps < 1:
        raise SpecError(f"total_timesteps must be a positive integer; got {total_timesteps!r}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise SpecError(f"n_envs must be a positive integer; got {n_envs!r}")
    if extractor == "auto":
        extractor = "eiie" if preset.id == "qfin/Portfolio-v0" else None
    kwargs = dict(algo_kwargs or {})
    if name in ("sac", "td3", "qrdqn"):
        kwargs.setdefault("buffer_size", _OFF_POLICY_BUFFER)
    config = {"format": FORMAT, "algo": name, "env": preset.model_dump(), "extractor": extractor,
              "extractor_kwargs": extractor_kwargs or {}, "policy_kwargs": policy_kwargs or {}, "algo_kwargs": kwargs,
              "seed": int(seed), "n_envs": n_envs,
              "spaces": {"observation": describe_space(probe.observation_space),
                         "action": describe_space(probe.action_space)},
              "assets": list(getattr(probe.unwrapped, "assets", []))}
    probe.close()
    out_dir = Path(out_dir)
    tb_dir = _tensorboard_dir(tensorboard, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    venv = make_vec_env(lambda: _RecordResets(build_env(preset, frame)), n_envs=n_envs, seed=int(seed),
                        vec_env_cls=DummyVecEnv)

    keep_buffer = bool(save_replay_buffer)
    source = _newest_checkpoint(out_dir, keep_buffer and name in ("sac", "td3", "qrdqn")) if resume else None
    if source is not None:
        agent = load_agent(source, env=venv, replay_buffer=True)
        for key in ("algo", "env", "extractor", "extractor_kwargs", "policy_kwargs"):
            if agent.config.get(key) != config[key]:
                raise CheckpointError(f"{source}: cannot resume, the checkpoint's {key} "
                                      f"{agent.config.get(key)!r} differs from this run's {config[key]!r}")
        agent.config["algo_kwargs"] = kwargs
        agent.data = frame
        model = agent.model
        if getattr(model, "replay_buffer", None) is not None and not (source / REPLAY_FILE).is_file():
            warnings.warn(f"{source} holds no replay buffer (saved with save_replay_buffer=False or by an "
                          "older qfin): the resumed run starts with an empty one", stacklevel=2)
    else:
        model = new_model(config, venv)
        agent = Agent(model, config, frame)
    done = int(model.num_timesteps)

    model.set_logger(_logger(out_dir / "logs", tb_dir, done))
    if tb_dir is not None:
        model.tensorboard_log = str(tb_dir)  # informative only: SB3 uses it when it builds its own logger

    eval_vec = None
    if eval_env is not None:
        eval_vec = make_vec_env(lambda: build_env(preset, frame, **eval_env), n_envs=1, seed=int(seed) + 10_000,
                                vec_env_cls=DummyVecEnv)
    recorder = _callbacks({"agent": agent}, out_dir, checkpoint_freq, eval_vec, eval_freq, eval_episodes,
                          total_timesteps if progress else None, keep_buffer)
    recorder.best = float(agent.config.get("best_eval_reward", -math.inf))
    recorder.saved_step = done if source is not None else None
    if source is not None and total_timesteps > done:
        _restore_resume_state(source, model, venv)
    try:
        if total_timesteps > done:
            model.learn(total_timesteps - done, callback=[recorder, *(callbacks or [])], reset_num_timesteps=False)
        else:
            recorder.init_callback(model)  # nothing left to learn: the final evaluation still needs the model
            if source is not None:  # a checkpoint at the last step is the final save, made after the final eval
                recorder.last_eval = done
        if eval_vec is not None and recorder.last_eval != model.num_timesteps:
            recorder.evaluate()
        if model.logger.name_to_value:  # the last update's losses, which SB3 leaves for a dump that never comes
            model.logger.dump(model.num_timesteps)
    except ValueError as err:
        if not _invalid_distribution(err):
            raise
        raise recorder.diverged("the policy's action distribution got non-finite parameters") from None
    finally:
        recorder.unguard()
        model.logger.close()  # flushes the TensorBoard writer and the CSV file, also when a callback raised
    agent.save(out_dir / "last", replay_buffer=keep_buffer)
    rewards = np.array(recorder.rewards).reshape(-1, n_envs) if recorder.rewards else np.zeros((0, n_envs))
    np.save(out_dir / "train_rewards.npy", rewards)
    best = recorder.best if math.isfinite(recorder.best) else None
    return TrainResult(agent, out_dir, rewards, best)
