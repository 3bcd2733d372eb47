"""Decoder-only transformer over hierarchical K-line tokens (Kronos, arXiv 2508.02739, sec. 3.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._config import KlineModelConfig
from ._layers import CrossAttention, Stack


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one index per row of ``logits [..., V]`` at ``temperature`` from the smallest set of tokens whose
    probability reaches ``top_p`` (nucleus sampling, Holtzman et al. 2019). ``temperature=0`` is argmax."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    shape = probs.shape
    probs = probs.reshape(-1, shape[-1])
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        keep = (sorted_p.cumsum(-1) - sorted_p) < top_p
        sorted_p = sorted_p * keep
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    idx = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return idx.reshape(shape[:-1])


class KlineModel(nn.Module):
    """Autoregressive model of (coarse, fine) token pairs.

    Input at bar ``t``: ``fuse([E_c(coarse_t), E_f(fine_t)])`` + day-of-week and month embeddings; a causal
    transformer (RoPE, RMSNorm, SwiGLU) gives ``h_t``. The coarse head reads ``h_t`` and predicts the coarse
    sub-token of bar ``t + 1``; the dependency layer (cross-attention from ``h_t + E_dep(coarse_{t+1})`` over
    ``h_0..h_t``) conditions the fine head on that coarse sub-token: the true one in training
    (``teacher_force=True``) or a sampled one (``False``, and always in generation).
    """

    def __init__(self, config: KlineModelConfig | None = None) -> None:
        super().__init__()
        c = self.config = config if config is not None else KlineModelConfig()
        nc, nf, d = 2 ** c.coarse_bits, 2 ** c.fine_bits, c.d_model
        self.emb_coarse = nn.Embedding(nc, d)
        self.emb_fine = nn.Embedding(nf, d)
        self.fuse = nn.Linear(2 * d, d)
        self.emb_weekday = nn.Embedding(7, d)
        self.emb_month = nn.Embedding(12, d)
        self.stack = Stack(d, c.n_heads, c.ffn_hidden, c.n_layers)
        self.head_coarse = nn.Linear(d, nc)
        self.emb_dep = nn.Embedding(nc, d)
        self.dep_norm = nn.RMSNorm(d)
        self.dep = CrossAttention(d, c.n_heads)
        self.fine_norm = nn.RMSNorm(d)
        self.head_fine = nn.Linear(d, nf)

    def hidden(self, coarse, fine, calendar, caches=None):
        """Tokens ``[B, T]`` and calendar ``[B, T, 2]`` -> hidden states ``[B, T, D]`` and the KV caches."""
        x = self.fuse(torch.cat([self.emb_coarse(coarse), self.emb_fine(fine)], dim=-1))
        x = x + self.emb_weekday(calendar[..., 0]) + self.emb_month(calendar[..., 1])
        return self.stack(x, caches)

    def fine_logits(self, h_query: torch.Tensor, coarse_next: torch.Tensor, context: torch.Tensor,
                    q_pos: torch.Tensor) -> torch.Tensor:
        """Fine logits for queries ``h_query [B, Tq, D]`` at positions ``q_pos`` given the next coarse
        sub-tokens ``[B, Tq]`` and the hidden context ``[B, Tk, D]``."""
        z = h_query + self.emb_dep(coarse_next)
        z = z + self.dep(self.dep_norm(z), context, q_pos)
        return self.head_fine(self.fine_norm(z))

    def forward(self, coarse, fine, calendar, coarse_next=None, teacher_force: bool = True,
                temperature: float = 1.0, generator: torch.Generator | None = None):
        """Logits at every position for the *next* bar: (coarse ``[B, T, 2^cb]``, fine ``[B, T, 2^fb]``).
        With ``teacher_force`` pass the true next coarse sub-tokens ``coarse_next [B, T]``."""
        h, _ = self.hidden(coarse, fine, calendar)
        lc = self.head_coarse(h)
        if teacher_force:
            if coarse_next is None:
                raise ValueError("teacher_force=True needs coarse_next, the true next coarse sub-tokens")
        else:
            coarse_next = sample_logits(lc.detach(), temperature, 1.0, generator)
        pos = torch.arange(h.shape[1], device=h.device)
        return lc, self.fine_logits(h, coarse_next, h, pos)

    def loss(self, coarse, fine, calendar) -> tuple[torch.Tensor, dict[str, float]]:
        """Next-token cross-entropy (coarse + fine, teacher-forced) on token windows ``[B, T]``."""
        lc, lf = self(coarse[:, :-1], fine[:, :-1], calendar[:, :-1], coarse_next=coarse[:, 1:])
        ce_c = F.cross_entropy(lc.reshape(-1, lc.shape[-1]), coarse[:, 1:].reshape(-1))
        ce_f = F.cross_entropy(lf.reshape(-1, lf.shape[-1]), fine[:, 1:].reshape(-1))
        return ce_c + ce_f, {"coarse_ce": ce_c.item(), "fine_ce": ce_f.item()}

    @torch.no_grad()
    def generate(self, coarse, fine, calendar, n_steps: int, temperature: float = 1.0, top_p: float = 1.0,
                 generator: torch.Generator | None = None, use_cache: bool = True, repeat: int = 1):
        """Sample ``n_steps`` tokens after the context ``coarse, fine [B, T0]``. ``calendar [B, T0 + n_steps, 2]``
        covers context and future bars. Returns (coarse, fine) ``[B * repeat, n_steps]``: ``repeat`` paths per
        context (rows ``b * repeat .. b * repeat + repeat - 1``), the context read once and its KV cache shared.
        ``use_cache=False`` recomputes the whole prefix every step (same numbers, slower; kept for checks and
        benchmarks)."""
        t0 = coarse.shape[1]
        if calendar.shape[1] < t0 + n_steps - 1:
            raise ValueError(f"calendar covers {calendar.shape[1]} bars; need {t0 + n_steps - 1}")
        calendar = calendar.repeat_interleave(repeat, 0) if repeat > 1 else calendar
        if use_cache:
            cs, fs = coarse, fine
            ctx, caches = self.hidden(cs, fs, calendar[::repeat, :t0])
            if repeat > 1:
                ctx = ctx.repeat_interleave(repeat, 0)
                caches = [(k.repeat_interleave(repeat, 0), v.repeat_interleave(repeat, 0)) for k, v in caches]
        else:
            cs, fs = coarse.repeat_interleave(repeat, 0), fine.repeat_interleave(repeat, 0)
            ctx, caches = self.hidden(cs, fs, calendar[:, :t0])
        out_c, out_f = [], []
        for s in range(n_steps):
            t = t0 + s
            h_last = ctx[:, -1:]
            c = sample_logits(self.head_coarse(h_last), temperature, top_p, generator)
            pos = torch.tensor([t - 1], device=ctx.device)
            f = sample_logits(self.fine_logits(h_last, c, ctx, pos), temperature, top_p, generator)
            out_c.append(c)
            out_f.append(f)
            if s == n_steps - 1:
                break
            if use_cache:
                h_new, caches = self.hidden(c, f, calendar[:, t:t + 1], caches)
                ctx = torch.cat([ctx, h_new], dim=1)
            else:
                cs, fs = torch.cat([cs, c], dim=1), torch.cat([fs, f], dim=1)
                ctx, _ = self.hidden(cs, fs, calendar[:, :t + 1])
        return torch.cat(out_c, dim=1), torch.cat(out_f, dim=1)
