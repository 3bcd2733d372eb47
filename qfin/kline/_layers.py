"""Transformer parts shared by the tokenizer and the model: RMSNorm, rotary position embeddings (RoPE),
SwiGLU feed-forward, causal self-attention with a KV cache, and cross-attention.

RoPE: Su et al., "RoFormer", arXiv 2104.09864, eq. 34. SwiGLU: Shazeer, "GLU variants improve transformer",
arXiv 2002.05202, eq. 6. RMSNorm: Zhang and Sennrich, arXiv 1910.07467 (``torch.nn.RMSNorm``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10_000.0) -> torch.Tensor:
    """Rotate ``x [B, H, T, D]`` (D even) by angles ``positions[T] * base^(-2i/D)`` (RoFormer eq. 34)."""
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float32, device=x.device) / d)
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


class SwiGLU(nn.Module):
    """``W2 (silu(W1 x) * W3 x)`` (Shazeer 2020, eq. 6)."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d_model, hidden, bias=False)
        self.w3 = nn.Linear(d_model, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SelfAttention(nn.Module):
    """Causal multi-head self-attention with RoPE. ``cache`` is ``(k, v)`` of earlier positions
    ``[B, H, T0, Dh]``; the call appends the new ones and returns the grown cache."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads or (d_model // n_heads) % 2:
            raise ValueError(f"d_model ({d_model}) must be n_heads ({n_heads}) x an even head size")
        self.h = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        t0 = 0 if cache is None else cache[0].shape[2]
        pos = torch.arange(t0, t0 + t, device=x.device)
        q, k = rope(q, pos), rope(k, pos)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        # query i (absolute position t0 + i) sees keys 0 .. t0 + i
        mask = torch.ones(t, t0 + t, dtype=torch.bool, device=x.device).tril(diagonal=t0)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))``, then ``x + swiglu(norm(x))``."""

    def __init__(self, d_model: int, n_heads: int, ffn_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads)
        self.norm2 = nn.RMSNorm(d_model)
        self.ffn = SwiGLU(d_model, ffn_hidden)

    def forward(self, x: torch.Tensor, cache=None):
        a, cache = self.attn(self.norm1(x), cache)
        x = x + a
        return x + self.ffn(self.norm2(x)), cache


class Stack(nn.Module):
    """``n_layers`` causal blocks and a final RMSNorm; ``caches`` is one ``(k, v)`` per block or ``None``."""

    def __init__(self, d_model: int, n_heads: int, ffn_hidden: int, n_layers: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(d_model, n_heads, ffn_hidden) for _ in range(n_layers))
        self.norm = nn.RMSNorm(d_model)

    def forward(self, x: torch.Tensor, caches: list | None = None):
        new = []
        for i, blk in enumerate(self.blocks):
            x, c = blk(x, None if caches is None else caches[i])
            new.append(c)
        return self.norm(x), new


class CrossAttention(nn.Module):
    """Multi-head attention of queries ``[B, Tq, D]`` at absolute positions ``q_pos`` over a causal context
    ``[B, Tk, D]`` (positions 0..Tk-1): query at position p sees context positions <= p."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.h = n_heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, query: torch.Tensor, context: torch.Tensor, q_pos: torch.Tensor) -> torch.Tensor:
        b, tq, d = query.shape
        tk = context.shape[1]
        dh = d // self.h
        q = self.q(query).view(b, tq, self.h, dh).transpose(1, 2)
        k, v = self.kv(context).view(b, tk, 2, self.h, dh).permute(2, 0, 3, 1, 4)
        mask = torch.arange(tk, device=query.device)[None, :] <= q_pos[:, None]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, tq, d))
