"""The deep-hedging comparison for any claim and instruments: every classical hedge that applies against the LSTM
hedger trained with Adam and with K-FAC, on one test bank of Heston paths, with paired differences over seeds.

What :func:`qfin.hedging.run_hedging_experiment` runs when the config has a ``[payoff]`` table or
``[[instruments]]``. Baselines (Black–Scholes at the ATM implied vol of the Heston model, zero rate; Greeks of the
claim itself from :func:`qfin.hedging._claim_greeks.claim_greeks`, path by path and causal):

- "no hedge";
- "delta": the claim's delta in the underlying;
- "Whalley-Wilmott": the no-trade band (3 cost S Gamma^2 / (2 gamma))^{1/3} around that delta, the claim's gamma;
- "delta + variance swap": the delta plus vega / (2 vol tau) variance swaps (the vega notional: under Heston a
  claim whose value depends on the expected average variance w over tau has dV/dv_t = dV/dw dw/dv_t and the swap
  dVS/dv_t = tau dw/dv_t, so the ratio is dV/dw / tau = vega / (2 vol tau)).

The premium is the claim's Monte Carlo price (:func:`qfin.hedging.mc_price`, control variate, its own 100,000
Heston paths); every P&L comes from :func:`qfin.hedging.portfolio_pnl`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import config_hash, staged_output, strict_json
from ..data.simulate import HestonParams, Vanilla, heston
from ..errors import QfinError, TrainingDivergedError
from ..progress import progress_bar
from ._baselines import HedgingMarket
from ._black_scholes import implied_vol
from ._claim_greeks import claim_greeks
from ._config import ExperimentConfig
from ._deep import hedge_with, hedged_pnl, hedger_for, indifference_price, train_hedger
from ._features import reference_strike
from ._heston import heston_price
from ._instruments import Underlying, VarianceSwap, instrument_name, portfolio_pnl
from ._mc_price import mc_price

__all__ = ["PAIRED_METRICS", "build_claim", "paired_differences", "run_claim_experiment"]

PAIRED_METRICS = ("mean", "std", "cvar_95", "entropic", "costs")
REFERENCE_PATHS = 100_000


def build_claim(cfg: ExperimentConfig) -> Any:
    """The claim of ``cfg``: its ``[payoff]`` table, or the call at ``strike``."""
    return Vanilla(cfg.strike) if cfg.payoff is None else cfg.payoff.build(100.0)


def _market(params: HestonParams, cfg: ExperimentConfig, claim: Any, instruments: tuple, n: int,
            seed: int) -> HedgingMarket:
    t = cfg.maturity_days / 365.0
    s, v = heston(100.0, params=params, maturity=t, n_steps=cfg.maturity_days, n_paths=n, seed=seed,
                  return_variance=True)
    return HedgingMarket(s, v, reference_strike(claim, 100.0), t, params, claim, instruments)


def _baselines(test: HedgingMarket, vol: float, cost: float, ww: float) -> dict[str, np.ndarray]:
    """Positions [n, n_steps, 2] in (underlying, variance swap) of every classical hedge."""
    delta, gamma, vega = claim_greeks(test.claim, test.spot, test.maturity, vol)
    s = test.spot[:, :-1]
    half = (1.5 * cost * s * gamma ** 2 / (ww / s)) ** (1.0 / 3.0) if cost > 0 else np.zeros_like(s)
    band = np.empty_like(delta)
    held = np.zeros(s.shape[0])
    for i in range(delta.shape[1]):
        held = np.clip(held, delta[:, i] - half[:, i], delta[:, i] + half[:, i])
        band[:, i] = held
    swaps = vega / (2.0 * vol * test.tau[None, :])
    zero = np.zeros_like(delta)
    return {"no hedge": np.stack([zero, zero], 2), "delta": np.stack([delta, zero], 2),
            "Whalley-Wilmott": np.stack([band, zero], 2), "delta + variance swap": np.stack([delta, swaps], 2)}


def _metrics(pnl: np.ndarray, costs: np.ndarray, turnover: np.ndarray, lam: float) -> dict[str, float]:
    from ._experiment import pnl_metrics
    return pnl_metrics(pnl, costs, turnover, lam)


def paired_differences(per_seed: dict[str, list[dict[str, float]]], baseline: dict[str, dict[str, float]]
                       ) -> list[dict[str, Any]]:
    """Per metric: LSTM (opt) - each baseline and K-FAC - Adam, mean over seeds and its standard error."""
    rows = []
    pairs = [(f"LSTM ({opt}) - {name}", [m[key] - base[key] for m in per_seed[opt]], key)
             for opt in per_seed for name, base in baseline.items() for key in PAIRED_METRICS]
    pairs += [("LSTM (kfac) - LSTM (adam)", [k[key] - a[key] for k, a in zip(per_seed["kfac"], per_seed["adam"],
                                                                              strict=True)], key)
              for key in PAIRED_METRICS]
    for name, diffs, key in pairs:
        d = np.asarray(diffs)
        se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else None
        rows.append({"difference": name, "metric": key, "mean": float(d.mean()), "std_error": se})
    return rows


def run_claim_experiment(cfg: ExperimentConfig, out_dir: str | Path, params: HestonParams, *,
                         progress: bool = False) -> dict[str, Any]:
    """Train and compare for ``cfg``'s claim and instruments; write ``metrics.json`` and ``report.html``."""
    hcfg = cfg.hedger
    claim = build_claim(cfg)
    instruments = tuple(i.build() for i in cfg.instruments) or (Underlying(),)
    train = _market(params, cfg, claim, instruments, cfg.n_train, 10_000)
    test = _market(params, cfg, claim, instruments, cfg.n_test, 20_000)
    t = test.maturity
    ref_s = heston(100.0, params=params, maturity=t, n_steps=cfg.maturity_days, n_paths=REFERENCE_PATHS,
                   seed=30_000)
    price = mc_price(claim, ref_s, 0.0, t)
    premium = price.value
    atm = heston_price(100.0, 100.0, t, 0.0, params.v0, params.kappa, params.theta, params.sigma, params.rho,
                       warn=False)
    atm_vol = float(implied_vol(atm, 100.0, 100.0, t, 0.0))
    lam, cost = hcfg.risk_aversion, hcfg.cost

    # the classical hedges trade the underlying and a variance swap at the hedger's cost
    pair = HedgingMarket(test.spot, test.variance, test.strike, t, params, claim, (Underlying(), VarianceSwap()))
    results: dict[str, Any] = {}
    pnls: dict[str, np.ndarray] = {}
    try:
        baseline_hedges = _baselines(test, atm_vol, cost, cfg.ww_risk_aversion)
    except QfinError:
        baseline_hedges = {"no hedge": np.zeros((cfg.n_test, test.n_steps, 2))}
    for name, h in baseline_hedges.items():
        pnl, c, turn = portfolio_pnl(pair.prices, h, pair.payoff, premium, [cost, cost], hcfg.liquidate)
        results[name], pnls[name] = _metrics(pnl, c, turn, lam), pnl
    hedges = {name: h[:, :, 0] for name, h in baseline_hedges.items() if name != "no hedge"}

    runs: dict[str, list[dict[str, Any]]] = {"adam": [], "kfac": []}
    total = len(cfg.seeds) * 2 * hcfg.iterations
    with progress_bar(total, f"hedgers ({len(cfg.seeds)} seeds x Adam, K-FAC)", enabled=progress) as advance:
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            init = hedger_for(train, hcfg).state_dict()
            for opt, lr in (("adam", cfg.adam_lr), ("kfac", cfg.kfac_lr)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    res = train_hedger(train, hcfg.replace(optimizer=opt, lr=lr, seed=seed), premium=premium,
                                       init=init, progress=advance)
                if res.stopped:
                    raise TrainingDivergedError(f"hedger ({opt}, lr {lr:g}, seed {seed}) diverged: {res.stopped}; "
                                                f"lower {opt}_lr (nothing was written)")
                hedge = hedge_with(res.model, test)
                pnl, c, turn = hedged_pnl(test, hedge, premium, cost, hcfg.liquidate)
                metrics = _metrics(pnl, c, turn, lam)
                metrics["indifference_price"] = indifference_price(res.model, test, hcfg)
                runs[opt].append({"seed": seed, "metrics": metrics, "losses": res.losses, "seconds": res.seconds})
                if seed == cfg.seeds[0]:
                    pnls[f"LSTM ({opt})"] = pnl
                    hedges[f"LSTM ({opt})"] = hedge if hedge.ndim == 2 else hedge[:, :, 0]
    for opt in runs:
        keys = runs[opt][0]["metrics"].keys()
        results[f"LSTM ({opt})"] = {key: float(np.mean([r["metrics"][key] for r in runs[opt]])) for key in keys}
    from ._experiment import _reach
    speed = []
    for a, k in zip(runs["adam"], runs["kfac"], strict=True):
        target = float(np.mean(a["losses"][-10:]))
        it, sec = _reach(k["losses"], k["seconds"], target)
        speed.append({"seed": a["seed"], "adam_final_loss": target, "adam_iterations": len(a["losses"]),
                      "adam_seconds": a["seconds"][-1], "kfac_iterations_to_reach": it, "kfac_seconds_to_reach": sec})
    baseline_rows = {name: results[name] for name in baseline_hedges}
    paired = paired_differences({opt: [r["metrics"] for r in runs[opt]] for opt in runs}, baseline_rows)
    summary = {"claim": repr(claim), "instruments": [instrument_name(i) for i in instruments],
               "params": asdict(params), "premium": premium, "premium_std_error": price.std_error,
               "atm_vol": atm_vol, "config": cfg.model_dump(mode="json"), "strategies": results, "speed": speed,
               "paired": paired,
               "runs": {opt: [{k: v for k, v in r.items() if k not in ("losses", "seconds")} for r in runs[opt]]
                        for opt in runs}}
    from ._report import write_claim_report
    with staged_output(out_dir, "hedge", spec_hash=config_hash({"config": cfg, "params": params})) as staging:
        (staging / "metrics.json").write_text(strict_json(summary))
        write_claim_report(staging, summary, pnls, hedges, test, runs)
    return summary
