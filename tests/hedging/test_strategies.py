"""Hedging baselines and the deep hedger on small simulated banks (the shared hedging_pnl computes every P&L)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from qfin.data.simulate import HestonParams, gbm, hedging_pnl, heston
from qfin.hedging import (
    HedgerConfig,
    HedgingMarket,
    bs_delta_hedge,
    bs_price,
    hedge_with,
    heston_delta,
    heston_delta_hedge,
    indifference_price,
    min_variance_hedge,
    no_hedge,
    train_hedger,
    variance_swap_prices,
    whalley_wilmott_hedge,
)
from qfin.risk import entropic_risk

PARAMS = HestonParams(0.04, 3.0, 0.04, 0.6, -0.7)
T = 30 / 365


def _gbm_market(n_steps: int, n_paths: int = 4000, seed: int = 0) -> HedgingMarket:
    s = gbm(100.0, mu=0.0, sigma=0.2, maturity=T, n_steps=n_steps, n_paths=n_paths, seed=seed)
    return HedgingMarket(s, np.full_like(s, 0.04), 100.0, T, PARAMS)


@pytest.fixture(scope="module")
def heston_market():
    s, v = heston(100.0, params=PARAMS, maturity=T, n_steps=6, n_paths=4000, seed=5, return_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delta, dc_dv = heston_delta_hedge(HedgingMarket(s, v, 100.0, T, PARAMS))
    return HedgingMarket(s, v, 100.0, T, PARAMS), delta, dc_dv


def test_bs_delta_hedging_error_shrinks_like_one_over_sqrt_steps():
    premium = bs_price(100.0, 100.0, T, 0.0, 0.2)
    stds = []
    for n in (8, 32):
        m = _gbm_market(n)
        stds.append(hedging_pnl(m.spot, bs_delta_hedge(m, 0.2), m.payoff, premium).pnl.std())
    unhedged = hedging_pnl(m.spot, no_hedge(m), m.payoff, premium).pnl.std()
    assert stds[1] < 0.2 * unhedged
    assert stds[0] / stds[1] == pytest.approx(2.0, rel=0.2)  # Boyle & Emanuel (1980): error ~ 1/sqrt(n)


def test_grid_heston_delta_matches_the_direct_formula(heston_market):
    market, delta, _ = heston_market
    rows = np.arange(0, 4000, 800)
    direct = heston_delta(market.spot[rows, 4], 100.0, market.tau[4], 0.0, market.variance[rows, 4], PARAMS.kappa,
                          PARAMS.theta, PARAMS.sigma, PARAMS.rho, warn=False)
    np.testing.assert_allclose(delta[rows, 4], direct, atol=2e-3)


def test_min_variance_delta_beats_heston_delta_in_variance(heston_market):
    market, delta, dc_dv = heston_market
    premium = 0.0
    var_delta = hedging_pnl(market.spot, delta, market.payoff, premium).pnl.var()
    var_mv = hedging_pnl(market.spot, min_variance_hedge(market, delta, dc_dv), market.payoff, premium).pnl.var()
    assert var_mv < 0.95 * var_delta  # rho = -0.7: the vega correction removes part of the variance risk


def test_variance_swap_marks_are_a_martingale(heston_market):
    market, _, _ = heston_market
    vs = variance_swap_prices(market)
    change = vs[:, -1] - vs[:, 0]
    assert abs(change.mean()) < 3 * change.std() / math.sqrt(change.size)
    assert np.all(vs[:, 0] == pytest.approx(PARAMS.theta * T + (PARAMS.v0 - PARAMS.theta) *
                                            (1 - math.exp(-PARAMS.kappa * T)) / PARAMS.kappa))


def test_whalley_wilmott_band_trades_less_than_delta():
    m = _gbm_market(30, n_paths=1000)
    bs = bs_delta_hedge(m, 0.2)
    ww = whalley_wilmott_hedge(m, 0.2, cost=0.001, risk_aversion=100.0)
    turn = [hedging_pnl(m.spot, h, m.payoff, 0.0, 0.001).turnover.mean() for h in (bs, ww)]
    assert turn[1] < turn[0]
    np.testing.assert_array_equal(whalley_wilmott_hedge(m, 0.2, cost=0.0), bs)


def test_lstm_hedger_learns_and_prices(heston_market):
    market, _, _ = heston_market
    cfg = HedgerConfig(iterations=40, batch_size=256, hidden=8, lr=0.02, cost=0.001)
    res = train_hedger(market, cfg)
    assert np.mean(res.losses[-5:]) < 0.5 * res.losses[0]
    hedge = hedge_with(res.model, market)
    assert hedge.shape == (4000, 6)
    price = indifference_price(res.model, market, cfg)
    pnl0 = hedging_pnl(market.spot, hedge, market.payoff, 0.0, 0.001).pnl
    # cash invariance: selling at the indifference price leaves zero entropic risk
    assert entropic_risk(pnl0 + price, 1.0) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("loss", ["cvar", "mean_variance"])
def test_other_losses_and_kfac_run(heston_market, loss):
    market, _, _ = heston_market
    cfg = HedgerConfig(loss=loss, optimizer="kfac", iterations=15, batch_size=256, hidden=8, lr=0.05)
    res = train_hedger(market, cfg)
    assert len(res.losses) == 15 and res.stopped is None
    assert res.losses[-1] < res.losses[0]
    if loss == "cvar":
        assert res.threshold is not None and float(res.threshold.detach()) != 0.0


def test_non_finite_training_stops_and_keeps_last_good_checkpoint(heston_market, tmp_path, monkeypatch):
    import qfin.hedging._deep as deep
    market, _, _ = heston_market
    calls = []
    real_loss = deep.hedger_loss

    def loss_going_nan(pnl, config, threshold=None):  # a loss that blows up at iteration 7
        calls.append(1)
        out = real_loss(pnl, config, threshold)
        return out * float("nan") if len(calls) == 8 else out

    monkeypatch.setattr(deep, "hedger_loss", loss_going_nan)
    path = tmp_path / "hedger.pt"
    cfg = HedgerConfig(iterations=40, batch_size=64, hidden=4, checkpoint=str(path))
    with pytest.warns(RuntimeWarning, match="non-finite loss at iteration 7"):
        res = train_hedger(market, cfg)
    assert len(res.losses) == 7 and "iteration 6" in res.stopped
    assert all(bool(torch.isfinite(p).all()) for p in res.model.parameters())
    saved = torch.load(path, weights_only=True)
    assert all(bool(torch.isfinite(v).all()) for v in saved.values())


def test_bad_config():
    with pytest.raises(Exception, match="loss"):
        HedgerConfig(loss="utility")
