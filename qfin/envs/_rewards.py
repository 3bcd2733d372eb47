"""Rewards of :class:`PortfolioEnv`, chosen by name. Every one is computed from the per-step simple return
``r_t = V_{t+1} / V_t - 1`` net of costs, with the formulas of :mod:`qfin.risk` (one definition each).

=====================  ==========================================================================================
name                   reward and scale
=====================  ==========================================================================================
``log_return``         ``log(V_{t+1} / V_t)`` every step; the episode sum is the log growth of the value.
``sharpe``             increments of the running Sharpe ratio S_k of the episode's returns so far, scaled to
                       the episode length L: ``S_k = sharpe_ratio(r_1..r_k, periods_per_year=L)`` (per-period
                       Sharpe times sqrt(L); 0 for k < 2 or a constant series), reward ``S_k - S_{k-1}``; the
                       episode sum is the whole episode's Sharpe at the horizon of the episode.
``differential_sharpe`` Moody & Saffell's D_t (:class:`qfin.risk.DifferentialSharpe`, params ``eta``,
                       ``warmup``), per step; order eta^-1 times a change of the moving Sharpe.
``cvar``               0 until the last step, then ``mean(r) - risk_aversion * expected_shortfall(r, level)``
                       over the episode's returns (per-period units; expected shortfall is a positive loss).
``mixed_var``          0 until the last step, then RiskPO's ``mixed_var(r, alpha, beta, weight)`` of the
                       episode's returns (per-period units).
=====================  ==========================================================================================
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from qfin.errors import QfinError
from qfin.risk import DifferentialSharpe, RunningSharpe, expected_shortfall, mixed_var

__all__ = ["REWARDS", "make_reward"]

REWARDS: dict[str, dict[str, Any]] = {
    "log_return": {},
    "sharpe": {},
    "differential_sharpe": {"eta": 0.01, "warmup": 0},
    "cvar": {"level": 0.95, "risk_aversion": 1.0},
    "mixed_var": {"alpha": 0.05, "beta": 0.95, "weight": 1.0},
}


class _Reward(ABC):
    """Per-episode reward state: ``reset(length)`` then ``step(r, last)`` once per step."""

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._returns = np.empty(0)
        self._k = 0

    def reset(self, length: int) -> None:
        self._returns = np.empty(length)
        self._k = 0

    def step(self, r: float, last: bool) -> float:
        self._returns[self._k] = r
        self._k += 1
        return self._reward(r, last)

    @abstractmethod
    def _reward(self, r: float, last: bool) -> float:
        """The reward for this step's return ``r``; ``last`` marks the episode's final step."""


class _LogReturn(_Reward):
    def _reward(self, r: float, last: bool) -> float:
        return math.log1p(r)


class _RunningSharpe(_Reward):
    """Increments of the prefix's Sharpe ratio, kept in O(1) per step by :class:`qfin.risk.RunningSharpe`."""

    def reset(self, length: int) -> None:
        super().reset(length)
        self._sharpe = RunningSharpe(periods_per_year=length)
        self._previous = 0.0

    def _reward(self, r: float, last: bool) -> float:
        s = self._sharpe.update(r)
        current = s if math.isfinite(s) else 0.0
        reward, self._previous = current - self._previous, current
        return reward


class _DifferentialSharpe(_Reward):
    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._ds = DifferentialSharpe(eta=params["eta"], warmup=params["warmup"])

    def reset(self, length: int) -> None:
        super().reset(length)
        self._ds.reset()

    def _reward(self, r: float, last: bool) -> float:
        return float(self._ds.update(r))


class _CVaR(_Reward):
    def _reward(self, r: float, last: bool) -> float:
        if not last:
            return 0.0
        x = self._returns[: self._k]
        return float(x.mean() - self.params["risk_aversion"] * expected_shortfall(x, self.params["level"]))


class _MixedVaR(_Reward):
    def _reward(self, r: float, last: bool) -> float:
        if not last:
            return 0.0
        p = self.params
        return float(mixed_var(self._returns[: self._k], p["alpha"], p["beta"], p["weight"]))


_CLASSES = {"log_return": _LogReturn, "sharpe": _RunningSharpe, "differential_sharpe": _DifferentialSharpe,
            "cvar": _CVaR, "mixed_var": _MixedVaR}


def make_reward(name: str, params: dict[str, Any] | None) -> _Reward:
    """The reward ``name`` with ``params`` over its defaults; unknown names, keys or bad values raise now."""
    if name not in REWARDS:
        raise QfinError(f"reward={name!r} is not a known reward; accepted: {sorted(REWARDS)}")
    params = dict(params or {})
    unknown = sorted(set(params) - set(REWARDS[name]))
    if unknown:
        raise QfinError(f"reward_params {unknown} are not parameters of reward {name!r}; accepted: "
                        f"{sorted(REWARDS[name]) or 'none'}")
    full = {**REWARDS[name], **params}
    # validate the values once, here, with the risk functions themselves (they raise QfinError naming the value)
    probe = np.linspace(-0.02, 0.02, 41)
    if name == "cvar":
        expected_shortfall(probe, full["level"])
        lam = full["risk_aversion"]
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise QfinError(f"reward_params risk_aversion must be a finite number >= 0; got {lam!r}")
    elif name == "mixed_var":
        mixed_var(probe, full["alpha"], full["beta"], full["weight"])
    return _CLASSES[name](**full)
