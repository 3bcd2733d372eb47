"""qfin.hedging: the deep hedger's training throughput (Adam vs K-FAC).

``train_hedger``: iterations of the LSTM hedger (hidden 32) on 1,024 Heston paths x 30 daily steps with 10 bp
costs and the entropic loss, Adam and K-FAC; throughput in path-steps per second (one torch thread).

Heston pricing and calibration against QuantLib are in bench_heston.py; pfhedge's standard setting (Black–Scholes
call, MLP hedger) is benchmarked in bench_hedging_pfhedge.py.
Best of 3 after one warm-up. ``--json PATH`` writes a list of {"name", "qfin_s", "peer", "peer_s", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import time

REPEATS = 3


def best_of(fn, repeats: int = REPEATS):
    fn()
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


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
    rows = bench_training()
    for r in rows:
        print(json.dumps(r))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
