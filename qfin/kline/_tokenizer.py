"""Hierarchical BSQ tokenizer of normalised K-lines (Kronos, arXiv 2508.02739, sec. 3.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._bsq import bsq_entropy_loss, bsq_quantize, join_code, split_index
from ._config import KlineTokenizerConfig
from ._layers import Stack


class KlineTokenizer(nn.Module):
    """Causal autoencoder: bars ``[B, T, F]`` (z-scored) -> one BSQ code of ``coarse_bits + fine_bits`` bits
    per bar -> bars. Token ``t`` depends on bars ``<= t`` only, and so does the decoded bar ``t``.

    The code splits into a coarse sub-token (first ``coarse_bits`` bits) and a fine one (the rest); the loss
    trains both the full reconstruction and the coarse-only one (fine coordinates zeroed), so the coarse
    sub-token alone already carries a usable bar.
    """

    def __init__(self, config: KlineTokenizerConfig | None = None) -> None:
        super().__init__()
        c = self.config = config if config is not None else KlineTokenizerConfig()
        self.embed = nn.Linear(c.n_features, c.d_model)
        self.encoder = Stack(c.d_model, c.n_heads, c.ffn_hidden, c.enc_layers)
        self.to_code = nn.Linear(c.d_model, c.n_bits)
        self.from_code = nn.Linear(c.n_bits, c.d_model)
        self.decoder = Stack(c.d_model, c.n_heads, c.ffn_hidden, c.dec_layers)
        self.head = nn.Linear(c.d_model, c.n_features)

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bars ``[B, T, F]`` -> (straight-through code ``[B, T, k]``, normalised pre-code ``u``)."""
        h, _ = self.encoder(self.embed(x))
        return bsq_quantize(self.to_code(h))

    def decode_code(self, code: torch.Tensor) -> torch.Tensor:
        """BSQ codes ``[B, T, k]`` -> bars ``[B, T, F]`` (normalised units)."""
        h, _ = self.decoder(self.from_code(code))
        return self.head(h)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bars ``[B, T, F]`` -> (coarse ``[B, T]``, fine ``[B, T]``) int64 token indices."""
        q, _ = self.quantize(x)
        return split_index(q, self.config.coarse_bits)

    @torch.no_grad()
    def decode(self, coarse: torch.Tensor, fine: torch.Tensor | None = None) -> torch.Tensor:
        """Token indices -> bars ``[B, T, F]``; ``fine=None`` decodes from the coarse sub-tokens alone."""
        c = self.config
        return self.decode_code(join_code(coarse, fine, c.coarse_bits, c.fine_bits))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on bars ``[B, T, F]``: MSE of the full and of the coarse-only reconstruction plus
        ``entropy_weight`` x the BSQ entropy loss. Returns the loss and its parts as floats."""
        c = self.config
        q, u = self.quantize(x)
        full = F.mse_loss(self.decode_code(q), x)
        mask = torch.zeros(c.n_bits, device=x.device)
        mask[: c.coarse_bits] = 1.0
        coarse = F.mse_loss(self.decode_code(q * mask), x)
        ent = bsq_entropy_loss(u, c.entropy_inv_temperature, c.entropy_gamma)
        total = full + coarse + c.entropy_weight * ent
        return total, {"full": full.item(), "coarse": coarse.item(), "entropy": ent.item()}
