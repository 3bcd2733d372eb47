"""qfin.hedging Heston numerics against QuantLib 1.44, on the same work in one run.

1. ``heston_price`` of 21 calls (strikes 70..130, S0 = 100) in two cases: 30 days with vol of vol 1.5 (the hard
   one) and an ordinary 1-year case. qfin prices all 21 in one vectorised call; QuantLib's
   AnalyticHestonEngine(model, 1e-12, 100000) (its Gauss–Lobatto integration at relative tolerance 1e-12) prices
   one NPV per option. The largest price difference between the two is printed.
2. Calibration to the same 15 quotes (5 strikes x 91/182/365 days, Black–Scholes vols of Heston prices at known
   parameters, Feller violated): qfin's ``calibrate_heston`` (bounded least squares on implied-vol errors) against
   QuantLib's HestonModel.calibrate with LevenbergMarquardt on HestonModelHelpers (AnalyticHestonEngine, its
   default implied-vol error), both from the same start; the fitted parameters' largest error is printed.

Timing: interleaved rounds (qfin, then QuantLib, ``ROUNDS`` times after a warm-up of each), best CPU time of each
(``time.process_time``, less sensitive to other processes than wall time; the best wall time is printed too),
with the machine load. ``--json PATH`` writes a list of {"name", "qfin_s", "peer", "peer_s", "ratio", ...}.
Without QuantLib installed the peer is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np

ROUNDS = 7
CASES = {
    "volvol_30d": {"maturity": 30 / 365, "rate": 0.02, "v0": 0.04, "kappa": 1.5, "theta": 0.06, "sigma": 1.5,
                   "rho": -0.8},
    "ordinary_1y": {"maturity": 1.0, "rate": 0.03, "v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 0.3, "rho": -0.7},
}
STRIKES = np.linspace(70.0, 130.0, 21)
TRUE = (0.05, 1.8, 0.06, 0.5, -0.65)  # (v0, kappa, theta, sigma, rho): 2 kappa theta / sigma^2 = 0.864
START = (0.03, 3.0, 0.03, 0.8, -0.3)
CAL_STRIKES = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
CAL_DAYS = np.array([91, 182, 365])
CAL_RATE = 0.02


def interleaved(fns: dict, rounds: int = ROUNDS) -> dict:
    """Best CPU and wall seconds of each function over interleaved rounds, after one warm-up call of each."""
    out = {name: {"cpu": float("inf"), "wall": float("inf"), "value": fn()} for name, fn in fns.items()}
    for _ in range(rounds):
        for name, fn in fns.items():
            c, w = time.process_time(), time.perf_counter()
            out[name]["value"] = fn()
            out[name]["cpu"] = min(out[name]["cpu"], time.process_time() - c)
            out[name]["wall"] = min(out[name]["wall"], time.perf_counter() - w)
    return out


def _ql_world(rate: float):
    import QuantLib as ql
    today = ql.Date(15, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc))
    return ql, today, rts, qts


def quantlib_prices(strikes: np.ndarray, c: dict) -> np.ndarray:
    ql, today, rts, qts = _ql_world(c["rate"])
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


def _have_quantlib() -> bool:
    try:
        import QuantLib  # noqa: F401
    except ImportError:
        print("QuantLib not installed: peer skipped")
        return False
    return True


def bench_pricing(load: str) -> list[dict]:
    from qfin.hedging import heston_price
    rows = []
    peer = _have_quantlib()
    for name, c in CASES.items():
        fns = {"qfin": lambda c=c: heston_price(100.0, STRIKES, **c, warn=False)}
        if peer:
            fns["QuantLib"] = lambda c=c: quantlib_prices(STRIKES, c)
        t = interleaved(fns)
        row = {"name": f"heston_price_{name}_21_strikes", "qfin_s": t["qfin"]["cpu"],
               "qfin_wall_s": t["qfin"]["wall"], "peer": None, "peer_s": None, "ratio": None, "load": load}
        if peer:
            row |= {"peer": "QuantLib 1.44 AnalyticHestonEngine", "peer_s": t["QuantLib"]["cpu"],
                    "peer_wall_s": t["QuantLib"]["wall"], "ratio": t["QuantLib"]["cpu"] / t["qfin"]["cpu"],
                    "max_abs_diff": float(np.max(np.abs(t["qfin"]["value"] - t["QuantLib"]["value"])))}
        rows.append(row)
    return rows


def calibration_quotes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from qfin.hedging import heston_price, implied_vol
    k, days = np.meshgrid(CAL_STRIKES, CAL_DAYS)
    t = days / 365.0
    prices = heston_price(100.0, k, t, CAL_RATE, *TRUE, warn=False)
    return k, t, np.asarray(implied_vol(prices, 100.0, k, t, CAL_RATE))


def qfin_calibration(k, t, vols) -> np.ndarray:
    from qfin.hedging import calibrate_heston
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = calibrate_heston(100.0, k, t, vols, rate=CAL_RATE, quote_type="vol", x0=START)
    p = fit.params
    return np.array([p.v0, p.kappa, p.theta, p.sigma, p.rho])


def quantlib_calibration(k, t, vols) -> np.ndarray:
    ql, _, rts, qts = _ql_world(CAL_RATE)
    v0, kappa, theta, sigma, rho = START
    proc = ql.HestonProcess(rts, qts, ql.QuoteHandle(ql.SimpleQuote(100.0)), v0, kappa, theta, sigma, rho)
    model = ql.HestonModel(proc)
    engine = ql.AnalyticHestonEngine(model)
    helpers = []
    for strike, days, vol in zip(k.ravel(), np.rint(t.ravel() * 365).astype(int), vols.ravel(), strict=True):
        h = ql.HestonModelHelper(ql.Period(int(days), ql.Days), ql.NullCalendar(), 100.0, float(strike),
                                 ql.QuoteHandle(ql.SimpleQuote(float(vol))), rts, qts)
        h.setPricingEngine(engine)
        helpers.append(h)
    model.calibrate(helpers, ql.LevenbergMarquardt(1e-8, 1e-8, 1e-8), ql.EndCriteria(500, 50, 1e-8, 1e-8, 1e-8))
    theta_, kappa_, sigma_, rho_, v0_ = model.params()
    return np.array([v0_, kappa_, theta_, sigma_, rho_])


def bench_calibration(load: str) -> list[dict]:
    k, t, vols = calibration_quotes()
    fns = {"qfin": lambda: qfin_calibration(k, t, vols)}
    peer = _have_quantlib()
    if peer:
        fns["QuantLib"] = lambda: quantlib_calibration(k, t, vols)
    res = interleaved(fns, rounds=3)
    row = {"name": "calibrate_heston_15_quotes", "qfin_s": res["qfin"]["cpu"], "qfin_wall_s": res["qfin"]["wall"],
           "qfin_max_param_error": float(np.max(np.abs(res["qfin"]["value"] - TRUE))), "peer": None,
           "peer_s": None, "ratio": None, "load": load}
    if peer:
        row |= {"peer": "QuantLib 1.44 HestonModel.calibrate (LevenbergMarquardt)", "peer_s": res["QuantLib"]["cpu"],
                "peer_wall_s": res["QuantLib"]["wall"], "ratio": res["QuantLib"]["cpu"] / res["qfin"]["cpu"],
                "peer_max_param_error": float(np.max(np.abs(res["QuantLib"]["value"] - TRUE)))}
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json")
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = bench_pricing(load) + bench_calibration(load)
    for r in rows:
        print(json.dumps(r))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
