"""Argument checks and the random-number source shared by the simulators.

Each simulator validates its arguments here, once, at entry, and raises
:class:`~qfin.errors.DataValidationError` (a ``ValueError``) with ``rule="invalid_parameter"`` and
``column`` set to the argument's name, so callers can catch ``QfinError`` or ``ValueError``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ...errors import DataValidationError

Seed = int | np.random.Generator | None


def invalid(name: str, message: str) -> DataValidationError:
    """The error for a bad argument ``name``; ``message`` says what is wrong and what is accepted."""
    return DataValidationError(f"{name}: {message}", rule="invalid_parameter", column=name)


def real(value: Any, name: str) -> float:
    """``value`` as a finite float, or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, f"expected a finite real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise invalid(name, f"expected a finite real number, got {value!r}")
    return out


def positive(value: Any, name: str) -> float:
    """A finite float > 0."""
    out = real(value, name)
    if out <= 0.0:
        raise invalid(name, f"must be > 0, got {out!r}")
    return out


def non_negative(value: Any, name: str) -> float:
    """A finite float >= 0."""
    out = real(value, name)
    if out < 0.0:
        raise invalid(name, f"must be >= 0, got {out!r}")
    return out


def count(value: Any, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (numbers of paths and steps)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(name, f"expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise invalid(name, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def rng(seed: Any) -> np.random.Generator:
    """A numpy Generator from ``seed`` (None, a non-negative int, or a Generator used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise invalid("seed", f"expected None, a non-negative int or a numpy.random.Generator, got {seed!r}")


def paths_from_log_increments(s0: float, increments: np.ndarray) -> np.ndarray:
    """Prices ``[n_paths, n_steps + 1]`` from log-price increments ``[n_paths, n_steps]``; column 0 is ``s0``."""
    n_paths, n_steps = increments.shape
    log_path = np.empty((n_paths, n_steps + 1), dtype=np.float64)
    log_path[:, 0] = 0.0
    np.cumsum(increments, axis=1, out=log_path[:, 1:])
    np.exp(log_path, out=log_path)
    log_path *= s0
    return log_path
