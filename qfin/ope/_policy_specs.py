"""Policies as spec tables: one pydantic model per ``kind`` (a discriminated union, so a key that does not
apply to the kind is an unknown key of that kind), and the policy each one builds on an action menu."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from qfin.errors import SpecError

from ._allocators import MixPolicy, PreferPolicy
from ._policies import AgentPolicy, BandHedge, ConstantHedge, DeltaHedge, MenuPolicy, UniformPolicy

__all__ = ["AgentPolicySpec", "AllocatorPolicySpec", "BandPolicySpec", "ConstantPolicySpec", "DeltaPolicySpec",
           "MixPolicySpec", "PolicySpec", "UniformPolicySpec", "build_policy"]

_HEDGING_ENV = "qfin/Hedging-v0"


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""


class _Noisy(_Policy):
    temperature: float = 0.0  # the policy classes check the values (qfin.ope._policies)
    epsilon: float = 0.0


class DeltaPolicySpec(_Noisy):
    """Black–Scholes delta at volatility ``vol`` (a put's when ``put``), snapped to the menu."""

    kind: Literal["delta"]
    vol: float = 0.2
    put: bool = False


class BandPolicySpec(DeltaPolicySpec):
    """Delta with a no-trade band of half-width ``band`` around the current hedge."""

    kind: Literal["band"]  # type: ignore[assignment]
    band: float = 0.1


class ConstantPolicySpec(_Noisy):
    """The same hedge ratio ``hedge`` at every step."""

    kind: Literal["constant"]
    hedge: float = 0.0


class UniformPolicySpec(_Policy):
    """Every menu action with the same probability."""

    kind: Literal["uniform"]


class AgentPolicySpec(_Policy):
    """A trained qfin agent (``path``: its folder, relative to the spec) acting on the same menu."""

    kind: Literal["agent"]
    path: str
    epsilon: float = 0.0


class AllocatorPolicySpec(_Policy):
    """Rebalance to the allocator ``prefer`` of the spec's ``[menu]`` (``epsilon``: uniform over the menu)."""

    kind: Literal["allocator"]
    prefer: str
    epsilon: float = 0.0


class MixPolicySpec(_Policy):
    """Choose allocator a of the ``[menu]`` with probability ``probabilities[a]`` (a table name -> probability;
    allocators left out get 0)."""

    kind: Literal["mix"]
    probabilities: dict[str, float]


PolicySpec = Annotated[DeltaPolicySpec | BandPolicySpec | ConstantPolicySpec | UniformPolicySpec | AgentPolicySpec
                       | AllocatorPolicySpec | MixPolicySpec, Field(discriminator="kind")]


def _menu_policy(p: AllocatorPolicySpec | MixPolicySpec, values: np.ndarray, menu: list[str] | None) -> MenuPolicy:
    where = f"policy {p.name or 'behavior'!r}"
    if menu is None:
        raise SpecError(f"{where}: kind {p.kind!r} chooses among allocators; add [menu] allocators = [...] "
                        "(on qfin/Portfolio-v0)")
    if isinstance(p, AllocatorPolicySpec):
        if p.prefer not in menu:
            raise SpecError(f"{where}: prefer = {p.prefer!r} is not in the menu; accepted: {menu}")
        return PreferPolicy(values=values, prefer=menu.index(p.prefer), epsilon=p.epsilon)
    unknown = sorted(set(p.probabilities) - set(menu))
    if unknown:
        raise SpecError(f"{where}: probabilities name {unknown}, not in the menu; accepted: {menu}")
    return MixPolicy(values=values, probabilities=tuple(float(p.probabilities.get(m, 0.0)) for m in menu))


def build_policy(p: PolicySpec, values: np.ndarray, env_id: str, base: Path) -> MenuPolicy:
    """The policy ``p`` describes on the menu ``values`` of the environment ``env_id`` (an allocator menu's
    values, :class:`~qfin.ope._allocators.MenuValues`, name the allocators that kinds allocator and mix choose)."""
    if isinstance(p, DeltaPolicySpec | ConstantPolicySpec) and env_id != _HEDGING_ENV:
        raise SpecError(f"policy {p.name or 'behavior'!r}: kind {p.kind!r} reads HedgingEnv observations; the env "
                        f"is {env_id} (use uniform, allocator, mix or agent)")
    if isinstance(p, AllocatorPolicySpec | MixPolicySpec):
        return _menu_policy(p, values, getattr(values, "names", None))
    if isinstance(p, BandPolicySpec):
        return BandHedge(values=values, vol=p.vol, put=p.put, band=p.band, temperature=p.temperature,
                         epsilon=p.epsilon)
    if isinstance(p, DeltaPolicySpec):
        return DeltaHedge(values=values, vol=p.vol, put=p.put, temperature=p.temperature, epsilon=p.epsilon)
    if isinstance(p, ConstantPolicySpec):
        return ConstantHedge(values=values, hedge=p.hedge, temperature=p.temperature, epsilon=p.epsilon)
    if isinstance(p, UniformPolicySpec):
        return UniformPolicy(values=values)
    from qfin.agents import load_agent  # torch and SB3 load only for specs with agents

    return AgentPolicy(values=values, model=load_agent(base / p.path).model, epsilon=p.epsilon)
