"""The SMA-crossover work of bench_sma.py, written once per engine: qfin, vectorbt 1.2.0 and backtesting.py 0.6.6.

The rule is the same in all three: long/flat SMA(fast/slow) crossover on closes (enter when the fast SMA crosses
strictly above the slow one, exit on the opposite cross), all-in with fractional shares, 10,000 cash, a fee of 0.1%
of traded value on every fill, fills at the next bar's open, equity marked at each close.
- qfin: ``sma_crossover_exposure`` + ``run_signals(execution="next_open", fee=0.001)``.
- vectorbt: ``MA.run`` + ``ma_crossed_above/below`` shifted one bar, ``Portfolio.from_signals(price=open,
  fees=0.001)`` (its documented way to fill at the next open). Default ``size=inf`` buys cash / (px (1 + fee)).
- backtesting.py: a ``Strategy`` using ``crossover``; ``FractionalBacktest`` (whole units of 1e-8 share, which
  agrees with exact fractional shares to the cent here), ``trade_on_close=False`` (next open),
  ``finalize_trades=False`` (the last position is marked, not sold, as in the other two; the SMA(10/30) run is
  flat at the end anyway). The grid uses ``Backtest.optimize``, which fans out over all cores with processes.

Every function imports its engine itself, so that ``python _peers.py ENGINE WORK CSV [LOADER]`` (one whole process:
import, load the CSV, run) pays for one engine's imports only. That command prints the final equities as JSON.
vectorbt and backtesting.py need a pandas frame; qfin needs two numpy arrays, so its process can also read the CSV
with polars (qfin's data layer) or numpy.loadtxt instead of pandas, to show what pandas' import costs.
"""

from __future__ import annotations

import sys

CASH = 10_000.0
FEE = 0.001
SINGLE = (10, 30)
FAST_GRID = range(5, 15)
SLOW_GRID = range(20, 70, 5)
LOADERS = ("numpy", "polars", "pandas")  # how the CSV can be read: pandas for every engine, numpy or polars for qfin


def grid_pairs() -> tuple[list[int], list[int]]:
    """The 100 (fast, slow) pairs, fast-major: fast 5..14 x slow 20..65 step 5."""
    fast = [f for f in FAST_GRID for _ in SLOW_GRID]
    slow = [s for _ in FAST_GRID for s in SLOW_GRID]
    return fast, slow


def load_frame(path: str, loader: str = "pandas"):
    """GOOG daily bars: a pandas frame (what vectorbt and backtesting.py need, and every engine's default here),
    or for qfin alone, which needs only the Open and Close arrays, a polars frame or a dict of numpy arrays."""
    if loader == "pandas":
        import pandas as pd

        return pd.read_csv(path, index_col=0, parse_dates=True)
    if loader == "polars":
        import polars as pl

        return pl.read_csv(path, columns=["Open", "Close"])
    if loader == "numpy":
        import numpy as np

        with open(path, encoding="utf-8") as handle:  # a file object: a path would make numpy import gzip/bz2/lzma
            open_, close = np.loadtxt(handle, delimiter=",", skiprows=1, usecols=(1, 4), unpack=True)
        return {"Open": open_, "Close": close}
    raise ValueError(f"loader must be pandas, polars or numpy, got {loader!r}")


# --- qfin ------------------------------------------------------------------------------------------------------

def qfin_signals(frame, fast, slow):
    import numpy as np

    from qfin.backtests import sma_crossover_exposure

    return sma_crossover_exposure(np.asarray(frame["Close"], dtype=np.float64), fast, slow)


def qfin_simulate(frame, exposure):
    import numpy as np

    from qfin.backtests import run_signals

    run = run_signals(np.asarray(frame["Close"], dtype=np.float64), exposure,
                      open_=np.asarray(frame["Open"], dtype=np.float64), execution="next_open", fee=FEE,
                      initial_cash=CASH)
    return run.equity[-1]


def qfin_single(frame) -> float:
    return float(qfin_simulate(frame, qfin_signals(frame, *SINGLE)[:, 0]))


def qfin_grid(frame) -> list[float]:
    return qfin_simulate(frame, qfin_signals(frame, *grid_pairs())).tolist()


# --- vectorbt --------------------------------------------------------------------------------------------------

def vbt_signals(frame, fast, slow):
    import vectorbt as vbt

    fast_ma = vbt.MA.run(frame["Close"], fast, short_name="fast")
    slow_ma = vbt.MA.run(frame["Close"], slow, short_name="slow")
    # A cross seen at bar t's close fills at bar t+1's open: shift the signals one bar and trade at the open.
    entries = fast_ma.ma_crossed_above(slow_ma).vbt.fshift(1, fill_value=False)
    exits = fast_ma.ma_crossed_below(slow_ma).vbt.fshift(1, fill_value=False)
    return entries, exits


def vbt_simulate(frame, signals):
    import vectorbt as vbt

    entries, exits = signals
    portfolio = vbt.Portfolio.from_signals(frame["Close"], entries, exits, price=frame["Open"], fees=FEE,
                                           init_cash=CASH, freq="1D")
    return portfolio.value()  # the whole [T, K] equity path, as qfin's run_signals returns


def vbt_single(frame) -> float:
    return float(vbt_simulate(frame, vbt_signals(frame, *SINGLE)).iloc[-1])


def vbt_grid(frame) -> list[float]:
    return vbt_simulate(frame, vbt_signals(frame, *grid_pairs())).iloc[-1].tolist()


# --- backtesting.py --------------------------------------------------------------------------------------------

def _strategy():
    """The backtesting.py strategy class, built once and bound at module level so that optimize() can pickle it."""
    if "SmaCross" in globals():
        return globals()["SmaCross"]
    from backtesting import Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        n1 = SINGLE[0]
        n2 = SINGLE[1]

        def init(self):
            self.fast = self.I(SMA, self.data.Close, self.n1)
            self.slow = self.I(SMA, self.data.Close, self.n2)

        def next(self):
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    SmaCross.__module__, SmaCross.__qualname__ = __name__, "SmaCross"
    globals()["SmaCross"] = SmaCross
    return SmaCross


def _bt_backtest(frame):
    import warnings

    from backtesting.lib import FractionalBacktest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FractionalBacktest(frame, _strategy(), cash=CASH, commission=FEE, trade_on_close=False,
                                  finalize_trades=False)


def bt_single(frame) -> float:
    return float(_bt_backtest(frame).run()["Equity Final [$]"])


def bt_grid(frame) -> list[float]:
    import warnings

    backtest = _bt_backtest(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, heatmap = backtest.optimize(n1=list(FAST_GRID), n2=list(SLOW_GRID), maximize="Equity Final [$]",
                                       return_heatmap=True)
    return [float(heatmap[(f, s)]) for f, s in zip(*grid_pairs(), strict=True)]


WORK = {
    ("qfin", "single"): qfin_single, ("qfin", "grid"): qfin_grid,
    ("vectorbt", "single"): vbt_single, ("vectorbt", "grid"): vbt_grid,
    ("backtesting", "single"): bt_single, ("backtesting", "grid"): bt_grid,
}


def main() -> None:
    """``python _peers.py ENGINE WORK CSV [LOADER]``: import the engine, load the CSV, run, print the final
    equities as JSON. LOADER (pandas by default; polars or numpy for qfin only) is how the CSV is read.

    The result is a float or a list of finite floats, whose ``repr`` is JSON: the harness imports no json module of
    its own into the timed process (pandas brings one for the peers; qfin's path would pay 2 ms for it)."""
    engine, work, path = sys.argv[1:4]
    loader = sys.argv[4] if len(sys.argv) > 4 else "pandas"
    print(repr(WORK[engine, work](load_frame(path, loader))))


if __name__ == "__main__":
    main()
