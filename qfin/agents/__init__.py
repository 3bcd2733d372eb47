"""Agents: train and load Stable-Baselines3 agents on qfin environments, feature extractors, and the agent as a
backtest strategy (``kind = "agent"`` in backtest specs, registered when this package is imported), and the deep
(QR-DQN) variant of distributional DP, ``train_qrdqn``.

Heavy imports (torch, stable-baselines3) happen inside the functions and private modules that need them.
"""

from qfin._lazy import lazy_names

from ._checkpoint import ALGOS, Agent, load_agent
from ._config import TrainConfig, load_train_config, train_from_config
from ._evaluate import Rollout, evaluate, rollout, summarize_seeds
from ._strategy import AgentStrategy, agent_strategy
from ._train import TrainResult, train_agent

__all__ = [
    "ALGOS", "Agent", "AgentStrategy", "Rollout", "TrainConfig", "TrainResult", "agent_strategy", "evaluate",
    "load_agent", "load_train_config", "rollout", "summarize_seeds", "train_agent", "train_from_config",
    "FiniteMDPEnv", "train_qrdqn",
]

# The deep variant of distributional DP pulls in gymnasium and sb3-contrib: imported only when asked for.
__getattr__, __dir__ = lazy_names(__name__, {"FiniteMDPEnv": "_deep_dp", "train_qrdqn": "_deep_dp"})
