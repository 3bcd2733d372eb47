"""The shared hedging P&L simulator against a brute-force per-path loop, and its torch gradients."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.data.simulate import gbm, hedging_pnl, hedging_step_pnl
from qfin.errors import DataValidationError


def _brute_force(spot, hedge, payoff, premium, cost, liquidate):
    """Cash account walked path by path, trade by trade: buy/sell at S_t paying cost * |traded value|."""
    n_paths, n_steps = hedge.shape
    pnl, costs, turnover = np.zeros(n_paths), np.zeros(n_paths), np.zeros(n_paths)
    prem = np.broadcast_to(np.asarray(premium, dtype=float), (n_paths,))
    for i in range(n_paths):
        cash, units, paid, traded = prem[i], 0.0, 0.0, 0.0
        for t in range(n_steps):
            trade = hedge[i, t] - units
            cash -= trade * spot[i, t]
            fee = cost * abs(trade) * spot[i, t]
            cash -= fee
            paid += fee
            traded += abs(trade) * spot[i, t]
            units = hedge[i, t]
        if liquidate:
            fee = cost * abs(units) * spot[i, -1]
            cash += units * spot[i, -1] - fee
            paid += fee
            traded += abs(units) * spot[i, -1]
            units = 0.0
        # without liquidation the held units are marked at S_n (no sale, no fee)
        pnl[i] = cash + units * spot[i, -1] - payoff[i]
        costs[i], turnover[i] = paid, traded
    return pnl, costs, turnover


@pytest.fixture(scope="module")
def market():
    rng = np.random.default_rng(3)
    spot = gbm(100.0, 0.03, 0.3, 0.5, n_steps=7, n_paths=40, seed=4)
    hedge = rng.normal(0.5, 0.4, size=(40, 7))
    payoff = np.maximum(spot[:, -1] - 100.0, 0.0)
    premium = rng.uniform(5, 10, size=40)
    return spot, hedge, payoff, premium


@pytest.mark.parametrize("cost", [0.0, 0.002, 0.05])
@pytest.mark.parametrize("liquidate", [True, False])
@pytest.mark.parametrize("scalar_premium", [True, False])
def test_matches_brute_force_loop(market, cost, liquidate, scalar_premium):
    spot, hedge, payoff, premium = market
    prem = 7.5 if scalar_premium else premium
    got = hedging_pnl(spot, hedge, payoff, premium=prem, cost=cost, liquidate=liquidate)
    want = _brute_force(spot, hedge, payoff, prem, cost, liquidate)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float64 and g.shape == (40,)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-10)
    steps = hedging_step_pnl(spot, hedge, payoff, premium=prem, cost=cost, liquidate=liquidate)
    assert steps.shape == (40, 7)
    np.testing.assert_allclose(steps.sum(axis=1), want[0], rtol=1e-12, atol=1e-10)


def test_single_step(market):
    spot, hedge, payoff, _ = market
    got = hedging_pnl(spot[:, :2], hedge[:, :1], payoff, premium=1.0, cost=0.01)
    want = _brute_force(spot[:, :2], hedge[:, :1], payoff, 1.0, 0.01, True)
    np.testing.assert_allclose(got.pnl, want[0], rtol=1e-12)


def test_torch_matches_numpy_and_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    spot = gbm(1.0, 0.0, 0.2, 1.0, n_steps=5, n_paths=6, seed=9)
    hedge = rng.normal(0.4, 0.3, size=(6, 5))
    payoff = np.maximum(spot[:, -1] - 1.0, 0.0)
    h = torch.tensor(hedge, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(spot)
    out = hedging_pnl(s, h, torch.tensor(payoff), premium=0.1, cost=0.01)
    ref = hedging_pnl(spot, hedge, payoff, premium=0.1, cost=0.01)
    for g, w in zip(out, ref, strict=True):
        assert isinstance(g, torch.Tensor)
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=1e-13)
    # analytic gradient of sum(pnl): d/dh_t = (S_{t+1} - S_t) - c S_t sgn(h_t - h_{t-1}) + c S_{t+1} sgn(h_{t+1} - h_t)
    # (and - c S_n sgn(h_{n-1}) for the liquidation of the last hedge)
    out.pnl.sum().backward()
    c = 0.01
    prev = np.concatenate([np.zeros((6, 1)), hedge[:, :-1]], axis=1)
    grad = np.diff(spot, axis=1) - c * spot[:, :-1] * np.sign(hedge - prev)
    grad[:, :-1] += c * spot[:, 1:-1] * np.sign(hedge[:, 1:] - hedge[:, :-1])
    grad[:, -1] -= c * spot[:, -1] * np.sign(hedge[:, -1])
    np.testing.assert_allclose(h.grad.numpy(), grad, rtol=1e-12)
    # finite differences: away from kinks (random hedges never repeat) the P&L is smooth
    assert torch.autograd.gradcheck(lambda x: hedging_pnl(s, x, torch.tensor(payoff), 0.1, 0.01).pnl,
                                    (h.detach().clone().requires_grad_(True),))
    # the inputs are left untouched
    assert torch.equal(s, torch.tensor(spot))


def test_torch_float32_follows_input_dtype():
    torch = pytest.importorskip("torch")
    h = torch.zeros(3, 4, dtype=torch.float32, requires_grad=True)
    out = hedging_pnl(np.full((3, 5), 2.0), h, np.zeros(3), cost=0.1)
    assert out.pnl.dtype == torch.float32
    out.pnl.sum().backward()
    assert h.grad.shape == (3, 4)


@pytest.mark.parametrize("kwargs, name", [
    (dict(spot=np.ones((3, 1))), "spot"),
    (dict(spot=np.ones(5)), "spot"),
    (dict(hedge=np.ones((3, 5))), "hedge"),
    (dict(payoff=np.ones(4)), "payoff"),
    (dict(premium=np.ones(2)), "premium"),
    (dict(cost=-0.1), "cost"),
    (dict(cost=float("nan")), "cost"),
    (dict(spot=np.full((3, 5), np.nan)), "spot"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    args = dict(spot=np.ones((3, 5)), hedge=np.ones((3, 4)), payoff=np.ones(3), premium=0.0, cost=0.0)
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=name):
        hedging_pnl(**args)
