"""Stochastic policies over a finite action menu, with known probabilities pi(a | s) for off-policy evaluation.

A :class:`MenuPolicy` maps a batch of observations [n, d] to action probabilities [n, A] over the menu of a
:class:`qfin.envs.DiscreteActions` environment. Noise makes a deterministic rule stochastic, two ways:

- ``temperature`` (> 0): a Gaussian kernel on the menu around the rule's target action,
  pi(a | s) proportional to exp(-|v_a - target(s)|^2 / (2 temperature^2)) (full support, smooth in the target);
- ``epsilon`` (in [0, 1]): mix with the uniform policy, (1 - epsilon) pi + epsilon / A (epsilon-greedy when the
  rule is deterministic).

With neither, the rule plays the menu value nearest its target (ties to the lower index).

Rules for :class:`qfin.envs.HedgingEnv` observations ``[log(S/K), tau, (v,) h_prev]``: :class:`DeltaHedge` (the
Black–Scholes delta at a fixed vol), :class:`BandHedge` (a no-trade band of fixed half-width around that delta,
trading to the band's edge, after Whalley & Wilmott 1997), :class:`ConstantHedge`. For any environment:
:class:`UniformPolicy`, and :class:`AgentPolicy` (a trained Stable-Baselines3 agent's action distribution).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from qfin.errors import SpecError

__all__ = ["MenuPolicy", "TargetPolicy", "DeltaHedge", "BandHedge", "ConstantHedge", "UniformPolicy", "AgentPolicy"]


def _check_noise(temperature: float, epsilon: float, where: str) -> None:
    if not (np.isfinite(temperature) and temperature >= 0.0):
        raise SpecError(f"{where}: temperature must be a finite number >= 0, got {temperature!r}")
    if not (np.isfinite(epsilon) and 0.0 <= epsilon <= 1.0):
        raise SpecError(f"{where}: epsilon must lie in [0, 1], got {epsilon!r}")


@dataclass(frozen=True, kw_only=True)
class MenuPolicy(ABC):
    """Action probabilities over a menu ``values`` [A] (one number per action), with optional noise."""

    values: np.ndarray
    temperature: float = 0.0
    epsilon: float = 0.0

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        object.__setattr__(self, "values", values)
        _check_noise(self.temperature, self.epsilon, type(self).__name__)

    @property
    def n_actions(self) -> int:
        return int(len(self.values))

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """pi(. | s) for each row of ``obs`` [n, d] -> [n, A], rows summing to one."""
        obs = np.asarray(obs, dtype=np.float64)
        p = self._rule_probs(obs)
        if self.epsilon > 0.0:
            p = (1.0 - self.epsilon) * p + self.epsilon / self.n_actions
        return p

    @abstractmethod
    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        """The noise-free rule's probabilities [n, A]."""


@dataclass(frozen=True, kw_only=True)
class TargetPolicy(MenuPolicy):
    """A rule that names a preferred action value; probabilities come from the menu values near it."""

    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        target = self.target(obs)
        gap = self.values[None, :] - target[:, None]
        if self.temperature > 0.0:
            logits = -0.5 * (gap / self.temperature) ** 2
            logits -= logits.max(axis=1, keepdims=True)
            w = np.exp(logits)
            return w / w.sum(axis=1, keepdims=True)
        p = np.zeros_like(gap)
        p[np.arange(len(gap)), np.argmin(np.abs(gap), axis=1)] = 1.0
        return p

    @abstractmethod
    def target(self, obs: np.ndarray) -> np.ndarray:
        """The rule's preferred action value [n] for observations [n, d]."""


def _delta(obs: np.ndarray, vol: float) -> np.ndarray:
    """Black–Scholes call delta N(d1) at zero rate from log-moneyness obs[:, 0] and time to maturity obs[:, 1]."""
    x, tau = obs[:, 0], np.maximum(obs[:, 1], 1e-12)
    sd = vol * np.sqrt(tau)
    return ndtr((x + 0.5 * sd * sd) / sd)


@dataclass(frozen=True, kw_only=True)
class DeltaHedge(TargetPolicy):
    """Hedge to the Black–Scholes call delta at volatility ``vol`` (put: ``put=True``, delta - 1)."""

    vol: float = 0.2
    put: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (np.isfinite(self.vol) and self.vol > 0):
            raise SpecError(f"{type(self).__name__}: vol must be a positive number, got {self.vol!r}")

    def target(self, obs: np.ndarray) -> np.ndarray:
        return _delta(obs, self.vol) - (1.0 if self.put else 0.0)


@dataclass(frozen=True, kw_only=True)
class BandHedge(DeltaHedge):
    """Keep the previous hedge (obs[:, -1]) while it is within ``band`` of the delta, else trade to the band's
    nearest edge: the no-trade region that proportional costs make optimal (Whalley & Wilmott 1997)."""

    band: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (np.isfinite(self.band) and self.band >= 0):
            raise SpecError(f"BandHedge: band must be a number >= 0, got {self.band!r}")

    def target(self, obs: np.ndarray) -> np.ndarray:
        delta = super().target(obs)
        return np.clip(obs[:, -1], delta - self.band, delta + self.band)


@dataclass(frozen=True, kw_only=True)
class ConstantHedge(TargetPolicy):
    """Always target the hedge ratio ``hedge`` (0 = unhedged)."""

    hedge: float = 0.0

    def target(self, obs: np.ndarray) -> np.ndarray:
        return np.full(len(obs), float(self.hedge))


@dataclass(frozen=True, kw_only=True)
class UniformPolicy(MenuPolicy):
    """Every action with probability 1/A (noise settings are ignored)."""

    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        return np.full((len(obs), self.n_actions), 1.0 / self.n_actions)


@dataclass(frozen=True, kw_only=True)
class AgentPolicy(MenuPolicy):
    """A trained agent's action distribution on a ``Discrete`` menu environment (``epsilon`` mixes in uniform).

    Policy-gradient agents (PPO, A2C) give their categorical probabilities; value-based ones (DQN, QR-DQN) their
    greedy action, which ``epsilon`` turns into epsilon-greedy. ``temperature`` does not apply.
    """

    model: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature:
            raise SpecError("AgentPolicy: temperature does not apply to an agent; use epsilon")
        space = getattr(self.model, "action_space", None)
        if getattr(space, "n", None) != self.n_actions:
            raise SpecError(f"AgentPolicy: the agent acts on {space}, the environment's menu has "
                            f"{self.n_actions} actions; train the agent on the same menu (preset key `actions`)")

    def _rule_probs(self, obs: np.ndarray) -> np.ndarray:
        import torch

        policy = self.model.policy
        with torch.no_grad():
            tensor = torch.as_tensor(obs, dtype=torch.float32, device=policy.device)
            if hasattr(policy, "get_distribution"):
                p = policy.get_distribution(tensor).distribution.probs.cpu().numpy().astype(np.float64)
                return p / p.sum(axis=1, keepdims=True)
            greedy = policy.predict(obs.astype(np.float32), deterministic=True)[0]
        p = np.zeros((len(obs), self.n_actions))
        p[np.arange(len(obs)), np.asarray(greedy).reshape(-1)] = 1.0
        return p
