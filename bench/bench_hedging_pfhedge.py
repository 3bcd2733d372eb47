"""qfin's MLP deep hedger vs pfhedge 0.23.0 on pfhedge's standard setting, on the same paths and budget.

Setting: pfhedge's defaults (``EuropeanOption(BrownianStock())``: S0 = 1, sigma = 0.2, mu = 0, dt = 1/250, a call
with strike 1 and maturity 20/250, so 20 rebalancing dates), its ``MultiLayerPerceptron()`` (4 hidden layers of
32, ReLU) with the inputs of its examples (``log_moneyness, expiry_time, volatility, prev_hedge``), and
``EntropicRiskMeasure()`` (risk aversion 1). Budget of its ``examples/example_multi_layer_perceptrons.py``:
200 Adam steps on 10,000 paths each, at torch's default learning rate 1e-3, which is what ``Hedger.fit`` uses.
Two cost rates: none (the default) and 10 bp.

- qfin: ``train_hedger(market, HedgerConfig(model="mlp", loss="entropic", liquidate=False, lr=1e-3, ...))``.
  ``liquidate=False`` because pfhedge charges no cost on the final sale; both charge the first purchase.
- pfhedge: ``Hedger(MultiLayerPerceptron(), inputs).fit(derivative, n_paths=10_000, n_epochs=200,
  optimizer=Adam(lr=1e-3), validation=False)``. ``validation=False`` leaves out fit's default extra forward pass
  per epoch (a fresh no-grad loss for the progress bar), so both time the same work: forward, backward, Adam.

Same paths: one bank of training paths is simulated once with ``qfin.data.simulate.gbm`` (float64, cast to
float32 as both nets run in float32). qfin's ``train_hedger`` draws each mini-batch from it with
``torch.randint`` on a ``torch.Generator`` seeded with ``config.seed``; pfhedge gets the very same batches from a
``BrownianStock`` subclass whose ``simulate`` registers the next batch as its ``spot`` buffer (the buffer its
``simulate`` would have filled) instead of drawing new paths. pfhedge's files are unchanged; it installs with
``pip install --no-deps pfhedge==0.23.0`` (it pins numpy<2 but never imports numpy; it needs torch and tqdm).

Reported: training throughput in path-steps per second (iterations x batch x 20 / wall seconds of the whole
training call, one torch thread; best of 3 runs of 20 steps, the two libraries alternating, after an untimed
warm-up), the ratio qfin / pfhedge, the wall time of the full 200-step training, and the entropic risk and P&L
standard deviation of the trained hedgers on one held-out bank of 100,000 paths, every P&L computed by
``qfin.data.simulate.hedging_pnl`` in float64 from each library's hedge ratios (after checking that pfhedge's own
``compute_pl`` gives the same P&L), with the Black–Scholes delta hedge and no hedge for context. At S0 = 1 the
entropic risk with risk aversion 1 is close to the mean loss (about the option price, 0.0226) plus half the P&L
variance, so it separates the hedges by little; the standard deviation shows more.
``--json PATH`` writes a list of {"name", "qfin_s", "peer", "peer_s", "ratio"} (ratio = peer / qfin seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

S0, SIGMA, STRIKE, N_STEPS = 1.0, 0.2, 1.0, 20
MATURITY = N_STEPS / 250
RISK_AVERSION = 1.0
ITERATIONS, BATCH, LR = 200, 10_000, 1e-3
TIMING_ITERATIONS, REPEATS = 20, 3
N_TRAIN, N_TEST = 200_000, 100_000
COSTS = (0.0, 0.001)
INPUTS = ["log_moneyness", "expiry_time", "volatility", "prev_hedge"]
SEED = 0


def batches(bank, n_batches: int, seed: int) -> Iterator:
    """The mini-batches qfin's train_hedger draws from ``bank`` with ``HedgerConfig(seed=seed)``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    for _ in range(n_batches):
        yield bank[torch.randint(0, bank.shape[0], (BATCH,), generator=gen)]


def bank_stock(cost: float, source: Iterator):
    """pfhedge's BrownianStock whose ``simulate`` serves the next path batch of ``source`` instead of new paths."""
    from pfhedge.instruments import BrownianStock

    class BankStock(BrownianStock):
        def simulate(self, n_paths: int = 1, time_horizon: float = MATURITY, init_state=None) -> None:
            spot = next(source)
            if spot.shape != (n_paths, N_STEPS + 1):
                raise RuntimeError(f"BankStock: asked for {n_paths} paths, has a batch of shape {tuple(spot.shape)}")
            self.register_buffer("spot", spot)

    return BankStock(sigma=SIGMA, cost=cost, dt=1 / 250)


def train_pfhedge(bank, cost: float, iterations: int):
    """pfhedge's standard MLP hedger trained by ``Hedger.fit`` on qfin's batches; returns (hedger, derivative, s)."""
    import torch
    from pfhedge.instruments import EuropeanOption
    from pfhedge.nn import EntropicRiskMeasure, Hedger, MultiLayerPerceptron

    torch.manual_seed(SEED)
    source = batches(bank, iterations, SEED)
    derivative = EuropeanOption(bank_stock(cost, source), strike=STRIKE, maturity=MATURITY)
    hedger = Hedger(MultiLayerPerceptron(), INPUTS, criterion=EntropicRiskMeasure(a=RISK_AVERSION))
    # materialise the LazyLinear layers on one path, so that Adam is built here and fit draws no extra batch
    derivative.ul().register_buffer("spot", bank[:1])
    with torch.no_grad():
        hedger.compute_pl(derivative)
    optimizer = torch.optim.Adam(hedger.parameters(), lr=LR)
    start = time.perf_counter()
    hedger.fit(derivative, n_epochs=iterations, n_paths=BATCH, optimizer=optimizer, validation=False,
               verbose=False)
    return hedger, derivative, time.perf_counter() - start


def pfhedge_hedge(hedger, derivative, spot: np.ndarray, cost: float) -> np.ndarray:
    """pfhedge's hedge ratios [n_paths, N_STEPS] on ``spot``, checked against its own P&L."""
    import torch

    from qfin.data.simulate import hedging_pnl

    derivative.ul().register_buffer("spot", torch.as_tensor(spot, dtype=torch.float32))
    with torch.no_grad():
        unit = hedger.compute_hedge(derivative)[:, 0, :-1]  # its last column repeats the one before
        theirs = hedger.compute_pl(derivative).double().numpy()
    hedge = unit.double().numpy()
    payoff = np.maximum(spot[:, -1] - STRIKE, 0.0)
    ours = hedging_pnl(spot, hedge, payoff, 0.0, cost, liquidate=False).pnl
    if not np.allclose(ours, theirs, atol=1e-5):
        sys.exit(f"pfhedge's compute_pl and qfin's hedging_pnl disagree (max diff "
                 f"{np.abs(ours - theirs).max():.2e}): the P&L conventions differ")
    return hedge


def train_qfin(train: np.ndarray, cost: float, iterations: int):
    """qfin's MLP hedger trained by ``train_hedger``; returns (result, seconds)."""
    from qfin.hedging import HedgerConfig, train_hedger

    cfg = HedgerConfig(model="mlp", loss="entropic", risk_aversion=RISK_AVERSION, cost=cost, liquidate=False,
                       optimizer="adam", lr=LR, iterations=iterations, batch_size=BATCH, hidden=32, layers=4,
                       seed=SEED)
    market = _market(train)
    start = time.perf_counter()
    res = train_hedger(market, cfg)
    return res, time.perf_counter() - start


def bench_cost(cost: float, train: np.ndarray, test_market, bank) -> dict:
    from qfin.data.simulate import hedging_pnl
    from qfin.hedging import bs_delta_hedge, hedge_with, no_hedge
    from qfin.risk import entropic_risk

    # throughput: the two alternate, best of REPEATS short runs each (the box is shared; alternating spreads the
    # load over both)
    qfin_s = peer_s = float("inf")
    for _ in range(REPEATS):
        qfin_s = min(qfin_s, train_qfin(train, cost, TIMING_ITERATIONS)[1])
        peer_s = min(peer_s, train_pfhedge(bank, cost, TIMING_ITERATIONS)[2])
    # risk: the full budget
    res, qfin_full_s = train_qfin(train, cost, ITERATIONS)
    hedger, derivative, peer_full_s = train_pfhedge(bank, cost, ITERATIONS)

    spot, payoff = test_market.spot, test_market.payoff

    pnls = {name: hedging_pnl(spot, hedge, payoff, 0.0, cost, liquidate=False).pnl for name, hedge in (
        ("qfin MLP", hedge_with(res.model, test_market)),
        ("pfhedge MLP", pfhedge_hedge(hedger, derivative, spot, cost)),
        ("BS delta", bs_delta_hedge(test_market, SIGMA)),
        ("no hedge", no_hedge(test_market)))}
    risks = {name: float(entropic_risk(pnl, RISK_AVERSION)) for name, pnl in pnls.items()}
    stds = {name: float(pnl.std(ddof=1)) for name, pnl in pnls.items()}
    work = TIMING_ITERATIONS * BATCH * N_STEPS
    print(f"\nBS call S0=K=1, sigma 0.2, T=20/250, 20 steps, cost {cost * 1e4:g} bp; MLP 4x32; entropic (a=1); "
          f"Adam lr {LR:g}, batches of {BATCH:,} paths, the same batches for both")
    print(f"  {'':22s}{'path-steps/s':>14s}{f'{ITERATIONS}-step train s':>20s}{'test entropic risk':>21s}"
          f"{'test P&L std':>14s}")
    for name, label, rate, full in (("qfin MLP", "qfin train_hedger", work / qfin_s, f"{qfin_full_s:.1f}"),
                                    ("pfhedge MLP", "pfhedge Hedger.fit", work / peer_s, f"{peer_full_s:.1f}"),
                                    ("BS delta", "BS delta (sigma 0.2)", None, ""), ("no hedge", "no hedge", None, "")):
        shown = f"{rate:14,.0f}" if rate else " " * 14
        print(f"  {label:22s}{shown}{full:>20s}{risks[name]:21.6f}{stds[name]:14.6f}")
    print(f"  throughput qfin / pfhedge {peer_s / qfin_s:.2f}x (best of {REPEATS} x {TIMING_ITERATIONS} steps); "
          f"risk qfin - pfhedge {risks['qfin MLP'] - risks['pfhedge MLP']:+.6f} ({N_TEST:,} test paths)")
    return {"name": f"deep_hedger_mlp_bs_call_{cost * 1e4:g}bp_{TIMING_ITERATIONS}x{BATCH}", "qfin_s": qfin_s,
            "peer": "pfhedge 0.23.0 Hedger.fit", "peer_s": peer_s, "ratio": peer_s / qfin_s,
            "qfin_path_steps_per_s": work / qfin_s, "peer_path_steps_per_s": work / peer_s,
            "qfin_train_s": qfin_full_s, "peer_train_s": peer_full_s, "train_iterations": ITERATIONS,
            "test_entropic_risk": risks, "test_pnl_std": stds}


def _market(spot: np.ndarray):
    """A HedgingMarket of GBM paths: constant variance sigma^2, and Heston parameters with a vanishing vol of vol
    (Black–Scholes), of which train_hedger reads only theta (the scale of its features)."""
    from qfin.data.simulate import HestonParams
    from qfin.hedging import HedgingMarket

    var = SIGMA ** 2
    return HedgingMarket(spot, np.full_like(spot, var), STRIKE, MATURITY, HestonParams(var, 1.0, var, 1e-8, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    import torch

    from qfin.data.simulate import gbm

    try:
        import pfhedge
    except ImportError:
        sys.exit("pfhedge is not installed: pip install --no-deps pfhedge==0.23.0 (it needs torch and tqdm)")
    torch.set_num_threads(1)
    train = gbm(S0, 0.0, SIGMA, MATURITY, N_STEPS, N_TRAIN, seed=1)
    test_market = _market(gbm(S0, 0.0, SIGMA, MATURITY, N_STEPS, N_TEST, seed=2))
    bank = torch.as_tensor(train, dtype=torch.float32)
    # untimed warm-up of both code paths (torch kernels, lazy imports)
    train_qfin(train, 0.0, 3)
    train_pfhedge(bank, 0.0, 3)
    print(f"pfhedge {pfhedge.__version__}, torch {torch.__version__}, numpy {np.__version__}, 1 torch thread")
    results = [bench_cost(cost, train, test_market, bank) for cost in COSTS]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
