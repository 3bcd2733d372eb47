"""Binary spherical quantization: codes on the sphere, the index <-> bits bijection, straight-through
gradients, the entropy loss at known points."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from qfin.kline import bits_to_index, bsq_entropy_loss, bsq_quantize, index_to_bits, join_code, split_index


def test_codes_are_signs_on_the_unit_sphere():
    z = torch.randn(64, 10, 9)
    q, u = bsq_quantize(z)
    k = z.shape[-1]
    torch.testing.assert_close(q.abs(), torch.full_like(q, 1 / math.sqrt(k)))
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(64, 10))
    torch.testing.assert_close(u.norm(dim=-1), torch.ones(64, 10))
    assert torch.equal(torch.sign(q), torch.sign(z))
    # quantization is the nearest corner: no other sign vector is closer to u (brute force, k = 4)
    z4 = torch.randn(20, 4)
    q4, u4 = bsq_quantize(z4)
    corners = torch.tensor(list(itertools.product([-0.5, 0.5], repeat=4)))
    nearest = corners[torch.cdist(u4, corners).argmin(1)]
    torch.testing.assert_close(q4, nearest)


@pytest.mark.parametrize("coarse_bits,fine_bits", [(4, 4), (3, 5), (1, 6), (6, 2)])
def test_index_bits_bijection_with_asymmetric_splits(coarse_bits, fine_bits):
    for n in (coarse_bits, fine_bits):
        idx = torch.arange(2 ** n)
        bits = index_to_bits(idx, n)
        assert torch.equal(bits_to_index(bits), idx)
        assert len({tuple(b.tolist()) for b in bits}) == 2 ** n  # all distinct: a bijection
        # bit i is the i-th binary digit (independent check with Python's formatting)
        assert [int(c) for c in reversed(format(5 % 2 ** n, f"0{n}b"))] == index_to_bits(
            torch.tensor(5 % 2 ** n), n).tolist()
    c = torch.randint(0, 2 ** coarse_bits, (7, 11))
    f = torch.randint(0, 2 ** fine_bits, (7, 11))
    code = join_code(c, f, coarse_bits, fine_bits)
    torch.testing.assert_close(code.norm(dim=-1), torch.ones(7, 11))
    c2, f2 = split_index(code, coarse_bits)
    assert torch.equal(c2, c) and torch.equal(f2, f)
    # the coarse-only code has zero fine coordinates
    assert torch.all(join_code(c, None, coarse_bits, fine_bits)[..., coarse_bits:] == 0)


def test_straight_through_gradient():
    torch.manual_seed(0)
    z = torch.randn(5, 6, requires_grad=True)
    w = torch.randn(5, 6)
    q, _ = bsq_quantize(z)
    (q * w).sum().backward()
    # expected: the gradient of sum(w * z / ||z||), i.e. quantization is the identity for the backward pass
    z2 = z.detach().clone().requires_grad_(True)
    (torch.nn.functional.normalize(z2, dim=-1) * w).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad)
    assert z.grad.abs().sum() > 0


def test_entropy_loss_at_known_points():
    k = 6
    # u = 0 gives p = 1/2 on every bit: per-token entropy k ln 2, codebook entropy k ln 2
    u0 = torch.zeros(10, k)
    torch.testing.assert_close(bsq_entropy_loss(u0, gamma=1.0), torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(bsq_entropy_loss(u0, gamma=0.0), torch.tensor(k * math.log(2)))
    # confident, diverse codes (all sign patterns) beat one collapsed code
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=k))) / math.sqrt(k)
    diverse = bsq_entropy_loss(signs, inv_temperature=5.0)
    collapsed = bsq_entropy_loss(signs[:1].expand(64, k), inv_temperature=5.0)
    assert diverse < collapsed
    torch.testing.assert_close(diverse - collapsed, torch.tensor(-k * math.log(2)), atol=1e-3, rtol=0)
