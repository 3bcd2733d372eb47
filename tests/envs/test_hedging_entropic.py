"""The entropic objective stays finite where exp overflows (risk_aversion 50: 15 of 300 random-hedge episodes lose
more than 709.78 / 50, where math.exp overflowed and step() raised OverflowError)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qfin.envs._hedging import HedgingEnv, entropic_reward

A = 50.0


def _episodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    env = HedgingEnv(objective="entropic", risk_aversion=A)
    env.action_space.seed(0)
    env.reset(seed=0)
    pnls, rewards = [], []
    for _ in range(n):
        done = False
        while not done:
            _, reward, done, _, info = env.step(env.action_space.sample())
        pnls.append(info["pnl"])
        rewards.append(reward)
        env.reset()
    return np.array(pnls), np.array(rewards)


def test_entropic_reward_is_finite_and_exact_below_the_cap():
    pnls, rewards = _episodes(300)
    assert (-A * pnls > 709.78).sum() >= 3  # the episodes on which step() raised OverflowError
    assert np.all(np.isfinite(rewards)) and np.all(np.abs(rewards) < np.finfo(np.float32).max)
    exact = -A * pnls <= 50.0
    assert exact.sum() > 100 and (~exact).sum() > 10
    # below the cap: the exponential utility itself
    np.testing.assert_allclose(rewards[exact], (1.0 - np.exp(-A * pnls[exact])) / A, rtol=1e-12)
    # beyond it: the utility's tangent line at the cap's P&L x0 = -50 / a, u(x0) + u'(x0) (x - x0), u'(x) = e^(-a x)
    x0 = -50.0 / A
    np.testing.assert_allclose(rewards[~exact], (1.0 - math.exp(50.0)) / A + math.exp(50.0) * (pnls[~exact] - x0),
                               rtol=1e-12)
    order = np.argsort(pnls)  # a larger P&L never earns a smaller reward
    assert np.all(np.diff(rewards[order]) >= 0.0)


@pytest.mark.parametrize("a", [0.5, 1.0, 50.0])
def test_entropic_reward_is_continuous_and_increasing_at_the_cap(a):
    x0 = -50.0 / a
    below, at, above = (entropic_reward(x0 + d, a) for d in (1e-9, 0.0, -1e-9))
    assert below > at > above
    assert at == pytest.approx((1.0 - math.exp(50.0)) / a, rel=1e-12)
    slope = (below - above) / 2e-9
    assert slope == pytest.approx(math.exp(50.0), rel=1e-5)  # C1: the tangent's slope is u'(x0) = e^50
    assert math.isfinite(entropic_reward(-1e12, a))
