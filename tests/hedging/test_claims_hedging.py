"""Deep hedging beyond one call: any payoff in the market, causal claim-state features, several instruments with
their own costs, Black–Scholes Greeks of path-dependent claims, and the one-line errors of bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.data.simulate import (
    AsianOption,
    BarrierOption,
    HestonParams,
    LookbackOption,
    Spread,
    Vanilla,
    gbm,
    hedging_pnl,
    heston,
)
from qfin.errors import QfinError
from qfin.hedging import (
    BlackScholesModel,
    HedgerConfig,
    HedgingMarket,
    ListedOption,
    Underlying,
    VarianceSwap,
    bs_price,
    hedge_with,
    hedger_for,
    heston_price,
    mc_price,
    portfolio_pnl,
    train_hedger,
)
from qfin.hedging._claim_greeks import barrier_value, claim_greeks
from qfin.hedging._features import state_features

T, N = 20 / 365, 20
HESTON = HestonParams(0.04, 2.0, 0.04, 0.5, -0.7)


def _gbm_market(claim, n=2000, seed=0, instruments=None) -> HedgingMarket:
    s = gbm(100.0, 0.0, 0.2, T, N, n, seed=seed)
    return HedgingMarket(s, np.full_like(s, 0.04), 100.0, T, BlackScholesModel(0.2), claim,
                         (Underlying(),) if instruments is None else instruments)


def _heston_market(claim=None, n=400, seed=0, instruments=None) -> HedgingMarket:
    s, v = heston(100.0, params=HESTON, maturity=T, n_steps=N, n_paths=n, seed=seed, return_variance=True)
    return HedgingMarket(s, v, 100.0, T, HESTON, claim, (Underlying(),) if instruments is None else instruments)


CLAIMS = [LookbackOption(105.0), AsianOption(100.0), AsianOption(100.0, average="geometric"),
          BarrierOption(100.0, 108.0, "up", "out"), BarrierOption(100.0, 94.0, "down", "in", "put")]


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: type(c).__name__)
def test_state_features_use_the_path_up_to_t_only(claim):
    s = gbm(100.0, 0.0, 0.3, T, N, 50, seed=1)
    base = state_features(claim, s, 100.0, 0.05)
    for t in (0, 7, N - 1):
        bumped = s.copy()
        bumped[:, t + 1:] *= np.exp(np.random.default_rng(t).normal(0, 0.2, (50, N - t)))
        np.testing.assert_array_equal(state_features(claim, bumped, 100.0, 0.05)[:, : t + 1], base[:, : t + 1])


def test_state_features_equal_a_date_by_date_loop():
    s = gbm(100.0, 0.0, 0.3, T, N, 20, seed=2)
    look = state_features(LookbackOption(105.0), s, 100.0, 0.05)
    asian = state_features(AsianOption(100.0), s, 100.0, 0.05)
    barrier = state_features(BarrierOption(100.0, 104.0, "up", "out"), s, 100.0, 0.05)
    for i in range(N):
        np.testing.assert_allclose(look[:, i, 0], np.log(s[:, : i + 1].max(1) / 100.0) / 0.05, rtol=1e-12)
        np.testing.assert_allclose(look[:, i, 1], np.log(s[:, : i + 1].min(1) / 100.0) / 0.05, rtol=1e-12)
        mean = s[:, 1: i + 1].mean(1) if i else s[:, 0]
        np.testing.assert_allclose(asian[:, i, 0], np.log(mean / 100.0) / 0.05, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(barrier[:, i, 0], (s[:, : i + 1].max(1) >= 104.0).astype(float))


def test_the_hedger_sees_the_state_and_trades_every_instrument_causally():
    m = _gbm_market(LookbackOption(105.0), n=64, instruments=(Underlying(), ListedOption(cost=0.002),
                                                               ListedOption(110.0, maturity=40 / 365)))
    model = hedger_for(m, HedgerConfig(hidden=8))
    assert model.lstm.input_size == 3 + 2 + 3 and model.head.out_features == 3
    base = hedge_with(model, m)
    assert base.shape == (64, N, 3)
    bumped_spot = m.spot.copy()
    bumped_spot[:, 11:] *= 1.3  # the future from date 11 on
    later = HedgingMarket(bumped_spot, m.variance, 100.0, T, m.params, m.claim, m.instruments)
    out = hedge_with(model, later)
    np.testing.assert_array_equal(out[:, :11], base[:, :11])
    assert not np.allclose(out[:, 11:], base[:, 11:])


def test_portfolio_pnl_adds_each_instruments_gains_and_costs():
    m = _gbm_market(AsianOption(100.0), n=300, instruments=(Underlying(), ListedOption(95.0, cost=0.01),
                                                             ListedOption(cost=0.002)))
    h = np.random.default_rng(0).normal(0.0, 0.5, (300, N, 3))
    costs = m.costs(0.001)
    assert costs == [0.001, 0.01, 0.002]
    pnl, paid, _ = portfolio_pnl(m.prices, h, m.payoff, 1.5, costs)
    p = m.prices
    gains = (h * np.diff(p, axis=1)).sum((1, 2))
    trades = np.abs(np.diff(np.concatenate([np.zeros((300, 1, 3)), h], 1), axis=1)) * p[:, :-1]
    expected_costs = (trades.sum(1) + np.abs(h[:, -1]) * p[:, -1]) @ np.array(costs)
    np.testing.assert_allclose(paid, expected_costs, rtol=1e-12)
    np.testing.assert_allclose(pnl, 1.5 + gains - expected_costs - m.payoff, rtol=1e-10, atol=1e-10)
    # one instrument: exactly the single-underlying P&L
    single = portfolio_pnl(m.prices[:, :, :1], h[:, :, :1], m.payoff, 1.5, [0.001])[0]
    np.testing.assert_array_equal(single, hedging_pnl(m.spot, h[:, :, 0], m.payoff, 1.5, 0.001).pnl)


def test_listed_option_prices_are_the_models_own():
    bs = _gbm_market(Vanilla(100.0), n=50, instruments=(Underlying(), ListedOption(strike=102.0,
                                                                                  maturity=30 / 365)))
    tau = 30 / 365 - np.linspace(0.0, T, N + 1)
    np.testing.assert_allclose(bs.prices[:, :, 1], bs_price(bs.spot, 102.0, tau[None, :], 0.0, 0.2), rtol=1e-12)
    m = _heston_market(n=100, instruments=(Underlying(), ListedOption()))
    prices = m.prices[:, :, 1]
    for i in (0, 10, N - 1):
        ref = heston_price(m.spot[:8, i], 100.0, T - i * T / N, 0.0, m.variance[:8, i], HESTON.kappa,
                           HESTON.theta, HESTON.sigma, HESTON.rho, warn=False)
        np.testing.assert_allclose(prices[:8, i], ref, atol=2e-3)
    np.testing.assert_allclose(prices[:, -1], np.maximum(m.spot[:, -1] - 100.0, 0.0))  # expires with the claim


def test_the_variance_swap_is_a_martingale_under_heston():
    m = _heston_market(n=20_000, seed=5, instruments=(Underlying(), VarianceSwap()))
    vs = m.prices[:, :, 1]
    final = vs[:, -1]
    assert abs(final.mean() - vs[0, 0]) < 4 * final.std() / np.sqrt(final.size)
    np.testing.assert_allclose(final, (np.diff(np.log(m.spot), axis=1) ** 2).sum(1), rtol=1e-12)


@pytest.mark.parametrize("claim", [BarrierOption(100.0, 112.0, "up", "out"), BarrierOption(100.0, 90.0, "down",
                                                                                           "out", "put"),
                                   BarrierOption(100.0, 94.0, "down", "in")], ids=str)
def test_barrier_closed_form_matches_monte_carlo(claim):
    # continuous monitoring: 1,000 dates; the closed form must sit within 4 standard errors (plus the residual
    # discretisation bias that BGK's shift removes to first order)
    s = gbm(100.0, 0.0, 0.25, T, 400, 40_000, seed=7)
    mc = mc_price(claim, s, 0.0, T)
    assert abs(float(barrier_value(claim, 100.0, T, 0.25, T / 400)) - mc.value) < 4 * mc.std_error + 2e-3


@pytest.mark.parametrize("claim", [AsianOption(100.0), LookbackOption(103.0), Spread(98.0, 104.0),
                                   BarrierOption(100.0, 110.0, "up", "out")], ids=lambda c: type(c).__name__)
def test_claim_deltas_match_bumped_monte_carlo_prices(claim):
    s = gbm(100.0, 0.0, 0.2, T, N, 200_000, seed=8)
    delta, gamma, vega = claim_greeks(claim, s[:1], T, 0.2, n_inner=40_000)
    up, down = (mc_price(claim, s * f, 0.0, T, terminal_control=False).value for f in (1.01, 0.99))
    assert delta[0, 0] == pytest.approx((up - down) / 2.0, abs=0.02)
    assert np.isfinite(gamma).all() and np.isfinite(vega).all() and vega[0, 0] > 0


def test_claim_greeks_refuse_what_they_do_not_cover():
    with pytest.raises(QfinError, match="no Black–Scholes delta for .*covered: Vanilla, Spread"):
        claim_greeks(LookbackOption(None), np.full((2, 3), 100.0), T, 0.2)


@pytest.mark.parametrize("make, match", [
    (lambda: _gbm_market(lambda p: p[:, -1:], n=10), r"returned shape \(10, 1\); expected \(10,\)"),
    (lambda: _gbm_market(lambda p: np.where(p[:, -1] > 100, np.nan, 0.0), n=50), "returned a non-finite value"),
    (lambda: _gbm_market(BarrierOption(100.0, 95.0, "up", "out"), n=5), "an up barrier must lie above today's spot"),
    (lambda: _gbm_market(Vanilla(100.0), n=5, instruments=(Underlying(), VarianceSwap())),
     "a variance swap has no price in a BlackScholesModel market"),
    (lambda: _gbm_market(Vanilla(100.0), n=5, instruments=(Underlying(), "swaption")),
     "'swaption' has no price along the paths; accepted: Underlying"),
    (lambda: _gbm_market(Vanilla(100.0), n=5, instruments=(ListedOption(maturity=10 / 365),)),
     r"expires at 0.0274 years, before the hedged claim \(0.05479 years\)"),
    (lambda: _gbm_market(Vanilla(100.0), n=5, instruments=()), "give at least one hedging instrument"),
])
def test_bad_markets_are_one_line_errors(make, match):
    with pytest.raises(QfinError, match=match) as err:
        make()
    assert "\n" not in str(err.value)


def test_training_with_several_instruments_lowers_the_risk():
    m = _heston_market(AsianOption(100.0), n=2000, seed=3, instruments=(Underlying(), VarianceSwap()))
    res = train_hedger(m, HedgerConfig(iterations=25, batch_size=256, hidden=8, lr=0.02), premium=1.2)
    assert res.stopped is None and np.mean(res.losses[-5:]) < np.mean(res.losses[:5])


def test_the_trained_hedgers_indifference_price_is_the_monte_carlo_price():
    """Zero cost, small risk aversion: the entropic indifference price of the trained LSTM hedger of an Asian call
    on GBM paths is its Monte Carlo price (an independent reference: mc_price on 200,000 other paths, terminal spot
    as control) plus the risk premium lambda/2 Var of the hedged P&L (rho(X) = E[-X] + lambda/2 Var(X) + O(lambda^2)).
    Measured: 1.1312 against 1.1209 +- 0.0024, premium 0.0100: 1.1212 after it."""
    from qfin.hedging import indifference_price

    claim = AsianOption(100.0)
    train, test = _gbm_market(claim, n=8000, seed=10), _gbm_market(claim, n=20_000, seed=11)
    cfg = HedgerConfig(loss="entropic", risk_aversion=0.1, cost=0.0, iterations=100, batch_size=1024, hidden=16,
                       lr=0.02)
    res = train_hedger(train, cfg)
    price = indifference_price(res.model, test, cfg)
    ref = mc_price(claim, gbm(100.0, 0.0, 0.2, T, N, 200_000, seed=12), 0.0, T)
    pnl = hedging_pnl(test.spot, hedge_with(res.model, test), test.payoff, 0.0, 0.0).pnl
    assert pnl.std() < 0.35 * test.payoff.std()  # the hedge works (unhedged 1.67, trained 0.45)
    se = np.hypot(pnl.std() / np.sqrt(pnl.size), ref.std_error)
    premium = 0.5 * cfg.risk_aversion * pnl.var()
    assert abs(price - ref.value) < 4 * se + premium
    assert abs(price - premium - ref.value) < 3 * se
