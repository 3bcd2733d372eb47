"""A trained portfolio agent as a backtest weight strategy (``kind = "agent"``, ``path = ...`` in a spec).

At a decision bar t the strategy receives the ``window - 1`` simple returns ending at t (built by
:meth:`qfin.backtests.WeightStrategy.decide` from closes up to t only) and rebuilds the env's observation from
them: ``close_{t-k} / close_t = 1 / prod_{j<k} (1 + r_{t-j})`` for k = 0 .. window-1, the
:class:`qfin.envs.PortfolioEnv` price tensor for ``features = ("close",)``. The deterministic action is mapped to
weights with the env's own :func:`qfin.envs.logits_to_weights` settings, so the backtest trades what the env
would have traded on the same closes.

Only agents trained on closes without the weights input can be rebuilt this way (the drifted weights and the
open/high/low bars are not part of a strategy's input); other agents are a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from qfin.envs import logits_to_weights
from qfin.errors import SpecError
from qfin.strategy import WeightStrategy, register_strategy

from ._checkpoint import Agent, load_agent

__all__ = ["AgentStrategy", "agent_strategy"]


def observation_from_returns(returns: np.ndarray) -> np.ndarray:
    """The env observation [1, N, window] float32 from the ``window - 1`` returns [window - 1, N] ending at t."""
    r = np.asarray(returns, dtype=np.float64)
    growth = np.cumprod((1.0 + r)[::-1], axis=0)[::-1]  # growth[k] = close_t / close_{t-window+1+k}
    relative = np.vstack([1.0 / growth, np.ones((1, r.shape[1]))])  # [window, N], oldest first, last = 1
    return relative.T[None].astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class AgentStrategy(WeightStrategy):
    """A saved portfolio agent's deterministic weights at each decision (lookback = the env window - 1)."""

    kind: ClassVar[str] = "agent"
    name: str = "agent"
    path: str | Path = ""
    lookback: int = -1  # set from the agent's window
    agent: Agent | None = field(default=None, repr=False, compare=False)

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
        params = agent.preset.params
        if params.get("include_weights", False) or tuple(params.get("features") or ("close",)) != ("close",):
            raise SpecError(f"{where}: the agent observes {'its weights' if params.get('include_weights') else ''}"
                            f"{' and ' if params.get('include_weights') and params.get('features') else ''}"
                            f"{params.get('features') or ''}; a strategy can rebuild only a closes-only "
                            "observation (train with include_weights = false and features = ['close'])")
        window = int(params.get("window", 50))
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
        params = self.agent.preset.params
        action = self.agent.predict(observation_from_returns(returns), deterministic=True)
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
