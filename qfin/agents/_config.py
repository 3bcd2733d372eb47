"""Training runs described in TOML (what ``qfin train portfolio|hedging CONFIG.toml`` reads)::

    env = "../envs/portfolio_sp500_train.toml"   # a preset path (relative to this file), or an inline [env] table
    algo = "ppo"                                 # ppo, a2c, sac, td3, qrdqn
    total_timesteps = 100000
    seeds = [0, 1, 2]                            # one run per seed, in out_dir/seed_<k>
    out_dir = "../models/artifacts/portfolio"    # relative to this file
    extractor = "eiie"                           # eiie, mlp, none (SB3's flattening), auto
    n_envs = 1
    checkpoint_freq = 5000
    eval_freq = 5000
    resume = true
    tensorboard = true                           # TensorBoard events in out_dir/seed_<k>/tb, or a folder (relative
                                                 # to this file; one seed_<k> subfolder per seed); default false
    save_replay_buffer = true                    # off-policy agents: keep the replay buffer in the checkpoint
    [env_overrides]                              # constructor arguments replacing the preset's
    reward = "log_return"
    [eval_env]                                   # validation env overrides; a portfolio validation runs its whole
    start = "2017-01-01"                         # span unless episode_length is given
    end = "2018-12-31"
    [algo_kwargs]                                # e.g. n_steps, learning_rate; also [policy_kwargs], [extractor_kwargs]

Unknown keys are errors naming the key and the accepted ones (:class:`qfin.errors.SpecError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qfin.envs import EnvPreset, load_preset
from qfin.errors import SpecError
from qfin.specs import parse_model, read_toml

__all__ = ["TrainConfig", "load_train_config", "train_from_config"]


class TrainConfig(BaseModel):
    """A parsed training run (keys as in the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | dict[str, Any]
    algo: str = "ppo"
    total_timesteps: int = Field(100_000, ge=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    out_dir: str = "models/artifacts/agent"
    extractor: Literal["eiie", "mlp", "none", "auto"] = "auto"
    n_envs: int = Field(1, ge=1)
    checkpoint_freq: int = Field(5_000, ge=0)
    eval_freq: int = Field(5_000, ge=1)
    eval_episodes: int = Field(1, ge=1)
    resume: bool = True
    tensorboard: bool | str = False
    save_replay_buffer: bool = True
    env_overrides: dict[str, Any] = {}
    eval_env: dict[str, Any] | None = None
    algo_kwargs: dict[str, Any] = {}
    policy_kwargs: dict[str, Any] = {}
    extractor_kwargs: dict[str, Any] = {}


def load_train_config(path: str | Path) -> tuple[TrainConfig, Path]:
    """Read a training TOML; returns the config and the folder relative paths are resolved against."""
    path = Path(path)
    return parse_model(TrainConfig, read_toml(path, "training config"), path), path.parent


def train_from_config(config: str | Path | TrainConfig, kind: Literal["portfolio", "hedging"] | None = None,
                      base: Path | None = None, progress: bool = True, *, backend: str = "local",
                      n_workers: int | None = 1, address: str | None = None) -> list:
    """Train one agent per seed as the config says; ``kind`` checks the env is a portfolio or hedging one.

    Returns the :class:`TrainResult` of each seed, in order. The seeds run through :func:`qfin.parallel.run_jobs`
    on ``backend`` (``n_workers=1``, the default: one after another in this process); elsewhere each seed trains
    with the same arguments and its agent is loaded back from ``out_dir/seed_<k>/last``, the same weights.
    """
    from ._train import train_agent

    if not isinstance(config, TrainConfig):
        config, base = load_train_config(config)
    base = Path(base or ".")
    if isinstance(config.env, str):
        preset = load_preset(base / config.env)
    else:
        preset = parse_model(EnvPreset, config.env, "env")
    expected = {"portfolio": "qfin/Portfolio-v0", "hedging": "qfin/Hedging-v0"}
    if kind is not None and preset.id != expected[kind]:
        raise SpecError(f"`train {kind}` needs a {expected[kind]} environment; the config's env is {preset.id}")
    preset = preset.model_copy(update={"params": {**preset.params, **config.env_overrides}})
    eval_env = None
    if config.eval_env is not None:
        eval_env = dict(config.eval_env)
        if preset.id == "qfin/Portfolio-v0":
            eval_env.setdefault("episode_length", None)
    extractor = None if config.extractor == "none" else config.extractor
    out = Path(config.out_dir)
    out = out if out.is_absolute() else base / out

    def tensorboard(seed: int) -> bool | Path:
        if isinstance(config.tensorboard, bool):
            return config.tensorboard
        if not config.tensorboard.strip():
            raise SpecError("tensorboard must be true, false or a log folder; got an empty string")
        folder = Path(config.tensorboard)
        return (folder if folder.is_absolute() else base / folder) / f"seed_{seed}"

    def arguments(seed: int) -> dict[str, Any]:
        return dict(algo=config.algo, total_timesteps=config.total_timesteps, out_dir=out / f"seed_{seed}",
                    extractor=extractor, extractor_kwargs=config.extractor_kwargs,
                    policy_kwargs=config.policy_kwargs, algo_kwargs=config.algo_kwargs, n_envs=config.n_envs,
                    eval_env=eval_env, eval_freq=config.eval_freq, eval_episodes=config.eval_episodes,
                    checkpoint_freq=config.checkpoint_freq, resume=config.resume,
                    tensorboard=tensorboard(seed), save_replay_buffer=config.save_replay_buffer)

    if backend == "local" and n_workers == 1:
        return [train_agent(preset, seed=seed, progress=progress, **arguments(seed)) for seed in config.seeds]
    from qfin import parallel

    from ._checkpoint import load_agent
    from ._train import TrainResult

    done = parallel.run_jobs(train_seed, [((preset, arguments(seed)), seed) for seed in config.seeds],
                             backend=backend, n_workers=n_workers, address=address, progress=progress,
                             description=f"training {len(config.seeds)} seeds")
    return [TrainResult(load_agent(Path(folder) / "last", preset), Path(folder), rewards, best)
            for folder, rewards, best in done]


def train_seed(job: tuple[EnvPreset, dict[str, Any]], seed: int) -> tuple[str, Any, float | None]:
    """A qfin.parallel job of (config, seed): train one seed as :func:`train_agent` with ``job`` = (preset,
    arguments); returns the run folder, the training rewards and the best validation reward (the agent itself
    stays on disk, in ``out_dir/last``, rather than travelling back)."""
    from ._train import train_agent

    preset, arguments = job
    result = train_agent(preset, seed=seed, progress=False, **arguments)
    return str(result.out_dir), result.rewards, result.best_eval_reward
