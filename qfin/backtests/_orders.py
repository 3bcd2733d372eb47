"""Orders on signal strategies: stop-loss, take-profit and trailing stops, limit entries, whole or fractional
shares, and cash that can run out.

Spec keys (any signal strategy: ``sma_crossover``, ``signal``, ``python`` with ``signal = true``; sweepable):

    sl_stop = 0.05        # exit a long when a bar trades 5% below the entry price (a short: 5% above)
    tp_stop = 0.10        # take profit 10% above the entry price (a short: below)
    tsl_stop = 0.08       # trailing stop 8% below the highest high since the entry (a short: above the lowest low)
    limit_entry = 0.01    # enter with a limit 1% below the signal bar's close (a short: above) ...
    limit_window = 5      # ... valid for the 5 bars after the signal bar, then cancelled
    fractional = false    # whole shares only (default true)

Semantics are vectorbt 1.2.0's ``Portfolio.from_signals`` (``sl_stop``; ``sl_stop`` with ``sl_trail=True`` for
``tsl_stop``; ``tp_stop``; default ``stop_exit_price="stoplimit"``; ``portfolio/nb.py: get_stop_price_nb``):
- a stop is set when a position opens, from its fill price, and checked from the next bar on, before that bar's
  signals: a long's stop fills at the open when the bar opens at or below it (a gap), else at the stop price when
  the bar's low..high reaches it; stop-losses are checked before the take-profit; a trailing stop follows the
  highest high of the bars after the entry (updated after each bar's check). A bar whose asset is stopped out
  takes none of that bar's signal fills (vectorbt's one order per bar), and the strategy re-enters only at its
  next entry signal. With both ``sl_stop`` and ``tsl_stop`` the nearer level counts.
- ``execution = "close"``: signal fills at the decision bar's close (from_signals' default price, stops from that
  close); ``"next_open"``: at the next bar's open (signals shifted one bar, ``price=open``,
  ``stop_entry_price="fillprice"``).
- A limit entry is placed at the signal bar's close and fills on a later bar of its window when the low reaches
  it (a short: the high), at the limit or at the open if the bar opens through it; an exit signal cancels it.
  vectorbt 1.2.0 has no limit orders: these follow backtesting.py's limit fills and are tested by brute force.
- Sizes: an entry buys (or sells short) ``weight x portfolio value`` at the fill price, fee included (weight 1 for
  the all-in single-asset kinds), cut to the free cash (the value less the gross value of open positions: nothing
  is borrowed, cash never goes negative on longs), floored to whole shares unless ``fractional``; an entry too
  small for one share is not filled.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from qfin.errors import SpecError

from ._order_keys import Orders

__all__ = ["OrdersRun", "run_orders"]


class OrdersRun(NamedTuple):
    """Result of :func:`run_orders`, one column per independent run (a grid) or one group sharing cash.

    equity : [T, K] value at each close. shares : [T, N or K] shares held at each close.
    trades : [R, 10] one row per round trip: column, asset, entry_bar, exit_bar, entry_price, exit_price, size
        (signed: negative for a short), pnl (after both fills' fees), return (pnl / entry value), reason (index into
        :data:`EXIT_REASONS`); an open position at the end is closed at the last close, reason "end", no exit fee.
    fills : [K] number of fills. costs : [K] fees paid. turnover : [K] sum over fills of traded value / value.
    ruin_bar : [K] first bar with value <= 0 (equity 0 from it on), -1 if none.
    """

    equity: np.ndarray
    shares: np.ndarray
    trades: np.ndarray
    fills: np.ndarray
    costs: np.ndarray
    turnover: np.ndarray
    ruin_bar: np.ndarray


def run_orders(close: np.ndarray, state: np.ndarray, weight: np.ndarray | None = None, *,
               open_: np.ndarray | None = None, high: np.ndarray | None = None, low: np.ndarray | None = None,
               orders: Orders | None = None, grid: dict[str, np.ndarray] | None = None,
               execution: str = "close", fee: float = 0.0, initial_cash: float = 10_000.0,
               shared: bool = False) -> OrdersRun:
    """Simulate signal positions with orders (module docstring).

    close, open_, high, low : [T] one asset (``shared=False``: the K columns of ``state`` are independent runs on
        it, e.g. a parameter grid) or [T, N] (``shared=True``: N assets sharing one cash account). Missing open,
        high or low are taken from the closes (stops are then checked at the closes).
    state : [T, K] or [T, N] target side decided at each bar's close in {-1, 0, 1}; an entry signal is a change into
        a side (the first bar counts as a change from flat), an exit a change out of it.
    weight : like ``state``, the fraction of the portfolio value an entry decided at that bar buys (default 1).
    orders : :class:`Orders`; ``grid`` overrides any of sl_stop, tp_stop, tsl_stop, limit_entry per column ([K]).
    """
    orders = orders or Orders()
    close = np.asarray(close, dtype=np.float64)
    state = np.asarray(state, dtype=np.float64)
    state = state[:, None] if state.ndim == 1 else state
    n_bars, n_cols = state.shape
    weight = np.ones_like(state) if weight is None else np.broadcast_to(np.asarray(weight, dtype=np.float64),
                                                                        state.shape)
    prices = [close if p is None else np.asarray(p, dtype=np.float64) for p in (open_, high, low)]
    if execution == "next_open" and open_ is None:
        raise SpecError("execution = 'next_open' needs open prices")
    if shared:
        prices = [p[:, None] if p.ndim == 1 else p for p in (*prices, close)]
        groups, width = 1, n_cols
    else:
        prices = [p.reshape(-1, 1) for p in (*prices, close)]
        groups, width = n_cols, 1
    settings = np.empty((groups, 4))
    for k, key in enumerate(("sl_stop", "tp_stop", "tsl_stop", "limit_entry")):
        settings[:, k] = getattr(orders, key) if grid is None or key not in grid else np.asarray(grid[key])
    equity, shares, trades, fills, costs, turnover, ruin = _simulate(
        prices[0], prices[1], prices[2], prices[3], np.ascontiguousarray(state), np.ascontiguousarray(weight),
        settings, int(orders.limit_window), float(fee), not orders.fractional, float(initial_cash),
        1 if execution == "next_open" else 0, width)
    return OrdersRun(equity, shares, trades, fills, costs, turnover, ruin)


@numba.njit(cache=True, nogil=True)
def _stop_fill(side: float, level: float, open_: float, high: float, low: float) -> float:
    """Fill price of a stop at ``level`` that a ``side`` position exits through, NaN if the bar misses it
    (vectorbt's get_stop_price_nb: the open when the bar gaps through it)."""
    if side > 0:  # a long's stop below the price
        if open_ <= level:
            return open_
    else:
        if open_ >= level:
            return open_
    if low <= level <= high:
        return level
    return np.nan


@numba.njit(cache=True, nogil=True)
def _above_stop(side: float, level: float, open_: float, high: float, low: float) -> float:
    """A take-profit: above the price for a long, below for a short."""
    return _stop_fill(-side, level, open_, high, low)


@numba.njit(cache=True, nogil=True)
def _simulate(open_, high, low, close, state, weight, settings, limit_window, fee, integer, initial_cash, shift,
              width):
    n_bars, n_cols = state.shape
    groups = n_cols // width
    n_out = groups if width == 1 else 1
    equity = np.zeros((n_bars, n_out))
    shares_out = np.zeros((n_bars, n_cols))
    fills = np.zeros(n_out, dtype=np.int64)
    costs = np.zeros(n_out)
    turnover = np.zeros(n_out)
    ruin = np.full(n_out, -1, dtype=np.int64)
    capacity = n_cols
    for t in range(n_bars):
        for c in range(n_cols):
            before = state[t - 1, c] if t > 0 else 0.0
            if state[t, c] != 0.0 and state[t, c] != before:
                capacity += 1
    trades = np.zeros((capacity, 10))
    n_trades = 0
    for g in range(groups):
        c0 = g * width
        sl, tp, tsl, limit = settings[g, 0], settings[g, 1], settings[g, 2], settings[g, 3]
        cash = initial_cash
        pos = np.zeros(width)
        entry_price = np.zeros(width)
        entry_bar = np.zeros(width, dtype=np.int64)
        entry_fee = np.zeros(width)
        peak = np.zeros(width)
        pending_side = np.zeros(width)
        pending_price = np.zeros(width)
        pending_until = np.zeros(width, dtype=np.int64)
        stopped = np.zeros(width, dtype=np.bool_)
        out = g if width == 1 else 0
        for t in range(n_bars):
            # 1. stops, checked before this bar's signals, from the bar after the entry
            for j in range(width):
                stopped[j] = False
                a = j  # price column: the asset (shared cash), or the one column of a grid's asset
                if pos[j] == 0.0 or entry_bar[j] >= t:
                    continue
                side = 1.0 if pos[j] > 0 else -1.0
                o, h, lo = open_[t, a], high[t, a], low[t, a]
                price, reason = np.nan, 0
                if not np.isnan(sl):
                    price, reason = _stop_fill(side, entry_price[j] * (1.0 - side * sl), o, h, lo), 1
                if not np.isnan(tsl):
                    trail = _stop_fill(side, peak[j] * (1.0 - side * tsl), o, h, lo)
                    if not np.isnan(trail) and (np.isnan(price) or side * trail > side * price):
                        price, reason = trail, 3
                if np.isnan(price) and not np.isnan(tp):
                    price, reason = _above_stop(side, entry_price[j] * (1.0 + side * tp), o, h, lo), 2
                if np.isnan(price):
                    if side > 0 and h > peak[j]:
                        peak[j] = h
                    elif side < 0 and lo < peak[j]:
                        peak[j] = lo
                    continue
                value = cash
                for i in range(width):
                    value += pos[i] * (price if i == j else close[t - 1, i])
                proceeds = pos[j] * price
                paid = abs(proceeds) * fee
                cash += proceeds - paid
                costs[out] += paid
                turnover[out] += abs(proceeds) / value if value > 0 else 0.0
                fills[out] += 1
                row = trades[n_trades]
                row[0], row[1], row[2], row[3] = g, j, entry_bar[j], t
                row[4], row[5], row[6] = entry_price[j], price, pos[j]
                row[7] = pos[j] * (price - entry_price[j]) - entry_fee[j] - paid
                row[8] = row[7] / (abs(pos[j]) * entry_price[j])
                row[9] = reason
                n_trades += 1
                pos[j] = 0.0
                stopped[j] = True
            # 2. limit entries placed at earlier closes
            for j in range(width):
                a = j
                if pending_side[j] == 0.0:
                    continue
                if t > pending_until[j]:
                    pending_side[j] = 0.0
                    continue
                side, level = pending_side[j], pending_price[j]
                o, h, lo = open_[t, a], high[t, a], low[t, a]
                if side > 0:
                    price = o if o <= level else (level if lo <= level else np.nan)
                else:
                    price = o if o >= level else (level if h >= level else np.nan)
                if np.isnan(price):
                    continue
                pending_side[j] = 0.0
                cash_box = np.array([cash, 0.0])
                _enter(j, side, weight[pending_until[j] - limit_window, c0 + j], price, t, pos, entry_price, entry_bar,
                       entry_fee, peak, open_, close, width, fee, integer, out, costs, turnover, fills, cash_box, 1)
                cash = cash_box[0]
            # 3. signal fills: decided at bar t - shift, filled at this bar's close (shift 0) or open (shift 1)
            d = t - shift
            if d >= 0:
                for j in range(width):
                    if stopped[j]:
                        continue
                    a = j
                    new = state[d, c0 + j]
                    old = state[d - 1, c0 + j] if d > 0 else 0.0
                    if new == old:
                        continue
                    price = open_[t, a] if shift == 1 else close[t, a]
                    value_before = 0.0  # a reversal's turnover is of the value before its first leg (run_signals)
                    if (old > 0 and pos[j] > 0) or (old < 0 and pos[j] < 0):  # exit, or the first leg of a reversal
                        value = cash
                        for i in range(width):
                            value += pos[i] * (price if i == j else _mark(open_, close, t, i, shift))
                        value_before = value
                        proceeds = pos[j] * price
                        paid = abs(proceeds) * fee
                        cash += proceeds - paid
                        costs[out] += paid
                        turnover[out] += abs(proceeds) / value if value > 0 else 0.0
                        fills[out] += 1
                        row = trades[n_trades]
                        row[0], row[1], row[2], row[3] = g, j, entry_bar[j], t
                        row[4], row[5], row[6] = entry_price[j], price, pos[j]
                        row[7] = pos[j] * (price - entry_price[j]) - entry_fee[j] - paid
                        row[8] = row[7] / (abs(pos[j]) * entry_price[j])
                        row[9] = 0
                        n_trades += 1
                        pos[j] = 0.0
                    if old != 0.0 and pending_side[j] == old:
                        pending_side[j] = 0.0
                    if new != 0.0 and np.isnan(limit) and pos[j] == 0.0:
                        cash_box = np.array([cash, value_before])
                        _enter(j, new, weight[d, c0 + j], price, t, pos, entry_price, entry_bar, entry_fee, peak, open_,
                               close, width, fee, integer, out, costs, turnover, fills, cash_box, shift)
                        cash = cash_box[0]
            # 4. limit entries decided at this close
            if not np.isnan(limit):
                for j in range(width):
                    a = j
                    new = state[t, c0 + j]
                    old = state[t - 1, c0 + j] if t > 0 else 0.0
                    if new != 0.0 and new != old:
                        pending_side[j] = new
                        pending_price[j] = close[t, a] * (1.0 - new * limit)
                        pending_until[j] = t + limit_window
            # 5. mark to the close
            value = cash
            for j in range(width):
                a = j
                value += pos[j] * close[t, a]
                shares_out[t, c0 + j] = pos[j]
            equity[t, out] = value
            if value <= 0.0:
                ruin[out] = t
                equity[t:, out] = 0.0
                for j in range(width):
                    shares_out[t:, c0 + j] = 0.0
                    pos[j] = 0.0
                break
        # positions still open at the end: closed at the last close, no exit fee
        last = n_bars - 1
        for j in range(width):
            if pos[j] != 0.0:
                a = j
                price = close[last, a]
                row = trades[n_trades]
                row[0], row[1], row[2], row[3] = g, j, entry_bar[j], last
                row[4], row[5], row[6] = entry_price[j], price, pos[j]
                row[7] = pos[j] * (price - entry_price[j]) - entry_fee[j]
                row[8] = row[7] / (abs(pos[j]) * entry_price[j])
                row[9] = 4
                n_trades += 1
    return equity, shares_out, trades[:n_trades], fills, costs, turnover, ruin


@numba.njit(cache=True, nogil=True)
def _mark(open_, close, t, i, shift):
    """The price another asset of the group is valued at during a fill at bar t (the same moment: open or close)."""
    return open_[t, i] if shift == 1 else close[t, i]


@numba.njit(cache=True, nogil=True)
def _enter(j, side, weight, price, t, pos, entry_price, entry_bar, entry_fee, peak, open_, close, width, fee, integer,
           out, costs, turnover, fills, cash_box, shift):
    """Open ``side`` on asset j at ``price``: weight x value at fill prices, cut to the free cash, fee included.
    ``cash_box`` is [cash (updated), the value before a reversal's first leg or 0] (numba has no out scalars)."""
    cash = cash_box[0]
    value, gross = cash, 0.0
    for i in range(width):
        if pos[i] != 0.0:
            px = price if i == j else _mark(open_, close, t, i, shift)
            value += pos[i] * px
            gross += abs(pos[i]) * px
    budget = min(weight * value, value - gross)
    if budget <= 0.0:
        return
    size = budget / (price * (1.0 + fee))
    if integer:
        size = np.floor(size)
    if size <= 0.0:
        return
    notional = size * price
    paid = notional * fee
    cash_box[0] = cash - side * notional - paid
    costs[out] += paid
    turnover[out] += notional / (cash_box[1] if cash_box[1] > 0.0 else value)
    fills[out] += 1
    pos[j] = side * size
    entry_price[j] = price
    entry_bar[j] = t
    entry_fee[j] = paid
    peak[j] = price
