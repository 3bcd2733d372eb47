"""A trained portfolio agent as a backtest weight strategy (``kind = "agent"``, ``path = ...`` in a spec).

At a decision bar t the strategy builds the agent's observation from the market panel up to t exactly as
:class:`qfin.envs.PortfolioEnv` does (:func:`qfin.envs.price_observation`: the last ``window`` bars of the
features the agent was trained on, each asset divided by its close at t). The deterministic action is mapped to
weights with the env's own :func:`qfin.envs.logits_to_weights` settings, so the backtest trades what the env
would have traded on the same bars.

The drifted weights are not part of a strategy's input, so agents trained with ``include_weights`` are a clear
error; features beyond ``close`` need bars data (open/high/low) in the backtest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from qfin.data import MarketPanel
from qfin.envs import logits_to_weights, price_features, price_observation
from qfin.errors import QfinError, SpecError
from qfin.strategy import NOT_IN_SPEC, WeightStrategy, register_strategy

from ._checkpoint import Agent, load_agent

__all__ = ["AgentStrategy", "agent_strategy"]


@dataclass(frozen=True, kw_only=True)
class AgentStrategy(WeightStrategy):
    """A saved portfolio agent's deterministic weights at each decision (lookback = the env window - 1)."""

    kind: ClassVar[str] = "agent"
    name: str = "agent"
    path: str | Path = ""
    lookback: int = -1  # set from the agent's window
    agent: Agent | None = field(default=None, repr=False, compare=False, metadata=NOT_IN_SPEC)

    def __post_init__(self) -> None:
        where = f"strategy {self.name!r} (agent)"
        agent = self.agent
        if agent is None:
            if not self.path:
                raise SpecError(f"{where}: set path = the folder of a trained agent (train_agent's out_dir or a "
                                "checkpoint folder)")
            agent = load_agent(self.path)
        if agent.preset.id != "qfin/Portfolio-v0":
            raise SpecError(f"{where}: the agent was trained on {agent.preset.id}; a backtest strategy needs a "
                            "qfin/Portfolio-v0 agent")
        if agent.preset.params.get("include_weights", False):
            raise SpecError(f"{where}: the agent observes its drifted weights, which a backtest strategy cannot "
                            "rebuild; train with include_weights = false")
        window = int(agent.preset.params.get("window", 50))
        if self.lookback not in (-1, window - 1):
            raise SpecError(f"{where}: the lookback is fixed by the agent's window ({window - 1}); got "
                            f"{self.lookback!r}; remove the lookback key")
        object.__setattr__(self, "agent", agent)
        object.__setattr__(self, "lookback", window - 1)
        super().__post_init__()

    def _check_assets(self, n_assets: int, where: str) -> None:
        trained = self.agent.config["spaces"]["observation"]["shape"][1]
        if n_assets != trained:
            raise SpecError(f"{where}: the agent was trained on {trained} assets "
                            f"({', '.join(self.agent.config.get('assets', []))}); the backtest has {n_assets}")

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        raise SpecError(f"strategy {self.name!r} (agent) observes the market panel: call decide(panel, "
                        "decision_bars), not target_weights(returns)")

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        params = self.agent.preset.params
        try:
            features = price_features(panel, params.get("features"))
        except QfinError as err:
            raise SpecError(f"strategy {self.name!r} (agent): the agent was trained on {err}") from None
        observation = price_observation(panel, features, self.lookback + 1)
        action = self.agent.predict(observation, deterministic=True)
        return logits_to_weights(np.asarray(action, dtype=np.float64).reshape(-1),
                                 long_only=params.get("long_only", True),
                                 softmax_scale=params.get("softmax_scale", 5.0),
                                 leverage=params.get("leverage", 1.0), max_weight=params.get("max_weight"))


def agent_strategy(path: str | Path | Agent, name: str = "agent") -> AgentStrategy:
    """A saved agent (folder) or an :class:`Agent` as a :class:`qfin.backtests.WeightStrategy`."""
    if isinstance(path, Agent):
        return AgentStrategy(name=name, path=str(path.path or ""), agent=path)
    return AgentStrategy(name=name, path=path)


register_strategy(AgentStrategy.kind, AgentStrategy)
