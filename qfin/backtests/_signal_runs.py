"""Signal strategies run as orders (qfin.backtests._orders) and the trade records of every signal run.

- ``sma_crossover``: the plain path (no stop, no limit) stays :func:`qfin.backtests._engine.run_signals`, the
  engine pinned to vectorbt, and its trades are read from its share path (:func:`signals_trades`, numpy only: no
  JIT on that path); the order simulator fills the same (tests hold the value paths and the trades equal). With
  an order key the order simulator runs the strategy.
- ``signal`` and ``python`` with ``signal = true`` (weight strategies whose targets are sides): without order keys
  they rebalance every position to its size at each change (:func:`run_weights`) and their trades are read from
  those fills (:func:`qfin.backtests._trades.trades_from_fills`); with one, each asset's side becomes orders on a
  shared cash account, an entry buying its target weight of the portfolio value at that bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.data import MarketPanel
from qfin.errors import SpecError

from ._order_keys import OrderKeys, Orders
from ._trades import trades_frame, trades_from_fills

__all__ = ["is_signal_strategy", "ordered_weights_run", "signals_trades", "sma_orders_run", "weights_trades"]


def is_signal_strategy(strategy: Any) -> bool:
    """A weight strategy whose targets are sides (-1/0/1 per asset): ``signal``, ``python`` with signal = true."""
    return isinstance(strategy, OrderKeys) and bool(getattr(strategy, "signal", True))


def _bars(panel: MarketPanel, j: slice | int, first: int, last: int) -> dict[str, np.ndarray | None]:
    return {("open_" if name == "open" else name): None if getattr(panel, name) is None
            else getattr(panel, name)[first: last + 1, j]
            for name in ("open", "high", "low")}


def sma_orders_run(label: str, exposure: np.ndarray, orders: Orders, market: MarketPanel, j: int, first: int,
                   last: int, spec: Any):
    """The SMA exposure [T] of the period (bars first..last of asset j) through the order simulator."""
    from ._orders import run_orders

    return run_orders(market.close[first: last + 1, j], exposure, **_bars(market, j, first, last), orders=orders,
                      execution=spec.execution, fee=spec.costs.fee, initial_cash=spec.initial_cash)


def ordered_weights_run(strategy: Any, targets: np.ndarray, bars: np.ndarray, panel: MarketPanel, first: int,
                        last: int, spec: Any):
    """A signal weight strategy's targets [R, N + 1] at decision ``bars`` (absolute) as orders: side sign(w), size
    |w| of the portfolio value, held from each decision bar to the next."""
    from ._orders import run_orders

    costs = spec.costs
    if costs.buy is not None or costs.sell is not None or costs.slippage or costs.fixed:
        raise SpecError(f"strategy {strategy.name!r} ({strategy.kind}): with order keys it takes costs.fee only "
                        "(one rate on traded value at each fill)")
    n_bars = last - first + 1
    rows = np.searchsorted(bars - first, np.arange(n_bars), side="right") - 1
    risky = np.where(rows[:, None] >= 0, targets[np.maximum(rows, 0), 1:], 0.0)
    return run_orders(panel.close[first: last + 1], np.sign(risky), np.abs(risky),
                      **_bars(panel, slice(None), first, last), orders=strategy.orders(), execution=spec.execution,
                      fee=costs.fee, initial_cash=spec.initial_cash, shared=True)


def weights_trades(label: str, run: Any, panel: MarketPanel, first: int, last: int, execution: str,
                   rates: tuple[float, float], timestamps: np.ndarray):
    """Trades of a signal weight strategy's :class:`WeightsRun` (bars relative to ``first``)."""
    close = panel.close[first: last + 1]
    fills = run.trade_bars
    prices = close if execution == "close" else panel.open[first: last + 1]
    shares = run.weights[fills, 1:] * run.equity[fills, None] / close[fills]
    shares[np.abs(run.weights[fills, 1:]) < 1e-12] = 0.0
    end = len(close) - 1 if run.ruin_bar < 0 else run.ruin_bar  # a ruined run's open trades end at its ruin bar
    records = trades_from_fills(fills, shares, prices[fills], close[end], end, *rates)
    return trades_frame(records, label, panel.assets, timestamps)


def signals_trades(label: str, shares: np.ndarray, close: np.ndarray, open_: np.ndarray | None, execution: str,
                   fee: float, asset: str, timestamps: np.ndarray):
    """Trades of a :func:`run_signals` column: ``shares`` [T] held at each close, filled at the close or the open
    of the bars where they change (the first bar counts as a change from flat)."""
    fills = np.flatnonzero(np.diff(shares, prepend=0.0) != 0.0)
    prices = close if execution == "close" else open_
    records = trades_from_fills(fills, shares[fills, None], prices[fills, None], close[-1:], len(close) - 1, fee, fee)
    return trades_frame(records, label, [asset], timestamps)
