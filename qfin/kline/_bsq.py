"""Binary spherical quantization (BSQ) and the index <-> bits bijection of hierarchical K-line tokens.

Zhao, Xiong and Krähenbühl, "Image and video tokenization with binary spherical quantization",
arXiv 2406.07548: project to ``k`` dimensions, L2-normalise ``u = z / ||z||``, quantize
``q = sign(u) / sqrt(k)`` (a corner of the hypercube, on the unit sphere), and pass gradients straight through
(``u + stopgrad(q - u)``, Bengio et al. 2013). The entropy regulariser is the factorised form of their eq. 9:
per-bit soft assignments ``p_i = sigmoid(4 tau sqrt(k) u_i)`` (the softmax over the two values ``±1/sqrt(k)`` of
``exp(2 tau k c u_i)``), loss = mean per-token entropy - gamma * entropy of the batch-mean assignment.
"""

from __future__ import annotations

import math

import torch


def bsq_quantize(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize ``z [..., k]``; returns ``(q_ste, u)``: the straight-through code (value ``±1/sqrt(k)``,
    gradient of ``u``) and the normalised input ``u``. A zero coordinate maps to ``+1/sqrt(k)``."""
    k = z.shape[-1]
    u = torch.nn.functional.normalize(z, dim=-1, eps=1e-12)
    q = torch.where(u >= 0, 1.0, -1.0).to(u.dtype) / math.sqrt(k)
    return u + (q - u).detach(), u


def bsq_entropy_loss(u: torch.Tensor, inv_temperature: float = 1.0, gamma: float = 1.0) -> torch.Tensor:
    """Factorised BSQ entropy loss of normalised codes ``u [..., k]`` (nats, summed over bits): low per-token
    entropy (confident bits) and high entropy of the average code usage (no collapse)."""
    k = u.shape[-1]
    p = torch.sigmoid(4.0 * inv_temperature * math.sqrt(k) * u).reshape(-1, k)

    def h(x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(1e-6, 1 - 1e-6)
        return -(x * x.log() + (1 - x) * (1 - x).log())

    return h(p).sum(-1).mean() - gamma * h(p.mean(0)).sum()


def bits_to_index(bits: torch.Tensor) -> torch.Tensor:
    """``bits [..., n]`` (bool, {0, 1}, or signed codes: positive = 1) to ``int64`` indices
    ``sum_i b_i 2^i`` in ``[0, 2^n)`` (bit 0 is the least significant)."""
    b = (bits > 0).to(torch.int64)
    weights = 2 ** torch.arange(b.shape[-1], device=b.device, dtype=torch.int64)
    return (b * weights).sum(-1)


def index_to_bits(index: torch.Tensor, n_bits: int) -> torch.Tensor:
    """Inverse of :func:`bits_to_index`: ``int64 [...]`` to ``{0, 1}`` bits ``[..., n_bits]`` (int64)."""
    shifts = torch.arange(n_bits, device=index.device, dtype=torch.int64)
    return (index.to(torch.int64)[..., None] >> shifts) & 1


def bits_to_code(bits: torch.Tensor, total_bits: int) -> torch.Tensor:
    """``{0, 1}`` bits to BSQ code values ``±1/sqrt(total_bits)`` (float32)."""
    return (bits.to(torch.float32) * 2 - 1) / math.sqrt(total_bits)


def split_index(q: torch.Tensor, coarse_bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A BSQ code ``[..., k]`` to its hierarchical token: (coarse index of the first ``coarse_bits`` bits,
    fine index of the remaining ``k - coarse_bits``)."""
    return bits_to_index(q[..., :coarse_bits]), bits_to_index(q[..., coarse_bits:])


def join_code(coarse: torch.Tensor, fine: torch.Tensor | None, coarse_bits: int, fine_bits: int) -> torch.Tensor:
    """Hierarchical token back to the BSQ code ``[..., coarse_bits + fine_bits]``; with ``fine=None`` the fine
    coordinates are zero (the coarse-only code)."""
    k = coarse_bits + fine_bits
    c = bits_to_code(index_to_bits(coarse, coarse_bits), k)
    if fine is None:
        f = torch.zeros(*c.shape[:-1], fine_bits, dtype=c.dtype, device=c.device)
    else:
        f = bits_to_code(index_to_bits(fine, fine_bits), k)
    return torch.cat([c, f], dim=-1)
