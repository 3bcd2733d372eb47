"""Run a backtest spec: load the market panel, decide targets, simulate, score, and write the outputs atomically."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qfin.backtests._engine import Fees, run_signals, run_weights
from qfin.backtests._fitting import decide_all
from qfin.backtests._metrics import path_returns, strategy_metrics
from qfin.backtests._order_keys import ORDER_KEYS, OrderKeys
from qfin.backtests._relative import add_period_metrics, benchmark_returns, check_benchmark
from qfin.backtests._schedule import rebalance_bars
from qfin.backtests._signal_runs import (
    is_signal_strategy,
    ordered_weights_run,
    signals_trades,
    sma_orders_run,
    weights_trades,
)
from qfin.backtests._signals import sma_crossover_exposure
from qfin.backtests._spec import (
    SIGNAL_PARAMS,
    BacktestSpec,
    SmaCrossoverParams,
    StrategySpec,
    load_spec,
    parse_spec,
    signal_params,
)
from qfin.backtests._strategies import STRATEGIES
from qfin.backtests._trade_stats import trade_statistics
from qfin.backtests._trades import trades_frame
from qfin.data import MarketPanel, check_output_dir, config_hash, staged_output, strict_json
from qfin.errors import DataValidationError, SpecError
from qfin.progress import progress_bar
from qfin.strategy import strategy_params

__all__ = ["BacktestResult", "SmaGrid", "StrategyRun", "evaluation_period", "load_market", "run_backtest",
           "run_sma_grid", "SIGNAL_STRATEGIES"]

SIGNAL_STRATEGIES = tuple(SIGNAL_PARAMS)
OUTPUT_MARKER = "metrics.json"


@dataclass(frozen=True)
class StrategyRun:
    """One strategy's path over the evaluation period."""

    name: str
    kind: str
    equity: np.ndarray
    weights: np.ndarray | None
    n_trades: int
    costs: float
    traded_fraction: float
    ruin_bar: int = -1  # first bar with value <= 0 (equity 0 from it on), -1 if the strategy survived
    trades: Any = None  # signal strategies: a polars frame, one row per round trip (qfin.backtests._trades)


@dataclass
class BacktestResult:
    """What :func:`run_backtest` returns: the runs, their metrics and how they were produced."""

    spec: BacktestSpec
    timestamps: np.ndarray
    assets: list[str]
    runs: dict[str, StrategyRun]
    metrics: dict[str, dict[str, float | bool | str | None]]  # METRIC_NAMES, then ruined and ruin_date
    notes: dict[str, str] = field(default_factory=dict)
    benchmark: Any = None  # qfin.backtests._relative.Benchmark when the spec names one

    def returns(self, name: str) -> np.ndarray:
        """Strategy ``name``'s returns as its metrics see them (:func:`qfin.backtests.path_returns`): from the
        initial cash, so the first trade's costs count, and up to the ruin bar for a ruined strategy."""
        return path_returns(self.runs[name].equity, self.spec.initial_cash)

    @property
    def trades(self):
        """Every signal strategy's round trips in one polars frame (qfin.backtests._trades); no row when the spec
        has none (allocation strategies rebalance weights and have no trades)."""
        import polars as pl

        from qfin.backtests._trades import empty_trades

        return pl.concat([empty_trades(), *(r.trades for r in self.runs.values() if r.trades is not None)])

    def equity_frame(self):
        """A polars frame: ``timestamp`` plus one column of portfolio value per strategy."""
        import polars as pl

        columns = {"timestamp": pl.Series("timestamp", self.timestamps.astype("datetime64[us]"))}
        columns.update({name: pl.Series(name, run.equity) for name, run in self.runs.items()})
        return pl.DataFrame(columns)

    def write(self, out_dir: str | Path) -> Path:
        """Write metrics.json, equity.parquet and the report into ``out_dir``, all or nothing.

        Everything is written into a temporary sibling folder that replaces ``out_dir`` only when complete. An
        existing ``out_dir`` is replaced only if it is empty or holds an earlier qfin backtest output and nothing
        else (its ``.qfin-manifest.json``, :func:`qfin.data.staged_output`). Non-finite metrics (a Sharpe of a flat
        curve) are written as null.
        """
        with staged_output(out_dir, "backtest", spec_hash=config_hash(self.spec)) as staging:
            self.equity_frame().write_parquet(staging / "equity.parquet")
            self.trades.write_parquet(staging / "trades.parquet")
            if self.spec.report.plots:
                from qfin.backtests._tearsheet import write_backtest_report

                write_backtest_report(staging, self)
            (staging / OUTPUT_MARKER).write_text(strict_json(self.metrics))
        return out_dir


def load_market(spec: BacktestSpec, data: Any = None) -> MarketPanel:
    """The spec's data (or ``data``: a polars or pandas frame of Bars or Prices, or a MarketPanel) as a market
    panel (:func:`qfin.data.price_panel`), restricted to ``data.assets`` when given.

    All bars are kept: the period's ``start`` and ``end`` are applied by :func:`evaluation_period`, since
    lookbacks reach back before the start.
    """
    from qfin.data import price_panel

    source = spec.data.dataset if spec.data.dataset is not None else spec.data.path
    if (source is None) == (data is None):
        raise SpecError("data: give data.dataset or data.path in the spec, or a frame as run_backtest(..., data=frame)"
                        + (" (not both)" if data is not None else ""))
    panel = price_panel(source if data is None else data)
    if spec.data.assets is not None:
        try:
            panel = panel.select(spec.data.assets)
        except DataValidationError as err:
            raise SpecError(f"data.{err}") from None
    return panel


def evaluation_period(market: MarketPanel, spec: BacktestSpec) -> tuple[int, int]:
    """First and last bar (inclusive) of the evaluation period."""
    ts = market.timestamps
    start = np.datetime64(spec.data.start, "us") if spec.data.start else ts[0]
    end = np.datetime64(spec.data.end + dt.timedelta(days=1), "us") if spec.data.end else ts[-1] + 1
    first = int(np.searchsorted(ts, start, side="left"))
    last = int(np.searchsorted(ts, end, side="left")) - 1
    if last - first < 1:
        raise SpecError(f"data: no more than one bar of {market.source} between {spec.data.start} and "
                        f"{spec.data.end} (data spans {ts[0].astype('M8[D]')} .. {ts[-1].astype('M8[D]')})")
    return first, last


def _build_weight_strategy(item: StrategySpec, where: str | None = None):
    """The registered strategy of ``item.kind``, its parameters checked against the kind's params model (problems
    are one SpecError line starting with ``where``, by default the strategy's name and kind)."""
    try:
        cls = STRATEGIES[item.kind]
    except KeyError:
        known = ", ".join([*sorted(STRATEGIES), *SIGNAL_STRATEGIES])
        package = {"agent": "qfin.agents", "kline_forecast": "qfin.kline"}.get(item.kind)
        hint = f" (kind {item.kind!r} is registered by `import {package}`)" if package else ""
        raise SpecError(f"strategies: unknown kind {item.kind!r}; known kinds: {known}{hint}") from None
    given = [key for key in ORDER_KEYS if key in item.params]
    if given and not issubclass(cls, OrderKeys):
        raise SpecError(f"{where or item.where}: {given[0]} applies to signal strategies (sma_crossover, signal, "
                        f"python with signal = true); {item.kind} is an allocation strategy, with no entries to stop")
    return cls(**{"name": item.label, **strategy_params(cls, item.table, where or item.where)})


@dataclass(frozen=True)
class BacktestPlan:
    """What a backtest decides on, before any decision: the spec, the market, the evaluation period [first,
    last], the panel strategies see (nothing after ``last``), the weight strategies built from the spec, the
    signal strategies with their parameters, and the decision bars."""

    spec: BacktestSpec
    market: MarketPanel
    first: int
    last: int
    panel: MarketPanel
    strategies: list[Any]
    signal_items: list[tuple[StrategySpec, Any]]
    decisions: np.ndarray

    def bars_of(self, strategy: Any) -> np.ndarray:
        """The decision bars of one weight strategy: the rebalance bars, only the first for those that never
        rebalance, or those a strategy picks from them (``decision_bars``: signal rules trade when they change)."""
        if hasattr(strategy, "decision_bars"):
            return strategy.decision_bars(self.panel, self.decisions)
        return self.decisions if getattr(strategy, "rebalances", True) else self.decisions[:1]


def backtest_plan(spec: BacktestSpec | dict[str, Any] | str | Path, data: Any = None) -> BacktestPlan:
    """Read the spec and the market (``data``: a frame instead of the spec's source), build its strategies and
    find the decision bars (what :func:`run_backtest` and :func:`qfin.backtests.check_lookahead` start from)."""
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    elif isinstance(spec, dict):
        spec = parse_spec(spec)
    market = load_market(spec, data)
    if spec.execution == "next_open" and market.open is None:
        raise SpecError(f"execution = 'next_open' needs open prices; {market.source} has closes only "
                        "(use execution = 'close' or a bars dataset)")
    first, last = evaluation_period(market, spec)
    check_benchmark(spec, market)
    panel = market.slice(0, last + 1)  # nothing after the period's last bar reaches a strategy
    weight_items = [s for s in spec.strategies if s.kind not in SIGNAL_STRATEGIES]
    signal_items = [(s, signal_params(s)) for s in spec.strategies if s.kind in SIGNAL_STRATEGIES]
    strategies = [_build_weight_strategy(item) for item in weight_items]
    for strategy in strategies:
        if strategy.lookback > first:
            raise SpecError(f"strategy {strategy.name!r}: lookback {strategy.lookback} bars is longer than the "
                            f"{first} bars of {market.source} before the period starts "
                            f"({market.timestamps[first].astype('M8[D]')}); start later or shorten the lookback")
    local = rebalance_bars(market.timestamps[first: last + 1], spec.rebalance)
    decisions = np.unique(np.concatenate(([0], local))) + first
    return BacktestPlan(spec, market, first, last, panel, strategies, signal_items, decisions)


def run_backtest(spec: BacktestSpec | dict[str, Any] | str | Path, out_dir: str | Path | None = None,
                 progress: bool = True, *, data: Any = None) -> BacktestResult:
    """Run every strategy of ``spec`` on the same dates, costs and execution; optionally write the outputs.

    ``spec`` is a :class:`BacktestSpec`, a dict of its keys, or a path to a TOML file. Weight strategies are
    invested at the first bar of the period and rebalanced at the last bar of each ``rebalance`` period;
    signal strategies trade whenever their signal changes. With ``out_dir`` the outputs are written (see
    :meth:`BacktestResult.write`); ``out_dir`` is checked before any work (:func:`qfin.data.check_output_dir`).
    ``data`` (a polars or pandas frame of Bars or Prices, or a :class:`qfin.data.MarketPanel`) is the market when
    the spec's ``[data]`` names no dataset or path (its start, end and assets still apply).
    """
    if out_dir is not None:
        check_output_dir(out_dir, "backtest")
    plan = backtest_plan(spec, data)
    spec, market, first, last, panel = plan.spec, plan.market, plan.first, plan.last, plan.panel
    close, open_ = panel.close, panel.open
    strategies, signal_items = plan.strategies, plan.signal_items
    costs = spec.costs  # `buy` / `sell` override `fee` for their side
    fees = Fees(buy=costs.fee if costs.buy is None else costs.buy, sell=costs.fee if costs.sell is None else costs.sell,
                slippage=costs.slippage, fixed=costs.fixed, method=costs.method)

    runs: dict[str, StrategyRun] = {}
    bars_of = {strategy.name: plan.bars_of(strategy) for strategy in strategies}
    with progress_bar(sum(len(bars) for bars in bars_of.values()), "fitting strategies", progress) as tick:
        decided = decide_all(strategies, panel, bars_of, tick)  # skfolio fits in worker processes
        for strategy in strategies:
            bars = bars_of[strategy.name]
            targets = decided[strategy.name]
            if is_signal_strategy(strategy) and not strategy.orders().plain:
                run = ordered_weights_run(strategy, targets, bars, panel, first, last, spec)
                runs[strategy.name] = StrategyRun(strategy.name, "signal", run.equity[:, 0], None, int(run.fills[0]),
                                                  float(run.costs[0]), float(run.turnover[0]), int(run.ruin_bar[0]),
                                                  trades_frame(run.trades, strategy.name, panel.assets,
                                                               market.timestamps[first: last + 1]))
                continue
            run = run_weights(close[first:], bars - first, targets,
                              open_=None if open_ is None else open_[first:], execution=spec.execution, fees=fees,
                              initial_cash=spec.initial_cash)
            runs[strategy.name] = StrategyRun(strategy.name, "weights", run.equity, run.weights,
                                              len(run.trade_bars), float(run.costs.sum()), float(run.turnover.sum()),
                                              run.ruin_bar,
                                              weights_trades(strategy.name, run, panel, first, last, spec.execution,
                                                             fees.effective_rates(), market.timestamps[first: last + 1])
                                              if is_signal_strategy(strategy) else None)
    for item, params in signal_items:
        runs[item.label] = _run_signal(item.label, params, market, first, last, spec)

    timestamps = market.timestamps[first: last + 1]
    metrics = {name: strategy_metrics(run.equity, run.traded_fraction, timestamps, spec.periods_per_year,
                                      initial_cash=spec.initial_cash)
               for name, run in runs.items()}
    for name, run in runs.items():
        if run.trades is not None:
            metrics[name].update(trade_statistics(run.trades, timestamps))
    notes = {
        "data": f"{market.source}: {len(market.assets)} asset{'s' if len(market.assets) != 1 else ''}, "
                f"{timestamps[0].astype('M8[D]')} .. "
                f"{timestamps[-1].astype('M8[D]')} ({len(timestamps)} bars)",
        "execution": ("decisions at each bar's close, filled at that close" if spec.execution == "close" else
                      "decisions at each bar's close, filled at the next bar's open"),
        "rebalance": f"{spec.rebalance} (weight strategies invest at the first bar, then rebalance at period ends)",
        "costs": (f"fees buy {fees.buy:.4%} / sell {fees.sell:.4%} of traded value, slippage {fees.slippage:.4%}, "
                  f"fixed {fees.fixed:g} per asset traded; {fees.method} cost model"),
        "initial cash": f"{spec.initial_cash:,.2f}",
    }
    benchmark = benchmark_returns(spec, market, first, last, runs)
    add_period_metrics(metrics, runs, spec, timestamps, benchmark)
    if benchmark is not None:
        notes["benchmark"] = benchmark.note
    result = BacktestResult(spec, timestamps, list(market.assets), runs, metrics, notes, benchmark)
    if out_dir is not None:
        result.write(out_dir)
    return result


@dataclass(frozen=True)
class SmaGrid:
    """SMA crossover runs, one column per (fast, slow) pair, on one asset over the evaluation period."""

    fast: np.ndarray
    slow: np.ndarray
    run: Any  # SignalsRun with [T, K] arrays


def run_sma_grid(label: str, params: SmaCrossoverParams, fast: np.ndarray, slow: np.ndarray,
                 market: MarketPanel, first: int, last: int, spec: BacktestSpec) -> SmaGrid:
    """Run SMA crossover columns for every (fast[k], slow[k]) in one vectorised pass (also serves sweeps); the
    other settings come from ``params`` (its own fast/slow are not used). Without order keys the pinned
    :func:`run_signals` runs them; with one the order simulator does (its run has the same [T, K] equity and
    [K] turnover, costs and ruin bars; ``fills`` for ``trades``)."""
    costs = spec.costs
    if costs.buy is not None or costs.sell is not None or costs.slippage or costs.fixed:
        raise SpecError(f"strategy {label!r} (sma_crossover) takes costs.fee only "
                        "(one rate on traded value at each fill)")
    asset = _signal_asset(label, params, market)
    fast, slow = np.asarray(fast, dtype=np.int64), np.asarray(slow, dtype=np.int64)
    bad = (fast < 1) | (fast >= slow)
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(f"strategy {label!r}: need 1 <= fast < slow, got fast={fast[k]}, slow={slow[k]}")
    if slow.max() > first + 1:
        raise SpecError(f"strategy {label!r}: slow window {slow.max()} bars is longer than the {first + 1} bars of "
                        f"{market.source} up to the period start; start later or shorten it")
    j = market.assets.index(asset)
    close = market.close[: last + 1, j]
    exposure = sma_crossover_exposure(close, fast, slow, long_short=params.long_short)
    # A position the signal already holds at the period start is entered at the first bar.
    open_ = None if market.open is None else market.open[first: last + 1, j]
    orders = params.orders()
    if not orders.plain:
        return SmaGrid(fast, slow, sma_orders_run(label, exposure[first:], orders, market, j, first, last, spec))
    run = run_signals(close[first:], exposure[first:], open_=open_, execution=spec.execution, fee=costs.fee,
                      integer_shares=not orders.fractional, initial_cash=spec.initial_cash)
    return SmaGrid(fast, slow, run)


def _signal_asset(label: str, params: SmaCrossoverParams, market: MarketPanel) -> str:
    """The asset a signal strategy trades: its ``asset`` key, or the market's only asset."""
    asset = params.asset if params.asset is not None else market.assets[0] if len(market.assets) == 1 else None
    if asset not in market.assets:
        raise SpecError(f"strategy {label!r}: set asset = one of {', '.join(market.assets)}")
    return asset


def signal_exposure(label: str, params: SmaCrossoverParams, market: MarketPanel):
    """(``exposure_of(close) -> [T]`` exposures of the signal strategy on one asset's closes, that asset's column)."""
    asset = _signal_asset(label, params, market)

    def exposure_of(close: np.ndarray) -> np.ndarray:
        return sma_crossover_exposure(close, np.array([params.fast]), np.array([params.slow]),
                                      long_short=params.long_short)[:, 0]

    return exposure_of, market.assets.index(asset)


def _run_signal(label: str, params: SmaCrossoverParams, market: MarketPanel, first: int, last: int,
                spec: BacktestSpec) -> StrategyRun:
    """The plain path is run_signals (pinned to vectorbt), its trades read from its shares; a run with order keys
    goes through the order simulator (qfin.backtests._signal_runs)."""
    grid = run_sma_grid(label, params, np.array([params.fast]), np.array([params.slow]), market, first, last, spec)
    j = market.assets.index(_signal_asset(label, params, market))
    timestamps = market.timestamps[first: last + 1]
    orders, run = params.orders(), grid.run
    if orders.plain:
        trades = signals_trades(label, run.position[:, 0], market.close[first: last + 1, j],
                                None if market.open is None else market.open[first: last + 1, j], spec.execution,
                                spec.costs.fee, market.assets[j], timestamps)
        return StrategyRun(label, "signal", run.equity[:, 0], None, int(run.trades[0]), float(run.costs[0]),
                           float(run.turnover[0]), int(run.ruin_bar[0]), trades)
    ordered = grid.run
    trades = trades_frame(ordered.trades, label, [market.assets[j]], timestamps)
    return StrategyRun(label, "signal", ordered.equity[:, 0], None, int(ordered.fills[0]), float(ordered.costs[0]),
                       float(ordered.turnover[0]), int(ordered.ruin_bar[0]), trades)
