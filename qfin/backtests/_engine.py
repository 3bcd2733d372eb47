"""The backtest engine: value paths of weight-based portfolios and of signal-based single-asset strategies.

Fill conventions (DESIGN.md §4): a decision taken at bar t sees data up to bar t's close and trades either at
that close (``execution="close"``) or at the next bar's open (``execution="next_open"``). Costs come from the one
cost model, :func:`qfin.costs.transaction_remainder`: fees are a fraction of traded value; slippage moves the
fill price against the trade (buy at px (1 + s), sell at px (1 - s)) and so folds into the fee rates exactly.

Both engines loop over trades only (never over bars): between trades holdings are constant, so values over a
stretch of bars are one matrix-vector product.

Ruin (as backtesting.py's broker: equity <= 0 closes everything, sets cash to 0 and ends the run): the first bar at
which the portfolio is worth nothing or less, at a close or at a fill price before trading, is the ruin bar. From it
on the value is 0, nothing is held and no further trade fills; the records carry that bar (``ruin_bar``, -1 if the
run survived) so the runner can flag it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from qfin.costs import CostMethod, transaction_remainder

Execution = Literal["close", "next_open"]

__all__ = ["Execution", "Fees", "WeightsRun", "SignalsRun", "run_weights", "run_signals"]


class Fees(NamedTuple):
    """Trading frictions. Rates are fractions of traded value; ``fixed`` is money per asset traded per fill.

    (The three records of this module are NamedTuples, immutable like frozen dataclasses but without the
    dataclass machinery, which was most of the engine's import time and so of a one-off backtest process.)"""

    buy: float = 0.0
    sell: float | None = None
    slippage: float = 0.0
    fixed: float = 0.0
    method: CostMethod = "exact"

    def effective_rates(self) -> tuple[float, float]:
        """Buy and sell rates at the mid price once slippage is folded in (exact, not additive)."""
        sell = self.buy if self.sell is None else self.sell
        return (1.0 + self.slippage) * (1.0 + self.buy) - 1.0, 1.0 - (1.0 - self.slippage) * (1.0 - sell)


class WeightsRun(NamedTuple):
    """Result of :func:`run_weights`.

    equity : [T] portfolio value at each bar's close.
    weights : [T, N + 1] end-of-bar weights (cash first), drifted between trades.
    trade_bars : [R] bar index at which each trade filled.
    turnover : [R] traded value / value before the trade (buys plus sells) for each trade.
    costs : [R] money paid in fees, slippage and fixed costs at each trade.
    ruin_bar : first bar at which the value was <= 0 (equity is 0 and weights all cash from it on), or -1.
        Trades that would have filled after it are not in ``trade_bars``, ``turnover``, ``costs``.
    """

    equity: np.ndarray
    weights: np.ndarray
    trade_bars: np.ndarray
    turnover: np.ndarray
    costs: np.ndarray
    ruin_bar: int = -1


def _fill_bars(decision_bars: np.ndarray, n_bars: int, execution: Execution) -> np.ndarray:
    fill = decision_bars + (1 if execution == "next_open" else 0)
    return fill[fill < n_bars]


def run_weights(close: np.ndarray, decision_bars: np.ndarray, target_weights: np.ndarray, *,
                open_: np.ndarray | None = None, execution: Execution = "close", fees: Fees = Fees(),
                initial_cash: float = 1.0) -> WeightsRun:
    """Value path of a portfolio rebalanced to ``target_weights`` at ``decision_bars``.

    Parameters
    ----------
    close : [T, N] closing prices (validated: positive, finite).
    decision_bars : [R] strictly increasing bar indices at which a target is decided.
    target_weights : [R, N + 1] target weights, cash at index 0, rows summing to one (shorts allowed).
    open_ : [T, N] opening prices, needed for ``execution="next_open"``.
    execution : fill at the decision bar's close or the next bar's open (a decision on the last bar then
        never fills).
    fees : :class:`Fees`.
    initial_cash : starting value, all in cash; the first trade buys from cash and is charged.
    """
    close = np.asarray(close, dtype=np.float64)
    n_bars, n_assets = close.shape
    decision_bars = np.asarray(decision_bars, dtype=np.int64)
    target_weights = np.asarray(target_weights, dtype=np.float64)
    fill_bars = _fill_bars(decision_bars, n_bars, execution)
    targets = target_weights[: len(fill_bars)]
    fill_prices = close if execution == "close" else np.asarray(open_, dtype=np.float64)
    buy_rate, sell_rate = fees.effective_rates()

    equity = np.full(n_bars, float(initial_cash))
    weights = np.zeros((n_bars, n_assets + 1))
    weights[:, 0] = 1.0
    turnover = np.zeros(len(fill_bars))
    costs = np.zeros(len(fill_bars))
    cash, shares = float(initial_cash), np.zeros(n_assets)
    bounds = np.append(fill_bars, n_bars)
    ruin_bar, n_filled = -1, len(fill_bars)
    for k, bar in enumerate(fill_bars):
        price = fill_prices[bar]
        value = cash + shares @ price
        if value <= 0.0:  # worth nothing at the fill price: ruined before this trade
            ruin_bar, n_filled = int(bar), k
            break
        w_prev = np.concatenate(([cash], shares * price)) / value
        w_new = targets[k]
        mu = transaction_remainder(w_prev, w_new, buy_rate, sell_rate, method=fees.method)
        traded = np.abs(w_new[1:] - w_prev[1:])
        n_traded = int(np.count_nonzero(traded > 1e-12))
        turnover[k] = traded.sum()
        value_after = mu * value
        shares = value_after * w_new[1:] / price
        cash = value_after * w_new[0] - fees.fixed * n_traded
        costs[k] = value - value_after + fees.fixed * n_traded
        held = close[bar: bounds[k + 1]] * shares
        values = cash + held.sum(axis=1)
        broke = np.flatnonzero(values <= 0.0)
        end = int(broke[0]) if broke.size else len(values)
        equity[bar: bar + end] = values[:end]
        weights[bar: bar + end, 0] = cash / values[:end]
        weights[bar: bar + end, 1:] = held[:end] / values[:end, None]
        if broke.size:
            ruin_bar, n_filled = int(bar) + end, k + 1
            break
    if ruin_bar >= 0:
        equity[ruin_bar:] = 0.0
        weights[ruin_bar:] = 0.0
        weights[ruin_bar:, 0] = 1.0
    return WeightsRun(equity, weights, fill_bars[:n_filled], turnover[:n_filled], costs[:n_filled], ruin_bar)


class SignalsRun(NamedTuple):
    """Result of :func:`run_signals`; one column per parameter set.

    equity : [T, K] value at each close. position : [T, K] shares held at each close.
    trades : [K] number of fills per column. costs : [K] total fees paid per column.
    turnover : [K] sum over fills of traded value / portfolio value at the fill.
    ruin_bar : [K] first bar at which a column's value was <= 0 (only a short can get there), -1 if none; from it
        on that column's equity and position are 0 and it trades no more.
    """

    equity: np.ndarray
    position: np.ndarray
    trades: np.ndarray
    costs: np.ndarray
    turnover: np.ndarray
    ruin_bar: np.ndarray | int = -1


def run_signals(close: np.ndarray, exposure: np.ndarray, *, open_: np.ndarray | None = None,
                execution: Execution = "close", fee: float = 0.0, integer_shares: bool = False,
                initial_cash: float = 10_000.0) -> SignalsRun:
    """All-in single-asset backtest of target exposures, one column per parameter set.

    Parameters
    ----------
    close : [T] closing prices.
    exposure : [T] or [T, K] target exposure decided at each bar's close, in {-1, 0, 1} (short, flat, long);
        a change triggers a fill. Flat -> long spends all cash: n = cash / (px (1 + fee)) shares (floored with
        ``integer_shares``); long -> flat sells everything at px (1 - fee); a switch closes first, then opens.
        A short of n = cash / (px (1 + fee)) shares is sold at px (1 - fee) and bought back at px (1 + fee).
    open_ : [T] opening prices, for ``execution="next_open"``.
    fee : fraction of traded value charged on each fill.
    integer_shares : whole shares only (the leftover stays in cash).
    initial_cash : starting cash.
    """
    close = np.asarray(close, dtype=np.float64)
    exposure = np.asarray(exposure, dtype=np.float64)
    single = exposure.ndim == 1
    exposure = exposure[:, None] if single else exposure
    n_bars, n_cols = exposure.shape
    fill_prices = close if execution == "close" else np.asarray(open_, dtype=np.float64)
    shift = 0 if execution == "close" else 1

    changed = np.diff(exposure, axis=0, prepend=0.0) != 0.0
    cash_at = np.full((n_bars, n_cols), np.nan)
    shares_at = np.full((n_bars, n_cols), np.nan)
    cash_at[0], shares_at[0] = initial_cash, 0.0
    trades = np.zeros(n_cols, dtype=np.int64)
    costs = np.zeros(n_cols)
    turnover = np.zeros(n_cols)
    ruin = np.full(n_cols, -1, dtype=np.int64)
    # A Python loop over fills only (tens per column), on scalars: cheaper than any per-bar vector pass.
    for col in range(n_cols):
        cash, shares, fees_paid, n_fills, traded = float(initial_cash), 0.0, 0.0, 0, 0.0
        fills = np.flatnonzero(changed[:, col]) + shift
        for i, fill_bar in enumerate(fills):
            if fill_bar >= n_bars:
                break
            price = fill_prices[fill_bar]
            target = exposure[fill_bar - shift, col]
            value = cash + shares * price
            if value <= 0.0:  # a short worth nothing or less at the fill price: ruined before this fill
                ruin[col] = fill_bar
                break
            if shares != 0.0:  # close the open position first
                proceeds = shares * price  # negative for a short: buying it back costs cash
                fee_paid = abs(proceeds) * fee
                cash += proceeds - fee_paid
                fees_paid += fee_paid
                traded += abs(proceeds) / value
                shares = 0.0
                n_fills += 1
            if target != 0.0:
                size = abs(target) * cash / (price * (1.0 + fee))
                size = np.floor(size) if integer_shares else size
                notional = size * price
                fee_paid = notional * fee
                cash += -np.sign(target) * notional - fee_paid
                fees_paid += fee_paid
                traded += notional / value
                shares = np.sign(target) * size
                n_fills += 1
            cash_at[fill_bar, col], shares_at[fill_bar, col] = cash, shares
            if shares < 0.0:  # only a short can lose more than the book: check the closes it is held over
                held_to = min(fills[i + 1], n_bars) if i + 1 < len(fills) else n_bars
                broke = np.flatnonzero(cash + shares * close[fill_bar: held_to] <= 0.0)
                if broke.size:
                    ruin[col] = fill_bar + broke[0]
                    break
        trades[col], costs[col], turnover[col] = n_fills, fees_paid, traded
    cash_at = _forward_fill(cash_at)
    shares_at = _forward_fill(shares_at)
    equity = cash_at + shares_at * close[:, None]
    for col in np.flatnonzero(ruin >= 0):
        equity[ruin[col]:, col] = 0.0
        shares_at[ruin[col]:, col] = 0.0
    if single:
        return SignalsRun(equity[:, 0], shares_at[:, 0], trades, costs, turnover, int(ruin[0]))
    return SignalsRun(equity, shares_at, trades, costs, turnover, ruin)


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the rows of a [T, K] array (row 0 must be filled)."""
    rows = np.where(np.isnan(values), 0, np.arange(values.shape[0])[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    return values[rows, np.arange(values.shape[1])]
