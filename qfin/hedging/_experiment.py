"""Adam vs K-FAC deep hedging experiment on calibrated Heston paths, with every baseline on one test bank.

The function a ``qfin hedge train|report`` command would call: :func:`run_hedging_experiment` trains the LSTM
hedger with Adam and with K-FAC from the same initialisation on the same training paths for each seed,
evaluates all strategies on one fixed bank of test paths and writes ``metrics.json`` and ``report.html``. A config
with a ``[payoff]`` table or ``[[instruments]]`` runs :func:`qfin.hedging._claims.run_claim_experiment` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import check_output_dir, config_hash, staged_output, strict_json
from ..data.simulate import HestonParams, hedging_pnl, heston
from ..errors import TrainingDivergedError
from ..progress import progress_bar
from ..risk import entropic_risk, expected_shortfall, sharpe_ratio
from ._baselines import (
    HedgingMarket,
    bs_delta_hedge,
    delta_vega_swap_hedge,
    heston_delta_hedge,
    min_variance_hedge,
    no_hedge,
    variance_swap_prices,
    whalley_wilmott_hedge,
)
from ._black_scholes import implied_vol
from ._calibration import heston_from_history
from ._config import ExperimentConfig
from ._deep import (
    hedge_with,
    hedger_for,
    indifference_price,
    train_hedger,
)
from ._heston import heston_price

__all__ = ["ExperimentConfig", "historical_heston", "pnl_metrics", "run_hedging_experiment"]


def historical_heston() -> HestonParams:
    """Heston parameters from the shipped sp500_index closes and VIX (v0 set to theta: a neutral start)."""
    from ..data import load_dataset
    joined = load_dataset("sp500_index").select("timestamp", "close").join(load_dataset("vix"), on="timestamp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = heston_from_history(joined["close"].to_numpy(), joined["VIX"].to_numpy())
    return HestonParams(p.theta, p.kappa, p.theta, p.sigma, p.rho)


def pnl_metrics(pnl: np.ndarray, costs: np.ndarray, turnover: np.ndarray, risk_aversion: float) -> dict[str, float]:
    """mean, std, var, CVaR 95/99 (positive losses), entropic risk, mean costs and turnover, and ``pnl_sharpe``:
    the P&L's mean over its standard deviation across paths (one period, not annualised)."""
    std = float(pnl.std(ddof=1))
    return {"mean": float(pnl.mean()), "std": std, "var": std ** 2, "cvar_95": float(expected_shortfall(pnl, 0.95)),
            "cvar_99": float(expected_shortfall(pnl, 0.99)), "entropic": float(entropic_risk(pnl, risk_aversion)),
            "costs": float(costs.mean()), "turnover": float(turnover.mean()),
            "pnl_sharpe": float(sharpe_ratio(pnl, periods_per_year=1))}


def _market(params: HestonParams, cfg: ExperimentConfig, n: int, seed: int) -> HedgingMarket:
    t = cfg.maturity_days / 365.0
    s, v = heston(100.0, params=params, maturity=t, n_steps=cfg.maturity_days, n_paths=n, seed=seed,
                  return_variance=True)
    return HedgingMarket(s, v, cfg.strike, t, params)


def _reach(losses: list[float], seconds: list[float], target: float,
           window: int = 10) -> tuple[int | None, float | None]:
    """First iteration (1-based) whose trailing mean loss over ``window`` iterations is <= target."""
    arr = np.asarray(losses)
    for i in range(window, arr.size + 1):
        if arr[i - window:i].mean() <= target:
            return i, seconds[i - 1]
    return None, None


def _premium(params: HestonParams, cfg: ExperimentConfig) -> float:
    return heston_price(100.0, cfg.strike, cfg.maturity_days / 365.0, 0.0, params.v0, params.kappa, params.theta,
                        params.sigma, params.rho, warn=False)


def _evaluate(test: HedgingMarket, premium: float, cfg: ExperimentConfig, hedge: np.ndarray):
    h = cfg.hedger
    r = hedging_pnl(test.spot, hedge, test.payoff, premium, h.cost, h.liquidate)
    return pnl_metrics(r.pnl, r.costs, r.turnover, h.risk_aversion), r.pnl


def _fit_hedger(train: HedgingMarket, test: HedgingMarket, premium: float, cfg: ExperimentConfig, opt: str,
                lr: float, seed: int, progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """One run of the comparison: the seed's initialisation trained with ``opt``, evaluated on the test bank
    (``progress`` is called after every training iteration)."""
    hcfg = cfg.hedger
    torch.manual_seed(seed)
    init = hedger_for(train, hcfg).state_dict()  # the configured model (LSTM or MLP), the same for both optimisers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a stop is raised by the caller, as one line
        res = train_hedger(train, hcfg.replace(optimizer=opt, lr=lr, seed=seed), premium=premium, init=init,
                           progress=progress)
    if res.stopped:
        return {"stopped": res.stopped}
    hedge = hedge_with(res.model, test)
    metrics, pnl = _evaluate(test, premium, cfg, hedge)
    metrics["indifference_price"] = indifference_price(res.model, test, hcfg)
    return {"stopped": None, "metrics": metrics, "losses": res.losses, "seconds": res.seconds, "hedge": hedge,
            "pnl": pnl}


def _local_runs(train: HedgingMarket, test: HedgingMarket, premium: float, cfg: ExperimentConfig, tasks: list,
                progress: bool) -> Iterator[dict[str, Any]]:
    """The runs one after another in this process, under one progress bar of all their iterations."""
    total = len(tasks) * cfg.hedger.iterations
    with progress_bar(total, f"hedgers ({len(tasks)} runs: seeds x Adam, K-FAC)", enabled=progress) as advance:
        for (_, _, opt, lr), seed in tasks:
            yield _fit_hedger(train, test, premium, cfg, opt, lr, seed, advance)


def hedger_run(config: tuple[ExperimentConfig, HestonParams, str, float], seed: int) -> dict[str, Any]:
    """A qfin.parallel job of (config, seed): ``config`` = (experiment, Heston parameters, optimiser, lr). The
    worker simulates the same training and test paths itself (their seeds are fixed), so nothing large travels."""
    cfg, params, opt, lr = config
    return _fit_hedger(_market(params, cfg, cfg.n_train, 10_000), _market(params, cfg, cfg.n_test, 20_000),
                       _premium(params, cfg), cfg, opt, lr, seed)


def run_hedging_experiment(cfg: ExperimentConfig, out_dir: str | Path, params: HestonParams | None = None, *,
                           backend: str = "local", n_workers: int | None = 1, address: str | None = None,
                           progress: bool = False) -> dict[str, Any]:
    """Train Adam and K-FAC hedgers per seed, evaluate every strategy on one test bank, write JSON + HTML.

    ``out_dir`` receives ``metrics.json`` and ``report.html`` together once everything is computed (staged and
    renamed: an interrupted run leaves no partial folder; only an empty folder or an earlier hedge output is
    replaced, :func:`qfin.data.staged_output`). ``out_dir`` is checked before the training starts. The seeds x
    optimisers runs go through :func:`qfin.parallel.run_jobs` on ``backend`` (``n_workers=1``, the default: one
    after another in this process); every backend gives the same numbers."""
    check_output_dir(out_dir, "hedge")
    params = params or historical_heston()
    if cfg.payoff is not None or cfg.instruments:  # any claim, several instruments: qfin.hedging._claims
        from ._claims import run_claim_experiment
        return run_claim_experiment(cfg, out_dir, params, progress=progress)
    hcfg = cfg.hedger
    train = _market(params, cfg, cfg.n_train, 10_000)
    test = _market(params, cfg, cfg.n_test, 20_000)
    t = test.maturity
    premium = _premium(params, cfg)
    atm_vol = implied_vol(premium, 100.0, cfg.strike, t, 0.0)
    lam, cost = hcfg.risk_aversion, hcfg.cost

    def evaluate(hedge: np.ndarray) -> dict[str, float]:
        return _evaluate(test, premium, cfg, hedge)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delta, dc_dv = heston_delta_hedge(test)
    results: dict[str, Any] = {}
    pnls: dict[str, np.ndarray] = {}
    hedges: dict[str, np.ndarray] = {"BS delta": bs_delta_hedge(test, atm_vol), "Heston delta": delta}
    for name, hedge in [("no hedge", no_hedge(test)), ("BS delta", hedges["BS delta"]), ("Heston delta", delta),
                        ("min-variance delta", min_variance_hedge(test, delta, dc_dv)),
                        ("Whalley-Wilmott", whalley_wilmott_hedge(test, atm_vol, cost, cfg.ww_risk_aversion))]:
        results[name], pnls[name] = evaluate(hedge)
    # delta + variance swap: a second instrument; its P&L (costs at the same rate) adds to the delta-hedged P&L
    vs = variance_swap_prices(test)
    leg = hedging_pnl(vs, delta_vega_swap_hedge(test, delta, dc_dv), np.zeros(cfg.n_test), 0.0, cost, hcfg.liquidate)
    base = hedging_pnl(test.spot, delta, test.payoff, premium, cost, hcfg.liquidate)
    results["delta + variance swap"] = pnl_metrics(base.pnl + leg.pnl, base.costs + leg.costs,
                                                   base.turnover + leg.turnover, lam)
    pnls["delta + variance swap"] = base.pnl + leg.pnl

    runs: dict[str, list[dict[str, Any]]] = {"adam": [], "kfac": []}
    tasks = [((cfg, params, opt, lr), seed) for seed in cfg.seeds
             for opt, lr in (("adam", cfg.adam_lr), ("kfac", cfg.kfac_lr))]
    if backend == "local" and n_workers == 1:  # in this process, on the paths already simulated
        outcomes = _local_runs(train, test, premium, cfg, tasks, progress)
    else:
        from .. import parallel

        outcomes = parallel.run_jobs(hedger_run, tasks, backend=backend, n_workers=n_workers, address=address,
                                     progress=progress, description="hedgers (seeds x optimisers)")
    for ((_, _, opt, lr), seed), res in zip(tasks, outcomes, strict=True):
        if res["stopped"]:
            raise TrainingDivergedError(f"hedger ({opt}, lr {lr:g}, seed {seed}) diverged: {res['stopped']}; lower "
                                        f"{opt}_lr (nothing was written)")
        runs[opt].append({"seed": seed, "metrics": res["metrics"], "losses": res["losses"],
                          "seconds": res["seconds"]})
        if seed == cfg.seeds[0]:
            pnls[f"LSTM ({opt})"] = res["pnl"]
            hedges[f"LSTM ({opt})"] = res["hedge"]
    speed = []
    for a, k in zip(runs["adam"], runs["kfac"], strict=True):
        target = float(np.mean(a["losses"][-10:]))
        it, sec = _reach(k["losses"], k["seconds"], target)
        speed.append({"seed": a["seed"], "adam_final_loss": target, "adam_iterations": len(a["losses"]),
                          "adam_seconds": a["seconds"][-1], "kfac_iterations_to_reach": it,
                          "kfac_seconds_to_reach": sec,
                          "kfac_seconds_per_iteration": k["seconds"][-1] / len(k["losses"]),
                          "adam_seconds_per_iteration": a["seconds"][-1] / len(a["losses"])})
    for opt in ("adam", "kfac"):
        keys = runs[opt][0]["metrics"].keys()
        results[f"LSTM ({opt})"] = {key: float(np.mean([r["metrics"][key] for r in runs[opt]])) for key in keys}
    from scipy.stats import ttest_rel
    ent = {opt: [r["metrics"]["entropic"] for r in runs[opt]] for opt in runs}
    paired = {"entropic_adam": ent["adam"], "entropic_kfac": ent["kfac"],
                  "p_value": float(ttest_rel(ent["kfac"], ent["adam"]).pvalue) if len(cfg.seeds) > 1 else None}
    summary = {"params": asdict(params), "premium": premium, "atm_vol": float(atm_vol),
                   "config": dict(hcfg.model_dump(), maturity_days=cfg.maturity_days, n_train=cfg.n_train,
                               n_test=cfg.n_test, seeds=list(cfg.seeds), adam_lr=cfg.adam_lr, kfac_lr=cfg.kfac_lr),
                   "strategies": results, "speed": speed, "paired_entropic": paired,
                   "runs": {opt: [{k: v for k, v in r.items() if k not in ("losses", "seconds")} for r in runs[opt]]
                         for opt in runs}}
    with staged_output(out_dir, "hedge", spec_hash=config_hash({"config": cfg, "params": params})) as staging:
        (staging / "metrics.json").write_text(strict_json(summary))
        _report(staging, summary, pnls, hedges, test, runs)
    return summary


def _report(out: Path, summary: dict, pnls: dict, hedges: dict, test: HedgingMarket, runs: dict) -> None:
    from ._report import write_report

    write_report(out, summary, pnls, hedges, test, runs)
