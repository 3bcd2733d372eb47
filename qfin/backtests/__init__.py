"""Backtests: the engine, strategies, specs, reports and sweeps (`qfin backtest`, `qfin sweep`).

Names are loaded on first use, so `import qfin.backtests._engine` (the numpy-only engine) stays cheap and a
script that only simulates never pays for pydantic, skfolio or matplotlib.
"""

from __future__ import annotations

from qfin._lazy import lazy_names

_WHERE = {
    "Fees": "_engine", "SignalsRun": "_engine", "WeightsRun": "_engine", "run_signals": "_engine",
    "run_weights": "_engine",
    "METRIC_NAMES": "_metrics", "equity_metrics": "_metrics", "path_returns": "_metrics",
    "BacktestPlan": "_run", "BacktestResult": "_run", "StrategyRun": "_run", "backtest_plan": "_run",
    "load_market": "_run", "run_backtest": "_run",
    "LookaheadError": "_lookahead", "LookaheadReport": "_lookahead", "check_lookahead": "_lookahead",
    "perturb_after": "_lookahead",
    "PythonStrategy": "_python", "load_entry": "_python",
    "EXIT_REASONS": "_order_keys", "ORDER_KEYS": "_order_keys", "Orders": "_order_keys",
    "OrdersRun": "_orders", "run_orders": "_orders",
    "TRADE_COLUMNS": "_trades", "TRADE_STAT_NAMES": "_trade_stats", "trade_statistics": "_trade_stats",
    "rebalance_bars": "_schedule",
    "moving_average": "_signals", "sma_crossover_exposure": "_signals",
    "BacktestSpec": "_spec", "load_spec": "_spec", "parse_spec": "_spec",
    "STRATEGIES": "_strategies", "PolicyStrategy": "_strategies", "WeightStrategy": "_strategies",
    "StrategyFitError": "_strategies", "StrategyOutputError": "_strategies",
    "StrategyFallbackWarning": "_strategies",
    "SweepResult": "_sweep", "parse_grid": "_sweep", "run_sweep": "_sweep",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
