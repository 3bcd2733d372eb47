"""Wrappers: :class:`StockAugmentation` (append the discounted accumulated reward, the "stock", to the observation)
and :class:`DiscreteActions` (a finite menu of actions for a continuous-action environment).

Bäuerle & Ott (2011), "Markov decision processes with average-value-at-risk criteria", Math. Meth. Oper. Res.
74; Bellemare, Dabney & Rowland (2023), *Distributional Reinforcement Learning*, §7.8 (stock-augmented
agents). With stock c_0 at reset and c_{t+1} = (c_t + r_t) / gamma,

    c_T gamma^T - c_0 = sum_{t<T} gamma^t r_t,

so the stock tells a risk-sensitive policy how much discounted return it has banked, in units of time t.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from qfin.errors import QfinError

__all__ = ["DiscreteActions", "StockAugmentation"]


class StockAugmentation(gym.Wrapper):
    """Append the stock c_t to the observation.

    A 1-D ``Box`` observation becomes a ``Box`` one longer (stock last, in the observation's dtype); any other
    space becomes ``Dict({"observation": original, "stock": Box(1,)})``. ``info["stock"]`` holds the float64
    value. The initial stock is ``initial_stock`` or ``reset(options={"stock": c0})``.

    Parameters
    ----------
    env : the environment to wrap.
    gamma : discount factor in (0, 1].
    initial_stock : c_0.
    """

    def __init__(self, env: gym.Env, gamma: float = 1.0, initial_stock: float = 0.0) -> None:
        super().__init__(env)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 < gamma <= 1.0:
            raise QfinError(f"gamma must lie in (0, 1]; got {gamma!r}")
        if isinstance(initial_stock, bool) or not isinstance(initial_stock, (int, float)) \
                or not np.isfinite(initial_stock):
            raise QfinError(f"initial_stock must be a finite number; got {initial_stock!r}")
        self.gamma = float(gamma)
        self.initial_stock = float(initial_stock)
        self.stock = self.initial_stock
        inner = env.observation_space
        self._flat = isinstance(inner, spaces.Box) and len(inner.shape) == 1
        if self._flat:
            dtype = inner.dtype
            self.observation_space = spaces.Box(np.append(inner.low, -np.inf).astype(dtype),
                                                np.append(inner.high, np.inf).astype(dtype), dtype=dtype)
        else:
            self.observation_space = spaces.Dict({
                "observation": inner, "stock": spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)})

    def _augment(self, obs: Any) -> Any:
        if self._flat:
            return np.append(obs, self.stock).astype(self.observation_space.dtype)
        return {"observation": obs, "stock": np.array([self.stock], dtype=np.float32)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        options = dict(options or {})
        stock = options.pop("stock", self.initial_stock)
        obs, info = self.env.reset(seed=seed, options=options or None)
        self.stock = float(stock)
        info["stock"] = self.stock
        return self._augment(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.stock = (self.stock + float(reward)) / self.gamma
        info["stock"] = self.stock
        return self._augment(obs), reward, terminated, truncated, info


class DiscreteActions(gym.ActionWrapper):
    """Offer a ``Box``-action environment a finite menu: action ``i`` plays ``values[i]``.

    Off-policy evaluation, DQN-style agents and tabular policies need ``Discrete`` actions with known
    probabilities; unlike gymnasium's ``DiscretizeAction`` (uniform bins), the menu here is exactly the values
    given, e.g. hedge ratios ``[0, 0.25, 0.5, 0.75, 1]``.

    Parameters
    ----------
    env : an environment with a ``Box`` action space of shape (m,).
    values : sequence of n actions, each a number (m = 1) or a sequence of m numbers; finite, distinct.
    """

    def __init__(self, env: gym.Env, values: Any) -> None:
        super().__init__(env)
        inner = env.action_space
        if not isinstance(inner, spaces.Box) or len(inner.shape) != 1:
            raise QfinError(f"DiscreteActions wraps an environment with a 1-D Box action space; got {inner}")
        table = np.asarray(values, dtype=np.float64)
        m = inner.shape[0]
        if table.ndim == 1 and m == 1:
            table = table[:, None]
        if table.ndim != 2 or table.shape[1] != m or table.shape[0] < 2:
            raise QfinError(f"values must list at least 2 actions, each of {m} number(s); got shape "
                            f"{np.shape(values)}")
        if not np.all(np.isfinite(table)):
            raise QfinError("values must be finite numbers")
        if len(np.unique(table, axis=0)) != len(table):
            raise QfinError("values must be distinct actions (a repeated one would split its probability)")
        self.values = table
        self.action_space = spaces.Discrete(len(table))

    def action(self, action: Any) -> np.ndarray:
        index = int(np.asarray(action).reshape(-1)[0])
        if not 0 <= index < len(self.values):
            raise QfinError(f"action must be an index in 0..{len(self.values) - 1}; got {action!r}")
        return self.values[index].astype(self.env.action_space.dtype)
