"""The jobs `qfin tune` can search over (layer 4: the registry that imports capability code; qfin.parallel, in
layer 0, only runs what it is handed).

- ``sweep``: one backtest point of a spec's strategy (``spec``, optional ``strategy``; every other key is a
  parameter of that strategy, checked by its params model); one iteration reporting every backtest metric.
- ``hedger``: the deep hedger on Heston paths, trained in rounds of ``iterations_per_round`` mini-batch steps; after
  each round it reports the validation bank's P&L figures (entropic risk, mean, std, CVaR 95) and the round's mean
  training loss, so ASHA can stop a poor trial after a round or two. A round starts from the last round's weights
  with a fresh optimiser (its own batch seed): the state a checkpoint holds is the weights and the round, so a
  trial restarted from its checkpoint computes exactly what it would have computed unstopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qfin.parallel._tune import IterativeJob

__all__ = ["JOBS"]

BACKTEST_METRICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "cvar_95",
                    "turnover")
HEDGER_METRICS = ("entropic", "mean", "std", "cvar_95", "loss")


def sweep_point(config: dict[str, Any], seed: int, state: dict[str, Any] | None
                ) -> Iterator[tuple[dict[str, float], dict[str, Any]]]:
    """One grid point of ``config["spec"]`` (a backtest spec path) as one iteration; ``seed`` is unused (a
    backtest is deterministic)."""
    from qfin.backtests import load_spec, run_sweep

    config = dict(config)
    spec = load_spec(config.pop("spec"))
    strategy = config.pop("strategy", None)
    result = run_sweep(spec, {key: [value] for key, value in config.items()}, strategy=strategy, n_workers=1,
                       progress=False)
    row = result.rows[0]
    yield {m: float("nan") if row[m] is None else float(row[m]) for m in BACKTEST_METRICS}, {}


HEDGER_DEFAULTS: dict[str, Any] = {
    "maturity_days": 10, "strike": 100.0, "n_train": 2048, "n_val": 1024, "iterations_per_round": 10,
    "optimizer": "adam", "lr": 0.005, "hidden": 16, "layers": 2, "model": "lstm", "batch_size": 256,
    "risk_aversion": 1.0, "cost": 0.001, "v0": 0.04, "kappa": 3.0, "theta": 0.04, "sigma": 0.6, "rho": -0.7,
}
_FLOATS = ("strike", "lr", "risk_aversion", "cost", "v0", "kappa", "theta", "sigma", "rho")


def hedger_rounds(config: dict[str, Any], seed: int, state: dict[str, Any] | None
                  ) -> Iterator[tuple[dict[str, float], dict[str, Any]]]:
    """Rounds of deep-hedger training (module docstring); ``state`` = {"round", "weights"} to go on from."""
    import numpy as np
    import torch

    from qfin.data.simulate import HestonParams, hedging_pnl, heston
    from qfin.errors import TrainingDivergedError
    from qfin.hedging import HedgerConfig, HedgingMarket, build_hedger, hedge_with, heston_price, pnl_metrics
    from qfin.hedging import train_hedger as fit

    c = {**config, **{k: float(config[k]) for k in _FLOATS}}
    params = HestonParams(c["v0"], c["kappa"], c["theta"], c["sigma"], c["rho"])
    days, t = int(c["maturity_days"]), int(c["maturity_days"]) / 365.0

    def market(n: int, offset: int) -> HedgingMarket:
        s, v = heston(100.0, params=params, maturity=t, n_steps=days, n_paths=int(n), seed=offset + seed,
                      return_variance=True)
        return HedgingMarket(s, v, c["strike"], t, params)

    train, val = market(c["n_train"], 10_000), market(c["n_val"], 20_000)
    premium = heston_price(100.0, c["strike"], t, 0.0, params.v0, params.kappa, params.theta, params.sigma,
                           params.rho, warn=False)
    hcfg = HedgerConfig(optimizer=c["optimizer"], lr=c["lr"], hidden=int(c["hidden"]), layers=int(c["layers"]),
                        model=c["model"], batch_size=int(c["batch_size"]), risk_aversion=c["risk_aversion"],
                        cost=c["cost"], iterations=int(c["iterations_per_round"]))
    if state is None:
        torch.manual_seed(seed)
        weights, done = build_hedger(hcfg).state_dict(), 0
    else:
        weights = {k: torch.from_numpy(np.array(v)) for k, v in state["weights"].items()}
        done = int(state["round"])
    while True:
        result = fit(train, hcfg.replace(seed=seed * 7919 + done), premium=premium, init=weights)
        if result.stopped:
            raise TrainingDivergedError(f"hedger (lr {c['lr']:g}, round {done}) diverged: {result.stopped}")
        r = hedging_pnl(val.spot, hedge_with(result.model, val), val.payoff, premium, hcfg.cost, hcfg.liquidate)
        figures = pnl_metrics(r.pnl, r.costs, r.turnover, hcfg.risk_aversion)
        done += 1
        weights = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
        yield ({**{m: figures[m] for m in HEDGER_METRICS if m != "loss"}, "loss": float(np.mean(result.losses))},
               {"round": done, "weights": {k: v.numpy() for k, v in weights.items()}})


JOBS: dict[str, IterativeJob] = {
    "sweep": IterativeJob("sweep", sweep_point, BACKTEST_METRICS, {"spec": None, "strategy": None},
                          "one backtest point of a spec's strategy ([config] spec = path; [space] its parameters)",
                          open_keys=True),
    "hedger": IterativeJob("hedger", hedger_rounds, HEDGER_METRICS, HEDGER_DEFAULTS,
                           "the deep hedger on Heston paths, validation P&L after each round of training"),
}
