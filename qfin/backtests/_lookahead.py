"""Proof of no look-ahead for any strategy, user code included: decide again with the bars after each decision
perturbed, and report every decision that changed (``qfin backtest SPEC --check-lookahead``).

A strategy is only handed the market up to its decision bar, but a function can still reach further (the
window's arrays are views of the whole panel, a file read, a global). If a decision depends on nothing after
its bar, scrambling those bars cannot change it; if it changes, the strategy looked ahead. Every price field of
every bar after the decision bar is multiplied by a random factor (one per bar and asset, the same for open,
high, low and close, so bars stay consistent; volume by its own), with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qfin.data import MarketPanel
from qfin.errors import QfinError
from qfin.progress import progress_bar
from qfin.strategy import StrategyFitError, WeightStrategy

__all__ = ["LookaheadError", "LookaheadReport", "check_lookahead", "perturb_after"]

_ATOL = 1e-9  # weights equal to this: solvers are deterministic on the same input
_SIGNAL_BARS = 64  # bars checked per signal strategy (each check recomputes its signal over the whole period)


class LookaheadError(QfinError):
    """A strategy's decision changed when only bars after its decision bar were changed."""


@dataclass(frozen=True)
class LookaheadReport:
    """``checked``: decisions checked per strategy; ``changed``: one dict per decision that moved (strategy,
    decision index, bar, date, largest change of a weight or signal)."""

    checked: dict[str, int]
    changed: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return not self.changed

    def raise_if_changed(self) -> None:
        if self.changed:
            first = self.changed[0]
            names = sorted({c["strategy"] for c in self.changed})
            raise LookaheadError(f"look-ahead: {len(self.changed)} decision(s) changed when only later bars changed, "
                                 f"in {', '.join(names)}; first: {first['strategy']!r} at {first['date']} (bar "
                                 f"{first['bar']}), weights moved by {first['change']:.3g}")


def perturb_after(panel: MarketPanel, bar: int, rng: np.random.Generator, scale: float = 0.1) -> MarketPanel:
    """``panel`` with every bar after ``bar`` scrambled: prices times exp(N(0, scale)) per bar and asset (one
    factor for open, high, low and close), volume times its own factor. Bars up to ``bar`` are untouched."""
    later = panel.n_bars - bar - 1
    if later <= 0:
        return panel
    price = np.exp(rng.normal(0.0, scale, (later, panel.n_assets)))
    volume = np.exp(rng.normal(0.0, scale, (later, panel.n_assets)))
    changed = {}
    for name in panel.fields:
        values = getattr(panel, name).copy(order="K")  # same memory layout: the same BLAS sums
        values[bar + 1:] *= volume if name == "volume" else price
        changed[name] = values
    return replace(panel, **changed)


def _weights_changes(strategy, panel: MarketPanel, bars: np.ndarray, rng, tick) -> list[tuple[int, int, float]]:
    """(decision, bar, change) for each decision of a weight strategy that moved under the perturbation, or whose
    targets in the backtest (``decide``, which a strategy may compute in one pass) differ from its decision on
    the window ending at the bar."""
    fast = type(strategy).decide is not WeightStrategy.decide
    in_backtest = strategy.decide(panel, bars) if fast else None
    moved = []
    for k, bar in enumerate(bars):
        try:
            honest = strategy.weights_at(panel.window(int(bar)))
        except StrategyFitError:
            tick()
            continue  # a fit that fails on the real data is the backtest's business, not the check's
        scrambled = strategy.weights_at(perturb_after(panel, int(bar), rng).window(int(bar)))
        change = float(np.max(np.abs(np.asarray(scrambled) - np.asarray(honest))))
        if fast:
            change = max(change, float(np.max(np.abs(in_backtest[k] - honest))))
        if not change <= _ATOL:
            moved.append((k, int(bar), change))
        tick()
    return moved


def _signal_changes(exposure_of, close: np.ndarray, first: int, rng, tick) -> list[tuple[int, int, float]]:
    """(check, bar, change) for the sampled bars at which a signal up to the bar moved under the perturbation."""
    honest = exposure_of(close)
    bars = np.unique(np.linspace(first, len(close) - 2, _SIGNAL_BARS).astype(int))
    moved = []
    for k, bar in enumerate(bars):
        fake = close.copy()
        fake[bar + 1:] *= np.exp(rng.normal(0.0, 0.1, len(close) - bar - 1))
        change = float(np.max(np.abs(exposure_of(fake)[: bar + 1] - honest[: bar + 1])))
        if not change <= _ATOL:
            moved.append((k, int(bar), change))
        tick()
    return moved


def check_lookahead(spec: Any, seed: int = 0, progress: bool = True) -> LookaheadReport:
    """Check every strategy of a backtest spec (a path, dict or :class:`BacktestSpec`) for look-ahead."""
    from ._run import backtest_plan, signal_exposure

    plan = backtest_plan(spec)
    rng = np.random.default_rng(seed)
    checked: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    total = sum(len(plan.bars_of(s)) for s in plan.strategies) + _SIGNAL_BARS * len(plan.signal_items)
    with progress_bar(total, "checking look-ahead", progress) as tick:
        found = []
        for strategy in plan.strategies:
            bars = plan.bars_of(strategy)
            checked[strategy.name] = len(bars)
            found += [(strategy.name, *m) for m in _weights_changes(strategy, plan.panel, bars, rng, tick)]
        for item, params in plan.signal_items:
            exposure_of, column = signal_exposure(item.label, params, plan.market)
            moves = _signal_changes(exposure_of, plan.panel.close[:, column], plan.first, rng, tick)
            checked[item.label] = _SIGNAL_BARS
            found += [(item.label, *m) for m in moves]
    dates = plan.market.timestamps
    for name, k, bar, change in found:
        changed.append({"strategy": name, "decision": k, "bar": bar, "date": str(dates[bar].astype("M8[D]")),
                        "change": change})
    return LookaheadReport(checked, changed)
