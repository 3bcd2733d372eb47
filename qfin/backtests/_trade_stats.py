"""Trade statistics as backtesting.py 0.6.6 prints them (``backtesting/_stats.py: compute_stats``), from a trade
frame (:mod:`qfin.backtests._trades`).

- exposure_time_pct: share of the period's bars with a position, a trade covering its entry through its exit bar;
- win_rate_pct: trades with pnl > 0; best / worst_trade_pct: the extreme returns; avg_trade_pct: their geometric
  mean (0 if a trade lost everything); expectancy_pct: their arithmetic mean;
- max / avg_trade_duration_days: calendar days from entry to exit, rounded up to whole days (as it prints them
  for daily bars);
- profit_factor: the sum of positive returns over the absolute sum of negative ones (returns, as backtesting.py);
- sqn: sqrt(n) x mean(pnl) / std(pnl) (Van Tharp's system quality number, std with ddof 1);
- kelly: win rate - (1 - win rate) / (mean winning pnl / mean losing pnl).
Undefined figures (no trade, no losing trade) are NaN, written as null.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TRADE_STAT_NAMES", "trade_statistics"]

TRADE_STAT_NAMES = ("exposure_time_pct", "n_trades", "win_rate_pct", "best_trade_pct", "worst_trade_pct",
                    "avg_trade_pct", "max_trade_duration_days", "avg_trade_duration_days", "profit_factor",
                    "expectancy_pct", "sqn", "kelly")


def trade_statistics(trades, timestamps: np.ndarray) -> dict[str, float | int]:
    """The statistics of ``trades`` (a polars trade frame) over the bars ``timestamps`` [T] of the period."""
    nan = float("nan")
    ts = np.asarray(timestamps).astype("datetime64[us]")
    n = trades.height
    if n == 0:
        return {"exposure_time_pct": 0.0, "n_trades": 0, **{k: nan for k in TRADE_STAT_NAMES[2:]}}
    entry = trades["entry_time"].to_numpy().astype("datetime64[us]")
    exit_ = trades["exit_time"].to_numpy().astype("datetime64[us]")
    pnl = trades["pnl"].to_numpy()
    ret = trades["return"].to_numpy()
    first, last = np.searchsorted(ts, entry), np.searchsorted(ts, exit_)
    cover = np.zeros(len(ts) + 1, dtype=np.int64)
    np.add.at(cover, first, 1)
    np.add.at(cover, last + 1, -1)
    exposure = float(np.mean(np.cumsum(cover)[:-1] > 0) * 100.0)
    days = (exit_ - entry) / np.timedelta64(1, "D")
    win = float(np.mean(pnl > 0))
    growth = 1.0 + ret
    avg = float(np.exp(np.mean(np.log(growth))) - 1.0) if np.all(growth > 0) else 0.0
    losses = -ret[ret < 0].sum()
    std = float(np.std(pnl, ddof=1)) if n > 1 else nan
    wins, losers = pnl[pnl > 0], pnl[pnl < 0]
    ratio = wins.mean() / -losers.mean() if wins.size and losers.size else nan
    return {
        "exposure_time_pct": exposure,
        "n_trades": int(n),
        "win_rate_pct": win * 100.0,
        "best_trade_pct": float(ret.max() * 100.0),
        "worst_trade_pct": float(ret.min() * 100.0),
        "avg_trade_pct": avg * 100.0,
        "max_trade_duration_days": float(math.ceil(days.max())),
        "avg_trade_duration_days": float(math.ceil(days.mean())),
        "profit_factor": float(ret[ret > 0].sum() / losses) if losses > 0 else nan,
        "expectancy_pct": float(ret.mean() * 100.0),
        "sqn": float(math.sqrt(n) * pnl.mean() / std) if std and std > 0 else nan,
        "kelly": float(win - (1.0 - win) / ratio) if ratio == ratio else nan,
    }
