"""Trade records: one row per round trip of a signal strategy, as a polars frame (``results.trades``,
DIR/trades.parquet).

A round trip opens when an asset's position goes from flat to long or short and closes when it goes back to flat
or reverses (a reversal closes one trade and opens the next at the same fill). ``size`` is signed (negative for a
short), ``pnl`` is money after both fills' fees, ``return`` is pnl over the entry value (backtesting.py's
``Trade.pl_pct``), ``duration_bars`` counts bars from the entry fill to the exit fill. A position still open at the
end is closed at the last close with exit reason "end" (no exit fee: it is valued, not sold).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._order_keys import EXIT_REASONS

__all__ = ["TRADE_COLUMNS", "empty_trades", "trades_frame", "trades_from_fills"]

TRADE_COLUMNS = ("strategy", "asset", "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl", "return",
                 "duration_bars", "exit_reason")


def _schema() -> dict[str, Any]:
    import polars as pl

    return {"strategy": pl.Utf8, "asset": pl.Utf8, "entry_time": pl.Datetime("us"), "exit_time": pl.Datetime("us"),
            "entry_price": pl.Float64, "exit_price": pl.Float64, "size": pl.Float64, "pnl": pl.Float64,
            "return": pl.Float64, "duration_bars": pl.Int64, "exit_reason": pl.Utf8}


def empty_trades():
    """A frame with the trade columns and no row."""
    import polars as pl

    return pl.DataFrame(schema=_schema())


def trades_frame(records: np.ndarray, strategy: str, assets: list[str] | tuple[str, ...], timestamps: np.ndarray):
    """Trades of one strategy from :class:`qfin.backtests._orders.OrdersRun` records ([R, 10]: column, asset,
    entry_bar, exit_bar, entry_price, exit_price, size, pnl, return, reason), bars indexing ``timestamps``."""
    import polars as pl

    if len(records) == 0:
        return empty_trades()
    asset = records[:, 1].astype(np.int64)
    entry, exit_ = records[:, 2].astype(np.int64), records[:, 3].astype(np.int64)
    ts = np.asarray(timestamps).astype("datetime64[us]")
    return pl.DataFrame({
        "strategy": [strategy] * len(records), "asset": [assets[j] for j in asset], "entry_time": ts[entry],
        "exit_time": ts[exit_], "entry_price": records[:, 4], "exit_price": records[:, 5], "size": records[:, 6],
        "pnl": records[:, 7], "return": records[:, 8], "duration_bars": exit_ - entry,
        "exit_reason": [EXIT_REASONS[int(r)] for r in records[:, 9]],
    }, schema=_schema())


def trades_from_fills(fill_bars: np.ndarray, shares: np.ndarray, fill_prices: np.ndarray, close_last: np.ndarray,
                      last_bar: int, buy_rate: float, sell_rate: float) -> np.ndarray:
    """Round-trip records ([R, 10], as :func:`trades_frame` reads) of a path that trades only at ``fill_bars``.

    shares : [R, N] shares held after each fill; fill_prices : [R, N] the fill prices; close_last : [N] the last
    close, at bar ``last_bar`` (a trade still open is valued there). A trade is a stretch of one sign; resizing
    fills inside it (a portfolio rebalanced while the position is held) add their cash flows to its pnl, the entry
    price and size are those of its opening fill. Fees are each fill's traded value times the buy or sell rate.
    """
    rows: list[list[float]] = []
    n_fills, n_assets = shares.shape
    for j in range(n_assets):
        held, flows, start, entry_price, size = 0.0, 0.0, -1, 0.0, 0.0
        for k in range(n_fills):
            new, price = shares[k, j], fill_prices[k, j]
            if new == held:
                continue
            if held != 0.0 and (new == 0.0 or np.sign(new) != np.sign(held)):  # close the open trade
                flows += held * price - abs(held) * price * sell_rate if held > 0 else \
                    held * price - abs(held) * price * buy_rate
                rows.append([0, j, start, fill_bars[k], entry_price, price, size, flows,
                             flows / (abs(size) * entry_price), 0])
                held = 0.0
            if new == held:
                continue
            delta = new - held
            rate = buy_rate if delta > 0 else sell_rate
            if held == 0.0:
                start, entry_price, size, flows = fill_bars[k], price, new, 0.0
            flows += -delta * price - abs(delta) * price * rate
            held = new
        if held != 0.0:
            flows += held * close_last[j]
            rows.append([0, j, start, last_bar, entry_price, close_last[j], size, flows,
                         flows / (abs(size) * entry_price), EXIT_REASONS.index("end")])
    return np.array(rows, dtype=np.float64).reshape(-1, 10)
