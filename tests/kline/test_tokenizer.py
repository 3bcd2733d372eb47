"""The hierarchical BSQ tokenizer: causality, reconstruction that improves with training."""

from __future__ import annotations

import torch

from qfin.kline import KlineTokenizer

from .conftest import TINY_TOK


def test_tokens_and_decoded_bars_at_t_ignore_later_bars():
    torch.manual_seed(0)
    tok = KlineTokenizer(TINY_TOK).eval()
    x = torch.randn(3, 30, 5)
    x2 = x.clone()
    t = 17
    x2[:, t + 1:] = torch.randn(3, 30 - t - 1, 5) * 3
    c1, f1 = tok.encode(x)
    c2, f2 = tok.encode(x2)
    assert torch.equal(c1[:, :t + 1], c2[:, :t + 1]) and torch.equal(f1[:, :t + 1], f2[:, :t + 1])
    with torch.no_grad():
        q1, _ = tok.quantize(x)
        q2, _ = tok.quantize(x2)
        torch.testing.assert_close(tok.decode_code(q1)[:, :t + 1], tok.decode_code(q2)[:, :t + 1])
        assert not torch.equal(q1[:, t + 1:], q2[:, t + 1:])  # the later bars do matter downstream


def test_encode_decode_matches_the_straight_through_code():
    torch.manual_seed(1)
    tok = KlineTokenizer(TINY_TOK).eval()
    x = torch.randn(2, 12, 5)
    with torch.no_grad():
        q, _ = tok.quantize(x)
        torch.testing.assert_close(tok.decode(*tok.encode(x)), tok.decode_code(q))


def test_reconstruction_improves_and_is_below_stated_error(trained, sp500_corpus):
    cfg, _, res = trained
    w = sp500_corpus.windows("train", cfg.lookback, cfg.horizon, stride=16)
    x = torch.from_numpy(w.z)
    torch.manual_seed(cfg.seed)
    untrained = KlineTokenizer(cfg.tokenizer).eval()

    def mse(tok, coarse_only=False):
        c, f = tok.encode(x)
        return float(((tok.decode(c, None if coarse_only else f) - x) ** 2).mean())

    before, after = mse(untrained), mse(res.tokenizer)
    # z-scored bars have variance ~1; 150 updates of a 7-bit, ~6k-parameter tokenizer reach < 0.35
    assert after < 0.35, after
    assert after < 0.5 * before, (before, after)
    assert mse(res.tokenizer, coarse_only=True) < before
    # the training record shows the loss falling
    hist = [h for h in res.progress["history"] if h["stage"] == "tokenizer" and "full" in h]
    assert hist[-1]["full"] < hist[0]["full"]
    assert sum(p.numel() for p in res.tokenizer.parameters()) < 10_000
