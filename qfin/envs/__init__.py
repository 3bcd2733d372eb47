"""Gymnasium environments: portfolio allocation (:class:`PortfolioEnv`, ``qfin/Portfolio-v0``), option hedging
(:class:`HedgingEnv`, ``qfin/Hedging-v0``) and the :class:`StockAugmentation` wrapper;
:func:`make_env` builds one from a TOML preset (envs/*.toml).

The dynamics are also available batched over many paths: :func:`simulate_portfolio` / :func:`portfolio_step`
here and :func:`qfin.data.simulate.hedging_pnl` for hedging (numpy, or torch for gradients).
"""

import gymnasium

from ._dynamics import PortfolioStep, portfolio_step, simulate_portfolio
from ._hedging import HedgingEnv
from ._portfolio import PortfolioEnv, logits_to_weights, price_features, price_observation
from ._presets import EnvPreset, load_preset, make_env
from ._rewards import REWARDS
from ._wrappers import DiscreteActions, StockAugmentation

__all__ = [
    "REWARDS",
    "DiscreteActions",
    "EnvPreset",
    "HedgingEnv",
    "PortfolioEnv",
    "PortfolioStep",
    "StockAugmentation",
    "load_preset",
    "logits_to_weights",
    "make_env",
    "portfolio_step",
    "price_features",
    "price_observation",
    "simulate_portfolio",
]

if "qfin/Portfolio-v0" not in gymnasium.registry:
    gymnasium.register(id="qfin/Portfolio-v0", entry_point="qfin.envs._portfolio:PortfolioEnv")
if "qfin/Hedging-v0" not in gymnasium.registry:
    gymnasium.register(id="qfin/Hedging-v0", entry_point="qfin.envs._hedging:HedgingEnv")
