"""Agents on disk: a checkpoint folder holds ``config.json`` (what to rebuild: algorithm, environment preset,
policy, counters) and ``params.pt`` (the torch state dicts of the policy and its optimizers, loaded with
``torch.load(weights_only=True)``, so loading never unpickles code), plus ``data.parquet`` when the
environment was built on an in-memory price frame, ``replay_buffer.npz`` (an off-policy agent's transitions,
see :mod:`._replay`) in the checkpoints a training run resumes from, and ``resume.json`` in those (JSON: the
figures recorded but not yet logged and, where the checkpoint fell on an episode boundary of every environment, the
torch, numpy and environment random states, so the resumed run repeats exactly what the uninterrupted one did).

A checkpoint is one unit: it is written whole into a staging folder beside it and swapped in by one atomic exchange
(:func:`qfin.data._output.staged_checkpoint`), so at every instant the folder holds one complete checkpoint, the
previous or the new, and a run killed while saving leaves the previous checkpoint intact. Loading refuses a
checkpoint whose parameters hold NaN or infinite values.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qfin.envs import EnvPreset, load_preset, make_env
from qfin.errors import CheckpointError, SpecError
from qfin.specs import parse_model

__all__ = ["ALGOS", "Agent", "load_agent"]

FORMAT = "qfin.agents/1"
CONFIG_FILE, PARAMS_FILE, DATA_FILE, REPLAY_FILE = "config.json", "params.pt", "data.parquet", "replay_buffer.npz"
RESUME_FILE = "resume.json"


def _algo_classes() -> dict[str, Any]:
    from sb3_contrib import QRDQN
    from stable_baselines3 import A2C, PPO, SAC, TD3

    return {"ppo": PPO, "a2c": A2C, "sac": SAC, "td3": TD3, "qrdqn": QRDQN}


# action spaces each algorithm can act in (Stable-Baselines3 docs, "RL Algorithms" table)
ALGOS: dict[str, tuple[type[gym.Space], ...]] = {
    "ppo": (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary),
    "a2c": (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary),
    "sac": (gym.spaces.Box,),
    "td3": (gym.spaces.Box,),
    "qrdqn": (gym.spaces.Discrete,),
}


def check_algo(algo: str, action_space: gym.Space | None = None) -> str:
    """Normalise an algorithm name and check that it can act in ``action_space``."""
    name = str(algo).lower().replace("-", "").replace("_", "")
    if name not in ALGOS:
        raise SpecError(f"unknown algorithm {algo!r}; accepted: {', '.join(ALGOS)}")
    if action_space is not None and not isinstance(action_space, ALGOS[name]):
        raise SpecError(f"algorithm {name!r} cannot act in a {type(action_space).__name__} action space "
                        f"({action_space}); it needs {' or '.join(c.__name__ for c in ALGOS[name])}. "
                        f"For continuous actions use ppo, a2c, sac or td3; qrdqn needs a Discrete space")
    return name


def resolve_env_config(env_config: Any) -> tuple[EnvPreset, Any]:
    """A preset (path, :class:`EnvPreset` or ``{"id", "params"}`` dict) as (JSON-able preset, in-memory frame).

    A price frame passed as ``params["data"]`` is taken out of the preset (it is saved beside each checkpoint as
    data.parquet); dates become ISO strings; any other value that JSON cannot hold is an error naming the key.
    """
    if isinstance(env_config, (str, Path)):
        preset = load_preset(env_config)
    elif isinstance(env_config, EnvPreset):
        preset = env_config
    elif isinstance(env_config, dict):
        preset = parse_model(EnvPreset, env_config, "env_config")
    else:
        raise SpecError(f"env_config must be a preset path, an EnvPreset or a dict with 'id' and 'params'; "
                        f"got {type(env_config).__name__}")
    params, frame = {}, None
    for key, value in preset.params.items():
        if key == "data" and hasattr(value, "columns"):
            import polars as pl

            frame = value if isinstance(value, pl.DataFrame) else pl.from_pandas(value.reset_index())
            params[key] = {"parquet": DATA_FILE}
            continue
        if isinstance(value, (dt.date, dt.datetime, np.datetime64)):
            value = str(np.datetime64(value, "D"))
        try:
            json.dumps(value)
        except TypeError:
            raise SpecError(f"env_config params[{key!r}] = {type(value).__name__} cannot be saved in a checkpoint; "
                            "use numbers, strings, lists or dicts (a price frame is accepted for 'data')") from None
        params[key] = value
    return preset.model_copy(update={"params": params}), frame


def build_env(preset: EnvPreset, frame: Any = None, **overrides: Any) -> gym.Env:
    """The preset's environment, with the in-memory frame (if any) as ``data``."""
    if frame is not None and "data" not in overrides:
        overrides["data"] = frame
    return make_env(preset, **overrides)


def describe_space(space: gym.Space) -> dict[str, Any]:
    """A JSON description of a space, enough to tell whether two spaces are the same shape and kind."""
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(s) for k, s in space.spaces.items()}}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    return {"type": type(space).__name__, "shape": list(space.shape)}


@dataclass
class Agent:
    """A trained Stable-Baselines3 model with the config that rebuilds it.

    Attributes
    ----------
    model : the SB3 algorithm (PPO, A2C, SAC, TD3 or QR-DQN).
    config : the JSON config (``algo``, ``env``, ``extractor``, ``algo_kwargs``, ``seed``, ``num_timesteps``...).
    data : the in-memory price frame the environment was built on, or None (a dataset name or path in the preset).
    """

    model: Any
    config: dict[str, Any]
    data: Any = None
    path: Path | None = field(default=None)

    @property
    def algo(self) -> str:
        return self.config["algo"]

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def preset(self) -> EnvPreset:
        return EnvPreset.model_validate(self.config["env"])

    def make_env(self, **overrides: Any) -> gym.Env:
        """The agent's environment (its preset and data), with constructor ``overrides`` (e.g. start, end)."""
        return build_env(self.preset, self.data, **overrides)

    def predict(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        """The action for one observation (or a batch), deterministic by default (the policy's mode)."""
        action, _ = self.model.predict(observation, deterministic=deterministic)
        return action

    def save(self, path: str | Path, replay_buffer: bool = False, resume_state: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint folder ``path`` (config.json, params.pt, data.parquet) as one unit.

        ``replay_buffer`` also writes an off-policy model's replay buffer (replay_buffer.npz), which a resumed
        training run needs; an agent kept for acting does not. ``resume_state`` (JSON) is written as resume.json, for a
        training run to continue where this one stood.
        """
        import torch

        from qfin.data._output import staged_checkpoint

        from ._replay import save_replay_buffer

        path = Path(path)
        model = self.model
        _, variables = model._get_torch_save_params()
        config = {**self.config, "num_timesteps": int(model.num_timesteps),
                  "n_updates": int(getattr(model, "_n_updates", 0)), "episode_num": int(model._episode_num)}
        with staged_checkpoint(path) as staging:
            torch.save({"params": model.get_parameters(),
                        "variables": {name: attrgetter(name)(model).detach().clone() for name in variables}},
                       staging / PARAMS_FILE)
            (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2))
            if self.data is not None:
                self.data.write_parquet(staging / DATA_FILE)
            if replay_buffer and getattr(model, "replay_buffer", None) is not None:
                save_replay_buffer(model.replay_buffer, staging / REPLAY_FILE)
            if resume_state is not None:
                (staging / RESUME_FILE).write_text(json.dumps(resume_state))
        self.config, self.path = config, path
        return path


def new_model(config: dict[str, Any], env: Any) -> Any:
    """A fresh SB3 model for ``config`` on ``env`` (an env or VecEnv); nothing pickled is involved."""
    from ._extractors import EXTRACTORS

    cls = _algo_classes()[config["algo"]]
    policy_kwargs = dict(config.get("policy_kwargs") or {})
    extractor = config.get("extractor")
    if extractor is not None:
        if extractor not in EXTRACTORS:
            raise SpecError(f"unknown extractor {extractor!r}; accepted: {', '.join(EXTRACTORS)} or None "
                            "(Stable-Baselines3's default flattening)")
        policy_kwargs["features_extractor_class"] = EXTRACTORS[extractor]
        policy_kwargs["features_extractor_kwargs"] = dict(config.get("extractor_kwargs") or {})
    policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    try:
        return cls(policy, env, seed=config["seed"], policy_kwargs=policy_kwargs, device="cpu", verbose=0,
                   **(config.get("algo_kwargs") or {}))
    except TypeError as err:
        raise SpecError(f"algo_kwargs for {config['algo']}: {err}") from None


def _checkpoint_dir(path: Path) -> Path:
    if (path / CONFIG_FILE).is_file():
        return path
    for sub in ("best", "last"):
        if (path / sub / CONFIG_FILE).is_file():
            return path / sub
    raise CheckpointError(f"{path}: not a qfin agent checkpoint (no {CONFIG_FILE} in it, nor in best/ or last/)")


def _check_finite(params: dict[str, Any], path: Path) -> None:
    """Refuse parameters (or optimizer moments) holding NaN or infinity: the run that saved them diverged."""
    import torch

    for group, tensors in params.items():
        flat = tensors.get("state", {}) if isinstance(tensors, dict) and "state" in tensors else tensors
        items = ((f"{group}.{k}", v) for k, v in flat.items()) if isinstance(flat, dict) else ()
        for name, value in items:
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
                    raise CheckpointError(f"{path}: {name} holds NaN or infinite values; the run that saved it "
                                          "diverged: train again with a lower learning_rate, or load another "
                                          "checkpoint")


def load_agent(path: str | Path, env_config: Any = None, env: Any = None, replay_buffer: bool = False) -> Agent:
    """Load an agent saved by :func:`train_agent` (or :meth:`Agent.save`).

    Parameters
    ----------
    path : a checkpoint folder, or a training ``out_dir`` (then its ``best/`` checkpoint if there is one, else
        ``last/``).
    env_config : optionally the environment the agent is meant for; its observation and action spaces must
        match the checkpoint's, else :class:`CheckpointError`.
    env : optionally the (Vec)Env to attach (used to resume training); by default the checkpoint's own env.
    replay_buffer : also restore an off-policy model's replay buffer when the checkpoint has one (to resume
        training; acting does not need it).

    Parameters are read with ``torch.load(weights_only=True)`` and the replay buffer with
    ``np.load(allow_pickle=False)``: no pickled code is executed.
    """
    import torch

    from ._replay import load_replay_buffer

    path = _checkpoint_dir(Path(path))
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path / CONFIG_FILE}: unreadable ({err})") from None
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r} is not {FORMAT!r}")
    data = None
    if (path / DATA_FILE).is_file():
        import polars as pl

        data = pl.read_parquet(path / DATA_FILE)
    agent_env = env if env is not None else build_env(EnvPreset.model_validate(config["env"]), data)
    saved = config["spaces"]
    found = {"observation": describe_space(agent_env.observation_space),
             "action": describe_space(agent_env.action_space)}
    if env_config is not None:
        preset, frame = resolve_env_config(env_config)
        other = build_env(preset, frame)
        found = {"observation": describe_space(other.observation_space),
                 "action": describe_space(other.action_space)}
        other.close()
    for which in ("observation", "action"):
        if found[which] != saved[which]:
            raise CheckpointError(f"{path}: the agent was trained on {which} space {saved[which]}, but the "
                                  f"environment has {found[which]}; train a new agent for this environment "
                                  "(same assets, features, window and weights option)")
    model = new_model(config, agent_env)
    try:
        state = torch.load(path / PARAMS_FILE, map_location="cpu", weights_only=True)
    except Exception as err:  # damaged or foreign file; torch's own message would suggest weights_only=False
        raise CheckpointError(f"{path / PARAMS_FILE}: not a readable qfin agent parameter file "
                              f"({type(err).__name__}); expected the state dicts Agent.save wrote") from None
    if not isinstance(state, dict) or not isinstance(state.get("params"), dict):
        raise CheckpointError(f"{path / PARAMS_FILE}: holds no 'params' state dicts; expected what Agent.save wrote")
    try:
        _check_finite(state["params"], path / PARAMS_FILE)
        model.set_parameters(state["params"], exact_match=True, device="cpu")
        with torch.no_grad():
            for name, value in state["variables"].items():
                attrgetter(name)(model).copy_(value)
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path / PARAMS_FILE}: does not fit a {config['algo']} model of this shape "
                              f"({str(err).splitlines()[0]})") from None
    model.num_timesteps = int(config.get("num_timesteps", 0))
    if hasattr(model, "_n_updates"):
        model._n_updates = int(config.get("n_updates", 0))
    model._episode_num = int(config.get("episode_num", 0))
    if replay_buffer and getattr(model, "replay_buffer", None) is not None and (path / REPLAY_FILE).is_file():
        load_replay_buffer(model.replay_buffer, path / REPLAY_FILE)
    return Agent(model, config, data, path)
