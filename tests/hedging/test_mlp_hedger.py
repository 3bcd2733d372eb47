"""The MLP deep hedger (pfhedge's MultiLayerPerceptron shape): shape, causality, learning, checkpoints, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qfin.data.simulate import HestonParams, gbm, hedging_pnl
from qfin.errors import QfinError
from qfin.hedging import (
    HedgerConfig,
    HedgingMarket,
    LSTMHedger,
    MLPHedger,
    bs_delta_hedge,
    build_hedger,
    hedge_with,
    no_hedge,
    train_hedger,
)
from qfin.risk import entropic_risk

SIGMA, T = 0.2, 10 / 250
BS = HestonParams(SIGMA ** 2, 1.0, SIGMA ** 2, 1e-8, 0.0)  # vanishing vol of vol: only theta is read


def _market(n_paths: int, seed: int, n_steps: int = 10) -> HedgingMarket:
    """pfhedge's standard underlying (S0 = K = 1, sigma = 0.2, daily steps) over 10 days."""
    s = gbm(1.0, 0.0, SIGMA, T, n_steps, n_paths, seed=seed)
    return HedgingMarket(s, np.full_like(s, SIGMA ** 2), 1.0, T, BS)


def _risk(market: HedgingMarket, hedge: np.ndarray) -> float:
    return float(entropic_risk(hedging_pnl(market.spot, hedge, market.payoff, 0.0, 0.0, liquidate=False).pnl, 1.0))


def test_architecture_is_pfhedge_default_mlp():
    model = MLPHedger()
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 32), (32, 32), (32, 32), (32, 32), (32, 1)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.net) == 4
    assert isinstance(build_hedger(HedgerConfig(model="mlp", hidden=8, layers=2)), MLPHedger)
    assert isinstance(build_hedger(HedgerConfig()), LSTMHedger)  # the default stays the LSTM


def _small_model_and_paths(n_paths: int, seed: int) -> tuple[MLPHedger, torch.Tensor, torch.Tensor]:
    """A seeded 2 x 8 MLPHedger and float32 spot and variance paths of a ``_market``."""
    torch.manual_seed(0)
    m = _market(n_paths, seed=seed)
    return (MLPHedger(hidden=8, layers=2), torch.as_tensor(m.spot, dtype=torch.float32),
            torch.as_tensor(m.variance, dtype=torch.float32))


def test_hedges_have_one_column_per_step_and_match_a_manual_unroll():
    model, spot, var = _small_model_and_paths(5, seed=1)
    with torch.no_grad():
        hedge = model(spot, var, 1.0, T, SIGMA ** 2)
        assert hedge.shape == (5, 10)
        h = torch.zeros(5)
        for i in range(10):  # the features the module docstring names, one date at a time
            feats = torch.stack([torch.log(spot[:, i]) / (SIGMA * T ** 0.5), torch.full((5,), 1 - i / 10),
                                 var[:, i] / SIGMA ** 2, h], dim=1)
            h = model.net(feats)[:, 0]
            torch.testing.assert_close(hedge[:, i], h, rtol=1e-6, atol=1e-6)


def test_hedge_at_t_uses_data_up_to_t_only():
    model, spot, var = _small_model_and_paths(64, seed=2)
    base = model(spot, var, 1.0, T, SIGMA ** 2).detach()
    for t in (0, 4, 9):
        bumped_s, bumped_v = spot.clone(), var.clone()
        bumped_s[:, t + 1:] *= 1.5
        bumped_v[:, t + 1:] *= 3.0
        out = model(bumped_s, bumped_v, 1.0, T, SIGMA ** 2).detach()
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=0)
        if t < 9:
            assert not torch.allclose(out[:, t + 1:], base[:, t + 1:])


def test_training_lowers_entropic_risk_towards_the_delta_hedge():
    train, test = _market(4000, seed=3), _market(20_000, seed=4)
    cfg = HedgerConfig(model="mlp", hidden=16, layers=2, cost=0.0, liquidate=False, lr=0.01, iterations=120,
                       batch_size=512)
    res = train_hedger(train, cfg)
    assert res.stopped is None and len(res.losses) == 120
    risk = _risk(test, hedge_with(res.model, test))
    naked, delta = _risk(test, no_hedge(test)), _risk(test, bs_delta_hedge(test, SIGMA))
    # no costs, zero drift: the BS delta hedge is the entropic optimum up to discrete rebalancing (an independent
    # reference; a net can land a hair below it on a finite sample); the net must close most of the gap to it
    assert risk < naked
    assert abs(risk - delta) < 0.25 * (naked - delta)


def test_kfac_trains_the_mlp():
    cfg = HedgerConfig(model="mlp", hidden=8, layers=2, optimizer="kfac", lr=0.05, iterations=15, batch_size=256,
                       liquidate=False, cost=0.0)
    res = train_hedger(_market(2000, seed=5), cfg)
    assert res.stopped is None and res.losses[-1] < res.losses[0]


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "mlp.pt"
    m = _market(1000, seed=6)
    cfg = HedgerConfig(model="mlp", hidden=8, layers=3, iterations=5, batch_size=128, checkpoint=str(path))
    res = train_hedger(m, cfg)
    saved = torch.load(path, weights_only=True)
    loaded = MLPHedger(cfg.hidden, cfg.layers)
    loaded.load_state_dict(saved)  # strict: the checkpoint has exactly this architecture's tensors
    assert all(bool(torch.isfinite(v).all()) for v in saved.values())
    # the final parameters round-trip too, and give the same hedges
    torch.save(res.model.state_dict(), tmp_path / "final.pt")
    again = MLPHedger(cfg.hidden, cfg.layers)
    again.load_state_dict(torch.load(tmp_path / "final.pt", weights_only=True))
    np.testing.assert_array_equal(hedge_with(again, m), hedge_with(res.model, m))
    # and a checkpoint is a valid starting point for train_hedger
    resumed = train_hedger(m, HedgerConfig(model="mlp", hidden=8, layers=3, iterations=1, batch_size=128), init=saved)
    assert len(resumed.losses) == 1


@pytest.mark.parametrize("field, value, match", [("model", "transformer", "model"), ("layers", 0, "layers")])
def test_bad_model_config(field, value, match):
    with pytest.raises(QfinError, match=match):
        HedgerConfig(**{field: value})


def test_in_place_relu_changes_no_number_and_is_kept_from_kfac():
    torch.manual_seed(3)
    plain, fast = MLPHedger(hidden=8, layers=2), MLPHedger(hidden=8, layers=2, inplace_relu=True)
    fast.load_state_dict(plain.state_dict())
    m = _market(64, seed=5)
    spot = torch.as_tensor(m.spot, dtype=torch.float32)
    var = torch.as_tensor(m.variance, dtype=torch.float32)
    grads = []
    for model in (plain, fast):
        loss = (model(spot, var, 1.0, T, SIGMA ** 2).sum(dim=1) ** 2).mean()
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    relus = lambda model: [m.inplace for m in model.net if isinstance(m, torch.nn.ReLU)]  # noqa: E731
    assert all(relus(build_hedger(HedgerConfig(model="mlp", optimizer="adam"))))
    assert not any(relus(build_hedger(HedgerConfig(model="mlp", optimizer="kfac"))))
