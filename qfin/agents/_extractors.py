"""Feature extractors for the portfolio observation ``[features, assets, window]``
(see :class:`qfin.envs.PortfolioEnv`).

- :class:`EIIEExtractor`: Jiang, Xu & Liang (2017), "A Deep Reinforcement Learning Framework for the Financial
  Portfolio Management Problem", §5: the price tensor is an image with one row per asset; convolutions of kernel
  ``(1, k)`` slide along time only, so every asset is processed by the SAME weights ("ensemble of identical
  independent evaluators"). The per-asset feature vectors (plus the previous weight of that asset when the
  observation is a Dict with ``weights``) are concatenated for SB3's policy and value heads.
- :class:`MLPExtractor`: the flattened tensor through a small MLP (weights NOT shared across assets).

Both take ``log`` of the prices, which are relative to the last close (so the last close column becomes 0).
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["EXTRACTORS", "EIIEExtractor", "MLPExtractor"]


def _split(observation_space: gym.Space) -> tuple[gym.spaces.Box, gym.spaces.Box | None]:
    if isinstance(observation_space, gym.spaces.Dict):
        return observation_space["prices"], observation_space["weights"]
    return observation_space, None


def _prices(obs) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(obs, dict):
        return obs["prices"], obs["weights"]
    return obs, None


class EIIEExtractor(BaseFeaturesExtractor):
    """EIIE: per-asset convolutions along time with weights shared across assets.

    Input ``[B, F, N, W]`` (and optionally weights ``[B, N + 1]``, cash first); output ``[B, N * (channels[1]
    (+1)) + 1]``: for each asset its ``channels[1]`` features (and its previous weight), plus the cash weight
    (0 without weights).
    """

    def __init__(self, observation_space: gym.Space, channels: tuple[int, int] = (3, 10), kernel: int = 3) -> None:
        prices, weights = _split(observation_space)
        n_features, n_assets, window = prices.shape
        kernel = max(1, min(int(kernel), window))
        c1, c2 = int(channels[0]), int(channels[1])
        out = n_assets * (c2 + (weights is not None)) + 1
        super().__init__(observation_space, features_dim=out)
        self.has_weights = weights is not None
        self.net = nn.Sequential(
            nn.Conv2d(n_features, c1, kernel_size=(1, kernel)), nn.Tanh(),
            nn.Conv2d(c1, c2, kernel_size=(1, window - kernel + 1)), nn.Tanh(),
        )

    def forward(self, obs) -> torch.Tensor:
        prices, weights = _prices(obs)
        x = self.net(torch.log(prices.clamp_min(1e-8)) * 10.0)  # [B, c2, N, 1]
        x = x.squeeze(-1).transpose(1, 2)  # [B, N, c2]
        if self.has_weights:
            x = torch.cat([x, weights[:, 1:, None]], dim=2)
            cash = weights[:, :1]
        else:
            cash = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
        return torch.cat([x.flatten(1), cash], dim=1)


class MLPExtractor(BaseFeaturesExtractor):
    """The flattened log price tensor (and weights) through ``hidden`` tanh layers (no sharing across assets)."""

    def __init__(self, observation_space: gym.Space, hidden: tuple[int, ...] = (64,)) -> None:
        prices, weights = _split(observation_space)
        n_in = int(prices.shape[0] * prices.shape[1] * prices.shape[2]) + (0 if weights is None else weights.shape[0])
        hidden = tuple(int(h) for h in hidden)
        super().__init__(observation_space, features_dim=hidden[-1] if hidden else n_in)
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(n_in, h), nn.Tanh()]
            n_in = h
        self.net = nn.Sequential(*layers)

    def forward(self, obs) -> torch.Tensor:
        prices, weights = _prices(obs)
        x = torch.log(prices.clamp_min(1e-8)).flatten(1) * 10.0
        if weights is not None:
            x = torch.cat([x, weights], dim=1)
        return self.net(x)


EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {"eiie": EIIEExtractor, "mlp": MLPExtractor}
