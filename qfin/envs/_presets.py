"""Environment presets: a TOML file naming a registered qfin environment and its constructor arguments.

    id = "qfin/Portfolio-v0"          # or "qfin/Hedging-v0"
    description = "..."               # optional
    actions = [0.0, 0.5, 1.0]         # optional: a finite action menu (DiscreteActions), e.g. hedge ratios
    [params]                          # keyword arguments of PortfolioEnv / HedgingEnv
    window = 50

Unknown top-level keys and unknown ``params`` are errors (:class:`qfin.errors.SpecError`) naming the key and
listing what is accepted; the environment's own checks then run at construction.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
from pydantic import BaseModel, ConfigDict

from qfin.errors import SpecError
from qfin.specs import parse_model, read_toml

from ._hedging import HedgingEnv
from ._portfolio import PortfolioEnv
from ._wrappers import DiscreteActions

__all__ = ["EnvPreset", "load_preset", "make_env"]

_CLASSES: dict[str, type[gym.Env]] = {"qfin/Portfolio-v0": PortfolioEnv, "qfin/Hedging-v0": HedgingEnv}


class EnvPreset(BaseModel):
    """A parsed preset: the registered id, a description, the constructor keyword arguments and, optionally, a
    finite action menu (the env is then wrapped in :class:`DiscreteActions`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Literal["qfin/Portfolio-v0", "qfin/Hedging-v0"]  # the registered environments (_CLASSES)
    description: str = ""
    params: dict[str, Any] = {}
    actions: list[float] | list[list[float]] | None = None


def _accepted(env_id: str) -> list[str]:
    sig = inspect.signature(_CLASSES[env_id].__init__)
    return [name for name in sig.parameters if name != "self"]


def load_preset(path: str | Path) -> EnvPreset:
    """Read and validate a preset TOML file."""
    path = Path(path)
    preset = parse_model(EnvPreset, read_toml(path, "preset"), path)
    unknown = sorted(set(preset.params) - set(_accepted(preset.id)))
    if unknown:
        raise SpecError(f"{path}: unknown params {unknown} for {preset.id}; accepted: {_accepted(preset.id)}")
    return preset


def make_env(preset: str | Path | EnvPreset, **overrides: Any) -> gym.Env:
    """``gymnasium.make`` the preset's environment; ``overrides`` replace or add constructor arguments.

    Overriding ``reward`` with another reward drops the preset's ``reward_params`` (they are that reward's), so
    the new reward starts from its own defaults unless ``reward_params`` is given too.
    """
    if not isinstance(preset, EnvPreset):
        preset = load_preset(preset)
    unknown = sorted(set(overrides) - set(_accepted(preset.id)))
    if unknown:
        raise SpecError(f"unknown overrides {unknown} for {preset.id}; accepted: {_accepted(preset.id)}")
    params = dict(preset.params)
    if "reward" in overrides and "reward_params" not in overrides and overrides["reward"] != params.get("reward"):
        params.pop("reward_params", None)  # the preset's reward parameters belong to the preset's reward
    env = gym.make(preset.id, **{**params, **overrides})
    return env if preset.actions is None else DiscreteActions(env, preset.actions)
