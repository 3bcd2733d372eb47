"""Classical allocators as a discrete action menu of :class:`qfin.envs.PortfolioEnv`, for off-policy evaluation
of portfolio candidates: action i rebalances to allocator i's weights, computed from the observation alone.

Each allocator reads the closes in the observation window (the env's price tensor: closes divided by the close at
the decision bar t, so nothing after t) and returns weights over cash and the N assets (cash first, summing to
one, long-only). The wrapper plays them as the env's logits, log(w) / softmax_scale, which its softmax maps back
to w (a zero weight becomes 1e-12).

- ``cash``: all cash.   ``equal_weight``: 1/N in each asset.
- ``inverse_vol``: w_i proportional to 1 / sigma_i, sigma the sample std (ddof = 1) of the window's daily simple
  returns (skfolio's InverseVolatility on the same returns).
- ``min_variance``: the global minimum-variance portfolio Sigma^{-1} 1 / 1^T Sigma^{-1} 1 of the window's sample
  covariance (ridge 1e-6 of its mean variance), negative weights set to 0 and the rest renormalised.
- ``momentum``: w_i proportional to max(p_t / p_{t-W+1} - 1, 0), the window's positive total returns; all cash
  when no asset went up.

Candidates and the behavior policy choose among the menu with known probabilities (:class:`PreferPolicy`,
:class:`MixPolicy`), so importance weights are exact.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from qfin.data import price_panel
from qfin.envs import EnvPreset, PortfolioEnv
from qfin.envs import make_env as _make_env
from qfin.errors import SpecError

from ._policies import MenuPolicy

__all__ = ["ALLOCATORS", "AllocatorMenu", "MenuPreset", "MenuValues", "MixPolicy", "PreferPolicy", "allocate",
           "make_menu_env"]


def _window_returns(closes: np.ndarray) -> np.ndarray:
    return closes[:, 1:] / closes[:, :-1] - 1.0


def _cash(closes: np.ndarray) -> np.ndarray:
    return np.zeros(closes.shape[0])


def _equal_weight(closes: np.ndarray) -> np.ndarray:
    return np.full(closes.shape[0], 1.0 / closes.shape[0])


def _inverse_vol(closes: np.ndarray) -> np.ndarray:
    sigma = _window_returns(closes).std(axis=1, ddof=1)
    inv = 1.0 / np.maximum(sigma, 1e-12)
    return inv / inv.sum()


def _min_variance(closes: np.ndarray) -> np.ndarray:
    r = _window_returns(closes)
    cov = np.cov(r)
    cov = np.atleast_2d(cov) + 1e-6 * float(np.mean(np.diag(np.atleast_2d(cov))) or 1.0) * np.eye(r.shape[0])
    w = np.maximum(np.linalg.solve(cov, np.ones(r.shape[0])), 0.0)
    return w / w.sum() if w.sum() > 0 else _equal_weight(closes)


def _momentum(closes: np.ndarray) -> np.ndarray:
    up = np.maximum(closes[:, -1] / closes[:, 0] - 1.0, 0.0)
    return up / up.sum() if up.sum() > 0 else np.zeros(closes.shape[0])


ALLOCATORS = {"cash": _cash, "equal_weight": _equal_weight, "inverse_vol": _inverse_vol,
              "min_variance": _min_variance, "momentum": _momentum}


def allocate(name: str, closes: np.ndarray) -> np.ndarray:
    """Weights [N + 1] (cash first) of allocator ``name`` from the window's closes [N, W] (W >= 3)."""
    risky = ALLOCATORS[name](np.asarray(closes, dtype=np.float64))
    return np.r_[1.0 - risky.sum(), risky]


class MenuValues(np.ndarray):
    """The menu's index column [A, 1] (what :class:`MenuPolicy` expects), carrying the allocator ``names``."""

    names: list[str]


class AllocatorMenu(gym.Wrapper):
    """A :class:`PortfolioEnv` whose actions are the allocators ``names``: ``Discrete(len(names))``; ``values``
    is the menu's index column, a :class:`MenuValues` that names them."""

    def __init__(self, env: gym.Env, names: Sequence[str]) -> None:
        super().__init__(env)
        base = env.unwrapped
        if not isinstance(base, PortfolioEnv):
            raise SpecError(f"an allocator menu wraps qfin/Portfolio-v0; got {type(base).__name__}")
        if base.window < 3:
            raise SpecError(f"allocators estimate volatilities from the observation window: window must be >= 3, "
                            f"got {base.window}")
        unknown = [n for n in names if n not in ALLOCATORS]
        if unknown or len(names) < 2 or len(set(names)) != len(names):
            raise SpecError(f"menu.allocators must name at least 2 distinct allocators among {list(ALLOCATORS)}; "
                            f"got {list(names)}")
        self.names = list(names)
        self.values = np.arange(len(self.names), dtype=np.float64)[:, None].view(MenuValues)
        self.values.names = list(self.names)
        self.action_space = spaces.Discrete(len(self.names))
        self._scale = float(base.softmax_scale)
        self._obs: Any = None

    def _closes(self) -> np.ndarray:
        prices = self._obs["prices"] if isinstance(self._obs, dict) else self._obs
        return np.asarray(prices, dtype=np.float64)[0]

    def reset(self, **kwargs):
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action):
        index = int(np.asarray(action).reshape(-1)[0])
        if not 0 <= index < len(self.names):
            raise SpecError(f"action must be an index in 0..{len(self.names) - 1}; got {action!r}")
        w = allocate(self.names[index], self._closes())
        self._obs, reward, terminated, truncated, info = self.env.step(np.log(np.maximum(w, 1e-12)) / self._scale)
        info["allocator"] = self.names[index]
        return self._obs, reward, terminated, truncated, info


class MenuPreset(EnvPreset):
    """An env preset with an allocator menu: :func:`make_menu_env` wraps its env in :class:`AllocatorMenu`."""

    menu: list[str]


@functools.lru_cache(maxsize=4)
def _panel(data: str, assets: tuple[str, ...] | None) -> Any:
    return price_panel(data, assets=None if assets is None else list(assets))


def make_menu_env(preset: EnvPreset, **overrides: Any) -> gym.Env:
    """:func:`qfin.envs.make_env`, wrapped in the preset's :class:`AllocatorMenu` when it is a :class:`MenuPreset`.

    A rollout builds one env copy per batch slot (hundreds); a menu preset's market (a dataset name or file) is
    loaded and validated once per process and handed to each copy as a :class:`qfin.data.MarketPanel`."""
    if not isinstance(preset, MenuPreset):
        return _make_env(preset, **overrides)
    data = overrides.get("data", preset.params.get("data", "sp500_stocks"))
    if isinstance(data, str) and "assets" not in overrides:
        assets = preset.params.get("assets")
        overrides = {**overrides, "data": _panel(data, None if assets is None else tuple(assets))}
    return AllocatorMenu(_make_env(preset, **overrides), preset.menu)


@dataclass(frozen=True, kw_only=True)
class PreferPolicy(MenuPolicy):
    """Play menu action ``prefer`` (``epsilon`` mixes in the uniform policy: probability 1 - epsilon + epsilon/A)."""

    prefer: int = 0

    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        p = np.zeros((len(obs), self.n_actions))
        p[:, self.prefer] = 1.0
        return p


@dataclass(frozen=True, kw_only=True)
class MixPolicy(MenuPolicy):
    """Choose menu action a with the fixed probability ``probabilities[a]`` at every step."""

    probabilities: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        p = np.asarray(self.probabilities, dtype=np.float64)
        if p.shape != (self.n_actions,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise SpecError(f"a mix needs one probability >= 0 per menu action, summing to 1; got {self.probabilities}")

    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.probabilities, dtype=np.float64), (len(obs), self.n_actions)).copy()
