"""Train a Stable-Baselines3 agent on a qfin environment preset, with checkpoints a killed run resumes from.

Out folder layout (``out_dir``)::

    last/             the latest checkpoint (every ``checkpoint_freq`` steps and at the end); an off-policy
                      agent's replay buffer too (replay_buffer.npz), so a resumed run keeps its transitions
    best/             the checkpoint with the best mean validation reward (when ``eval_env`` is given)
    logs/progress.csv SB3's logger: losses, policy entropy (``train/entropy_loss``), and qfin's validation
                      figures ``eval/mean_reward``, ``eval/std_reward``, ``eval/best_mean_reward``
    tb/               the same figures as TensorBoard event files, when asked (``tensorboard=True``)
    train_rewards.npy per-step training rewards [steps, n_envs]
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qfin.errors import CheckpointError, QfinError, SpecError

from ._checkpoint import (
    CONFIG_FILE,
    FORMAT,
    REPLAY_FILE,
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


def _logger(log_dir: Path, tb_dir: Path | None, resumed_at: int):
    """SB3's logger writing progress.csv in ``log_dir`` and, if ``tb_dir``, TensorBoard events there.

    A resumed run writes a TensorBoard restart marker (what ``SummaryWriter(purge_step=...)`` writes) at the step
    after its checkpoint's, so TensorBoard drops the killed run's points logged after that checkpoint and keeps
    those up to it (the resumed run does not log them again).
    """
    from stable_baselines3.common.logger import Logger, make_output_format

    formats = [make_output_format("csv", str(log_dir))]
    if tb_dir is not None:
        writer = make_output_format("tensorboard", str(tb_dir))
        if resumed_at > 0:
            from tensorboard.compat.proto.event_pb2 import Event, SessionLog

            writer.writer.file_writer.add_event(Event(step=resumed_at + 1,
                                                      session_log=SessionLog(status=SessionLog.START)))
        formats.append(writer)
    return Logger(str(log_dir), formats)


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
            self.best = -math.inf
            self.bar = self.task = None

        def _on_training_start(self) -> None:
            self.last_saved = self.last_eval = self.num_timesteps
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
                agent_ref["agent"].save(out_dir / "last", replay_buffer=replay_buffer)
                self.last_saved = self.num_timesteps

        def evaluate(self) -> None:
            self.last_eval = self.num_timesteps
            mean, std = evaluate_policy(self.model, eval_env, n_eval_episodes=eval_episodes, deterministic=True)
            if mean > self.best:
                self.best = float(mean)
                agent = agent_ref["agent"]
                agent.config["best_eval_reward"] = self.best
                agent.save(out_dir / "best")
                agent.save(out_dir / "last", replay_buffer=replay_buffer)  # keep `last` the live run's checkpoint
                self.last_saved = self.num_timesteps
            self.logger.record("eval/mean_reward", float(mean))
            self.logger.record("eval/std_reward", float(std))
            self.logger.record("eval/best_mean_reward", self.best)
            # written now, at the step evaluated (as SB3's EvalCallback does), not at the algorithm's next dump
            self.logger.dump(self.num_timesteps)

        def _on_training_end(self) -> None:
            if self.bar is not None:
                self.bar.__exit__(None, None, None)

    return _Training()


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
    venv = make_vec_env(lambda: build_env(preset, frame), n_envs=n_envs, seed=int(seed), vec_env_cls=DummyVecEnv)

    if resume and (out_dir / "last" / CONFIG_FILE).is_file():
        agent = load_agent(out_dir / "last", env=venv, replay_buffer=True)
        for key in ("algo", "env", "extractor", "extractor_kwargs", "policy_kwargs"):
            if agent.config.get(key) != config[key]:
                raise CheckpointError(f"{out_dir / 'last'}: cannot resume, the checkpoint's {key} "
                                      f"{agent.config.get(key)!r} differs from this run's {config[key]!r}")
        agent.config["algo_kwargs"] = kwargs
        agent.data = frame
        model = agent.model
        if getattr(model, "replay_buffer", None) is not None and not (out_dir / "last" / REPLAY_FILE).is_file():
            warnings.warn(f"{out_dir / 'last'} holds no replay buffer (saved with save_replay_buffer=False or by an "
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
    keep_buffer = bool(save_replay_buffer)
    recorder = _callbacks({"agent": agent}, out_dir, checkpoint_freq, eval_vec, eval_freq, eval_episodes,
                          total_timesteps if progress else None, keep_buffer)
    recorder.best = float(agent.config.get("best_eval_reward", -math.inf))
    try:
        if total_timesteps > done:
            model.learn(total_timesteps - done, callback=[recorder, *(callbacks or [])], reset_num_timesteps=False)
        else:
            recorder.init_callback(model)  # nothing left to learn: the final evaluation still needs the model
        if eval_vec is not None and recorder.last_eval != model.num_timesteps:
            recorder.evaluate()
        if model.logger.name_to_value:  # the last update's losses, which SB3 leaves for a dump that never comes
            model.logger.dump(model.num_timesteps)
    finally:
        model.logger.close()  # flushes the TensorBoard writer and the CSV file, also when a callback raised
    agent.save(out_dir / "last", replay_buffer=keep_buffer)
    rewards = np.array(recorder.rewards).reshape(-1, n_envs) if recorder.rewards else np.zeros((0, n_envs))
    np.save(out_dir / "train_rewards.npy", rewards)
    best = recorder.best if math.isfinite(recorder.best) else None
    return TrainResult(agent, out_dir, rewards, best)
