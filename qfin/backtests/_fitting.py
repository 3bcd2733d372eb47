"""Deciding every weight strategy's targets: the skfolio baselines in parallel worker processes
(:func:`qfin.parallel.map`), the rest in this process.

The main job's time is its ~1,000 skfolio fits (one per strategy and decision bar, each a fresh cvxpy problem or
HRP tree, ~15-25 ms). They are independent across strategies, so each strategy's whole run of decisions is one task;
tasks go out costliest first (longest-processing-time order) so the workers finish together. A fit is a pure
function of its window, so a worker's targets are exactly this process's (the tests that pin them are unchanged).
A strategy's warnings (``fallback = "previous"``) are recorded in the worker and re-issued here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PARALLEL_MIN_FITS", "decide_all"]

PARALLEL_MIN_FITS = 200
"""Fewest skfolio fits in a run worth starting worker processes for (each costs ~2 s of imports on spawn)."""
# Relative cost of one decision by kind (CPU time per fit on sp500_stocks' 20 assets), for the task order only.
_COST = {"hrp": 1.2, "risk_parity": 1.1, "min_variance": 1.0, "max_sharpe": 1.0, "inverse_volatility": 0.1}


def _parallel_kinds() -> tuple[type, ...]:
    from qfin.backtests._strategies import _SkfolioStrategy

    return (_SkfolioStrategy,)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _decide_task(task: tuple[Any, Any, np.ndarray]) -> tuple[np.ndarray, list[tuple[str, type]]]:
    """One strategy's targets at its decision bars, and the warnings it issued (message, category)."""
    strategy, panel, bars = task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        targets = strategy.decide(panel, bars)
    return targets, [(str(w.message), w.category) for w in caught]


def decide_all(strategies: list[Any], panel: Any, bars_of: dict[str, np.ndarray], tick: Callable[[], object],
               n_workers: int | None = None) -> dict[str, np.ndarray]:
    """Targets [R, N + 1] of every strategy at its decision bars ``bars_of[name]``; ``tick`` is called once per
    decision. The skfolio baselines run in up to ``n_workers`` processes (default: the cores) when there are two or
    more of them and at least :data:`PARALLEL_MIN_FITS` fits; everything else here, in order."""
    heavy = [s for s in strategies if isinstance(s, _parallel_kinds())]
    workers = min(n_workers or _cores(), len(heavy))
    if workers < 2 or sum(len(bars_of[s.name]) for s in heavy) < PARALLEL_MIN_FITS:
        heavy = []
    targets: dict[str, np.ndarray] = {}
    if heavy:
        from qfin import parallel

        heavy.sort(key=lambda s: -_COST.get(s.kind, 1.0) * len(bars_of[s.name]))
        done = parallel.map(_decide_task, [(s, panel, bars_of[s.name]) for s in heavy], n_workers=workers,
                            progress=False)
        for strategy, (decided, caught) in zip(heavy, done, strict=True):
            for message, category in caught:
                warnings.warn(message, category, stacklevel=2)
            targets[strategy.name] = decided
            for _ in range(len(decided)):
                tick()
    for strategy in strategies:
        if strategy.name not in targets:
            targets[strategy.name] = strategy.decide(panel, bars_of[strategy.name], progress=tick)
    return {strategy.name: targets[strategy.name] for strategy in strategies}
