"""qfin.hedging: Heston pricing vs QuantLib, and the deep hedger's training throughput (Adam vs K-FAC).

1. ``heston_price``: 21 strikes x 4 maturities (84 calls, S0 = 100, the 30-day high vol-of-vol case of the tests
   and an ordinary 1-year case), qfin (one vectorised quad_vec call) vs QuantLib's AnalyticHestonEngine
   (relative tolerance 1e-12, one NPV per option), with the largest price difference. Without QuantLib installed
   the peer is skipped with a message.
2. ``train_hedger``: iterations of the LSTM hedger (hidden 32) on 1,024 Heston paths x 30 daily steps with
   10 bp costs and the entropic loss, Adam and K-FAC; throughput in path-steps per second (one torch thread).

pfhedge's standard setting (Black–Scholes call, MLP hedger) is benchmarked in bench_hedging_pfhedge.py.
Best of 3 after one warm-up. ``--json PATH`` writes a list of {"name", "qfin_s", "peer", "peer_s", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

REPEATS = 3
CASES = {
    "volvol_30d": {"maturity": 30 / 365, "rate": 0.02, "v0": 0.04, "kappa": 1.5, "theta": 0.06, "sigma": 1.5,
                   "rho": -0.8},
    "ordinary_1y": {"maturity": 1.0, "rate": 0.03, "v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 0.3, "rho": -0.7},
}


def best_of(fn, repeats: int = REPEATS):
    fn()
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def quantlib_prices(strikes: np.ndarray, c: dict) -> np.ndarray:
    import QuantLib as ql
    today = ql.Date(15, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, c["rate"], dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc))
    proc = ql.HestonProcess(rts, qts, ql.QuoteHandle(ql.SimpleQuote(100.0)), c["v0"], c["kappa"], c["theta"],
                            c["sigma"], c["rho"])
    engine = ql.AnalyticHestonEngine(ql.HestonModel(proc), 1e-12, 100000)
    out = []
    for k in strikes:
        opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, float(k)),
                               ql.EuropeanExercise(today + round(c["maturity"] * 365)))
        opt.setPricingEngine(engine)
        out.append(opt.NPV())
    return np.array(out)


def bench_pricing() -> list[dict]:
    from qfin.hedging import heston_price
    strikes = np.linspace(70.0, 130.0, 21)
    rows = []
    for name, c in CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q_s, q = best_of(lambda c=c: heston_price(100.0, strikes, **c))
        try:
            p_s, p = best_of(lambda c=c: quantlib_prices(strikes, c))
            diff = float(np.max(np.abs(q - p)))
            rows.append({"name": f"heston_price_{name}_21_strikes", "qfin_s": q_s, "peer": "QuantLib", "peer_s": p_s,
                             "ratio": p_s / q_s, "max_abs_diff": diff})
        except ImportError:
            print("QuantLib not installed: peer skipped")
            rows.append({"name": f"heston_price_{name}_21_strikes", "qfin_s": q_s, "peer": None, "peer_s": None,
                         "ratio": None})
    return rows


def bench_training(iterations: int = 10) -> list[dict]:
    import torch

    from qfin.data.simulate import HestonParams, heston
    from qfin.hedging import HedgerConfig, HedgingMarket, train_hedger
    torch.set_num_threads(1)
    p = HestonParams(0.0243, 25.0, 0.0243, 0.556, -0.758)
    s, v = heston(100.0, params=p, maturity=30 / 365, n_steps=30, n_paths=4096, seed=0, return_variance=True)
    market = HedgingMarket(s, v, 100.0, 30 / 365, p)
    rows = []
    for opt, lr in (("adam", 0.005), ("kfac", 0.05)):
        cfg = HedgerConfig(optimizer=opt, lr=lr, iterations=iterations, batch_size=1024)
        secs, _ = best_of(lambda cfg=cfg: train_hedger(market, cfg))
        rows.append({"name": f"train_hedger_{opt}", "qfin_s": secs, "peer": None, "peer_s": None, "ratio": None,
                         "path_steps_per_s": iterations * 1024 * 30 / secs})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = bench_pricing() + bench_training()
    for r in rows:
        print(json.dumps(r))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
