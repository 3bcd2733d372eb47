"""Run a trained agent over a span, deterministically, and summarise runs across seeds.

:func:`rollout` steps the agent's own environment (same costs and dynamics as training) over a whole span
(``episode_length=None``). :func:`summarize_seeds` reports each metric's mean and sample spread across seeds and
the probabilistic Sharpe ratio (Bailey & Lopez de Prado 2012, :func:`qfin.risk.probabilistic_sharpe_ratio`) of
each seed's returns against the benchmark's Sharpe ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checkpoint import Agent

__all__ = ["Rollout", "rollout", "summarize_seeds"]


@dataclass(frozen=True)
class Rollout:
    """One deterministic pass: dates [T + 1], values [T + 1] (from ``initial_value``), returns [T] (net of
    costs), target weights [T, N + 1] (cash first)."""

    dates: np.ndarray
    values: np.ndarray
    returns: np.ndarray
    weights: np.ndarray


def rollout(agent: Agent, **overrides: Any) -> Rollout:
    """Run ``agent`` deterministically through its portfolio env over one whole span (``overrides`` such as
    ``start``/``end`` pick it; ``episode_length`` is forced to None)."""
    env = agent.make_env(**{**overrides, "episode_length": None})
    obs, info = env.reset()
    dates, values, returns, weights = [info["date"]], [info["value"]], [], []
    done = False
    while not done:  # the span's end terminates; a time limit (truncated) ends the pass too
        obs, _, terminated, truncated, info = env.step(agent.predict(obs, deterministic=True))
        done = terminated or truncated
        dates.append(info["date"])
        values.append(info["value"])
        returns.append(info["return"])
        weights.append(info["target_weights"])
    env.close()
    return Rollout(np.array(dates), np.array(values, dtype=np.float64), np.array(returns, dtype=np.float64),
                   np.array(weights, dtype=np.float64))


def summarize_seeds(returns_by_seed: dict[Any, np.ndarray], benchmark: np.ndarray,
                    periods_per_year: float = 252) -> dict[str, dict[str, float]]:
    """Per metric: mean and spread (sample std, ddof 1; NaN for one seed) across seeds of annualised Sharpe, CAGR,
    max drawdown, plus the mean probabilistic Sharpe ratio P(SR > SR_benchmark) of the per-period returns; the
    benchmark's own figures under ``"benchmark"``."""
    from qfin.risk import cagr, max_drawdown, probabilistic_sharpe_ratio, sharpe_ratio

    bench = np.asarray(benchmark, dtype=np.float64)
    bench_sr_period = float(sharpe_ratio(bench, periods_per_year=1))
    rows: dict[str, list[float]] = {"sharpe": [], "cagr": [], "max_drawdown": [], "psr_vs_benchmark": []}
    for r in returns_by_seed.values():
        r = np.asarray(r, dtype=np.float64)
        rows["sharpe"].append(float(sharpe_ratio(r, periods_per_year=periods_per_year)))
        rows["cagr"].append(float(cagr(r, periods_per_year=periods_per_year)))
        rows["max_drawdown"].append(float(max_drawdown(r)))
        rows["psr_vs_benchmark"].append(float(probabilistic_sharpe_ratio(r, benchmark_sharpe=bench_sr_period)))
    out = {k: {"mean": float(np.mean(v)), "spread": float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"),
               "n_seeds": len(v)} for k, v in rows.items()}
    out["benchmark"] = {"sharpe": float(sharpe_ratio(bench, periods_per_year=periods_per_year)),
                        "cagr": float(cagr(bench, periods_per_year=periods_per_year)),
                        "max_drawdown": float(max_drawdown(bench))}
    return out


def evaluate(agents: dict[str, Any], spec: dict[str, Any], benchmark: str = "equal_weight",
             out_dir: Any = None, progress: bool = False) -> tuple[Any, dict[str, Any]]:
    """Backtest several agents (e.g. one per training seed) beside the spec's baselines, then summarise them.

    Parameters
    ----------
    agents : name -> agent folder (``train_agent``'s out_dir or a checkpoint); each becomes a ``kind = "agent"``
        strategy appended to ``spec["strategies"]``.
    spec : a backtest spec as a dict (see :mod:`qfin.backtests`); it must include the ``benchmark`` strategy.
    benchmark : the strategy whose Sharpe ratio the probabilistic Sharpe ratio is measured against.
    out_dir : where the backtest writes metrics.json, equity.parquet and its report (all equity curves plotted).

    Returns (the :class:`qfin.backtests.BacktestResult`, :func:`summarize_seeds` of the agents' returns, with each
    strategy's metrics under ``"per_strategy"``).
    """
    from qfin.backtests import run_backtest

    spec = {**spec, "strategies": [*spec.get("strategies", []),
                                   *({"kind": "agent", "name": name, "path": str(path)}
                                     for name, path in agents.items())]}
    result = run_backtest(spec, out_dir=out_dir, progress=progress)
    if benchmark not in result.runs:
        from qfin.errors import SpecError

        raise SpecError(f"benchmark {benchmark!r} is not a strategy of the spec; strategies: {', '.join(result.runs)}")

    def returns(name: str) -> np.ndarray:  # as the metrics see them: from the initial cash, up to a ruin
        return result.returns(name)

    summary = summarize_seeds({name: returns(name) for name in agents}, returns(benchmark),
                              periods_per_year=result.spec.periods_per_year)
    summary["per_strategy"] = result.metrics
    return result, summary
