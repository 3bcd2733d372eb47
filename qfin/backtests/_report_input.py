"""Checks on what a backtest report is given (one-line DataValidationError naming the input) and the return
series its figures are drawn from."""

from __future__ import annotations

import re

import numpy as np

from qfin.backtests._relative import DRAWDOWN_KEY
from qfin.errors import DataValidationError
from qfin.risk import simple_returns

__all__ = ["check_finite", "file_stems", "padded", "path_returns_of_values", "validated"]



def validated(timestamps, equity, weights, assets, metrics, rolling_window, periods_per_year):
    times = np.asarray(timestamps)
    if times.ndim != 1 or not np.issubdtype(times.dtype, np.datetime64):
        raise DataValidationError(f"timestamps must be a 1-D datetime64 array; got dtype {times.dtype}, shape "
                                  f"{times.shape}", rule="timestamps_dtype", column="timestamp")
    n_bars = times.shape[0]
    if n_bars < 2:
        raise DataValidationError(f"a report needs at least 2 bars; got {n_bars}", rule="too_few_bars",
                                  column="timestamp")
    missing = np.flatnonzero(np.isnat(times))
    if missing.size:
        raise DataValidationError(f"timestamps has NaT at rows {missing[:5].tolist()}; every bar needs a time",
                                  rule="missing_timestamps", column="timestamp", rows=missing[:5].tolist())
    unsorted = np.flatnonzero(np.diff(times) <= np.timedelta64(0))
    if unsorted.size:
        raise DataValidationError("timestamps must be strictly increasing; first offending rows "
                                  f"{(unsorted[:5] + 1).tolist()}", rule="unsorted_timestamps", column="timestamp",
                                  rows=(unsorted[:5] + 1).tolist())
    if isinstance(rolling_window, bool) or not isinstance(rolling_window, (int, np.integer)) or rolling_window < 2:
        raise DataValidationError(f"rolling_window must be an integer >= 2 (bars); got {rolling_window!r}",
                                  rule="rolling_window")
    if isinstance(periods_per_year, bool) or not isinstance(periods_per_year, (int, np.integer)) \
            or periods_per_year < 1:
        raise DataValidationError(f"periods_per_year must be a positive integer; got {periods_per_year!r}",
                                  rule="periods_per_year")
    if not equity:
        raise DataValidationError("equity is empty: pass at least one strategy's value path", rule="empty")
    equity_arrays = {}
    for name, values in equity.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n_bars,):
            raise DataValidationError(f"equity[{name!r}] has shape {values.shape}; expected ({n_bars},), one value "
                                      "per timestamp", rule="shape_mismatch", column=name)
        check_finite(values, f"equity[{name!r}]", name)
        equity_arrays[name] = values
    weight_arrays = {}
    for name, values in weights.items():
        values = np.asarray(values, dtype=np.float64)
        if name not in equity_arrays:
            raise DataValidationError(f"weights[{name!r}] has no equity path; weight strategies must be a subset of "
                                      f"equity's ({', '.join(map(str, equity_arrays))})", rule="unknown_strategy",
                                      column=name)
        if values.shape != (n_bars, len(assets) + 1):
            raise DataValidationError(f"weights[{name!r}] has shape {values.shape}; expected ({n_bars}, "
                                      f"{len(assets) + 1}): one row per timestamp, cash then the {len(assets)} "
                                      "assets", rule="shape_mismatch", column=name)
        check_finite(values, f"weights[{name!r}]", name)
        weight_arrays[name] = values
    for name, row in metrics.items():
        for key, value in row.items():
            if key == "ruined" and isinstance(value, (bool, np.bool_)):
                continue
            if key == "ruin_date" and (value is None or isinstance(value, str)):
                continue
            if value is None or key == DRAWDOWN_KEY and isinstance(value, list):
                continue  # an undefined ratio (null in metrics.json); the drawdown periods have their own table
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise DataValidationError(f"metrics[{name!r}][{key!r}] must be a number; got {value!r}",
                                          rule="metric_value", column=key)
    return times, equity_arrays, weight_arrays


def path_returns_of_values(values: np.ndarray) -> np.ndarray:
    """Bar-to-bar simple returns of a value path [T] up to its ruin: [T - 1] returns, or for a path that reaches
    a value <= 0 at bar k (the engine holds it at 0 from there on) the k returns up to that bar, the last -100%
    (or beyond, for a path not from the engine); past it a return is undefined."""
    ruined = np.flatnonzero(values <= 0.0)
    if not ruined.size:
        return simple_returns(values)
    end = int(ruined[0])
    return simple_returns(values[: end + 1]) if end > 0 else np.empty(0)


def padded(measure, returns: np.ndarray, n_returns: int) -> np.ndarray:
    """``measure(returns)`` followed by NaN up to ``n_returns`` entries (the bars after a ruin)."""
    out = np.full(n_returns, np.nan)
    if returns.size:
        out[: returns.size] = measure(returns)
    return out


def check_finite(values: np.ndarray, what: str, column: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1))
    if bad.size:
        raise DataValidationError(f"{what} has NaN or infinite values at rows {bad[:5].tolist()}; values must be "
                                  "finite", rule="non_finite", column=column, rows=bad[:5].tolist())


def file_stems(names: list[str]) -> dict[str, str]:
    """Strategy name -> a file-name-safe, unique stem."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "strategy"
        stem, k = base, 2
        while stem in taken:
            stem, k = f"{base}_{k}", k + 1
        taken.add(stem)
        stems[name] = stem
    return stems
