"""The autoregressive model: causal mask, KV cache, seeded sampling, nucleus sampling."""

from __future__ import annotations

import numpy as np
import torch

from qfin.kline import KlineModel, sample_logits

from .conftest import TINY_MODEL


def _tokens(b, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.randint(0, 2 ** TINY_MODEL.coarse_bits, (b, t), generator=g)
    f = torch.randint(0, 2 ** TINY_MODEL.fine_bits, (b, t), generator=g)
    cal = torch.stack([torch.randint(0, 7, (b, t), generator=g), torch.randint(0, 12, (b, t), generator=g)], -1)
    return c, f, cal


def test_logits_at_t_ignore_tokens_after_t():
    torch.manual_seed(0)
    m = KlineModel(TINY_MODEL).eval()
    c, f, cal = _tokens(2, 20)
    nxt = torch.roll(c, -1, 1)
    t = 9
    c2, f2, cal2, nxt2 = c.clone(), f.clone(), cal.clone(), nxt.clone()
    c2[:, t + 1:] = (c2[:, t + 1:] + 3) % 2 ** TINY_MODEL.coarse_bits
    f2[:, t + 1:] = (f2[:, t + 1:] + 1) % 2 ** TINY_MODEL.fine_bits
    cal2[:, t + 1:, 0] = (cal2[:, t + 1:, 0] + 1) % 7
    nxt2[:, t + 1:] = (nxt2[:, t + 1:] + 5) % 2 ** TINY_MODEL.coarse_bits
    with torch.no_grad():
        lc1, lf1 = m(c, f, cal, nxt)
        lc2, lf2 = m(c2, f2, cal2, nxt2)
    torch.testing.assert_close(lc1[:, :t + 1], lc2[:, :t + 1])
    torch.testing.assert_close(lf1[:, :t + 1], lf2[:, :t + 1])
    assert not torch.allclose(lc1[:, t + 1:], lc2[:, t + 1:])


def test_fine_head_depends_on_the_coarse_token():
    torch.manual_seed(1)
    m = KlineModel(TINY_MODEL).eval()
    c, f, cal = _tokens(1, 6)
    with torch.no_grad():
        _, lf1 = m(c, f, cal, torch.zeros_like(c))
        _, lf2 = m(c, f, cal, torch.ones_like(c))
        lc, lf3 = m(c, f, cal, teacher_force=False, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(lf1, lf2)
    assert lf3.shape == lf1.shape and lc.shape[-1] == 2 ** TINY_MODEL.coarse_bits


def test_kv_cache_gives_the_same_samples_and_seed_reproduces():
    torch.manual_seed(2)
    m = KlineModel(TINY_MODEL).eval()
    c, f, cal = _tokens(3, 10)
    _, _, cal_all = _tokens(3, 22, seed=5)
    cal_all[:, :10] = cal

    def gen(seed, cache):
        return m.generate(c, f, cal_all, 12, generator=torch.Generator().manual_seed(seed), use_cache=cache)

    a, b = gen(7, True), gen(7, False)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    again = gen(7, True)
    assert torch.equal(a[0], again[0]) and torch.equal(a[1], again[1])
    other = gen(8, True)
    assert not (torch.equal(a[0], other[0]) and torch.equal(a[1], other[1]))


def test_sampling_matches_the_softmax_and_nucleus():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    g = torch.Generator().manual_seed(0)
    draws = sample_logits(logits.expand(20_000, 4), 1.0, 1.0, g).numpy()
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, torch.softmax(logits, 0).numpy(), atol=0.015)
    # top_p = 0.7: softmax = [.644, .237, .087, .032]; the nucleus is {0, 1}, renormalised
    draws = sample_logits(logits.expand(20_000, 4), 1.0, 0.7, g).numpy()
    freq = np.bincount(draws, minlength=4) / draws.size
    p = torch.softmax(logits, 0).numpy()[:2]
    np.testing.assert_allclose(freq, np.r_[p / p.sum(), 0, 0], atol=0.015)
    assert (sample_logits(logits.expand(5, 4), 0.0) == 0).all()
