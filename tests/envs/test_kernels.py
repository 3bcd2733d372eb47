"""The numba-compiled loops of qfin.envs._kernels against plain numpy statements of the same formulas."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.costs import transaction_remainder
from qfin.envs import PortfolioEnv, _kernels, logits_to_weights, portfolio_step
from qfin.errors import QfinError


def _random_weights(rng, rows, n):
    w = rng.dirichlet(np.full(n + 1, 0.5), size=rows)
    return w


@pytest.mark.parametrize("exact", [True, False])
def test_compiled_remainder_equals_the_vectorised_cost_model(exact):
    rng = np.random.default_rng(0)
    before, after = _random_weights(rng, 500, 20), _random_weights(rng, 500, 20)
    method = "exact" if exact else "l1"
    expected = transaction_remainder(before, after, 0.002, 0.0035, method=method)
    compiled = [_kernels.remainder(b, a, 0.002, 0.0035, exact, 1e-14, 100) for b, a in zip(before, after, strict=True)]
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-15)


def _capped_softmax(a, scale, cap):
    """The cap rule as numpy statements: clip the risky weights at the cap, hand the excess to the uncapped
    entries (cash included) in proportion, until nothing exceeds it."""
    w = np.exp(scale * a - (scale * a).max())
    w /= w.sum()
    for _ in range(w.size):
        over = w[1:] > cap
        if not over.any():
            break
        excess = (w[1:][over] - cap).sum()
        w[1:][over] = cap
        free = np.concatenate(([True], w[1:] < cap))
        w[free] += excess * w[free] / w[free].sum()
    return w


def test_compiled_action_mapping_equals_numpy_statements():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = rng.normal(scale=3.0, size=11)
        scale, cap = rng.uniform(0.5, 5.0), rng.uniform(0.12, 0.6)
        w = logits_to_weights(a, softmax_scale=scale, max_weight=cap)
        np.testing.assert_allclose(w, _capped_softmax(a, scale, cap), rtol=1e-12, atol=1e-15)
        assert w[1:].max() <= cap * (1 + 1e-12) and w.sum() == pytest.approx(1.0, abs=1e-12)
        lev = rng.uniform(0.5, 3.0)
        u = lev * a[1:] / np.abs(a).sum()
        u = np.clip(u, -cap, cap)
        np.testing.assert_allclose(logits_to_weights(a, long_only=False, leverage=lev, max_weight=cap),
                                   np.r_[1.0 - u.sum(), u], rtol=1e-12, atol=1e-15)


def test_portfolio_step_matches_the_formulas_over_a_batch():
    rng = np.random.default_rng(2)
    drifted, target = _random_weights(rng, 12, 5).reshape(3, 4, 6), _random_weights(rng, 12, 5).reshape(3, 4, 6)
    relatives = np.concatenate([np.ones((3, 4, 1)), rng.uniform(0.9, 1.1, size=(3, 4, 5))], axis=-1)
    value = rng.uniform(1.0, 2.0, size=(3, 4))
    out = portfolio_step(value, drifted, target, relatives, 0.001, 0.002)
    mu = transaction_remainder(drifted, target, 0.001, 0.002)
    gross = (target * relatives).sum(axis=-1)
    np.testing.assert_allclose(out.value, value * mu * gross, rtol=1e-14)
    np.testing.assert_allclose(out.drifted, target * relatives / gross[..., None], rtol=1e-14)
    np.testing.assert_allclose(out.turnover, np.abs(target - drifted)[..., 1:].sum(axis=-1), rtol=1e-14)
    np.testing.assert_allclose(out.costs, value * (1 - mu), rtol=1e-12)
    one = portfolio_step(1.5, drifted[0, 0], target[0, 0], relatives[0, 0], 0.001, 0.002)
    assert one.value.shape == () and one.drifted.shape == (6,)


def test_non_finite_action_is_refused_and_leaves_the_state():
    env = PortfolioEnv("sp500_stocks", assets=["AAPL", "AMD"], window=3, episode_length=5)
    env.reset(seed=0)
    with pytest.raises(QfinError, match="finite"):
        env.step(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(QfinError, match="3 finite logits"):
        env.step(np.zeros(4))
    _, _, _, _, info = env.step(np.zeros(3))
    assert info["value"] == pytest.approx(1.0, abs=0.05) and env._t == env._start + 1
