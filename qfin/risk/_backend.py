"""Array backends for qfin.risk: turn user input into clean arrays, and give formulas numpy or torch ops.

Each risk formula is written once against the small set of operations below. ``namespace(x, ...)``
returns :data:`NUMPY` for numpy/list/polars/pandas input and the torch ops when any argument is a
``torch.Tensor``, so the same code returns a float for numpy input and a differentiable tensor for
torch input. torch is never imported here: a tensor can only exist once the caller has imported torch,
so it is looked up in ``sys.modules``.

Validation lives here too because every public function needs it at its boundary: non-numeric input,
NaN/inf, wrong rank and empty input raise :class:`qfin.errors.DataValidationError` naming the argument.
"""

from __future__ import annotations

import math
import sys
from numbers import Real
from typing import Any

import numpy as np

from qfin.errors import DataValidationError, QfinError

__all__ = ["NUMPY", "is_tensor", "namespace", "as_samples", "check_fraction", "check_positive"]

_MAX_ROWS_REPORTED = 5


def is_tensor(x: Any) -> bool:
    """True when ``x`` is a ``torch.Tensor`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class _NumpyOps:
    """numpy versions of the operations the risk formulas use; reductions run over ``axis`` 0."""

    is_torch = False

    @staticmethod
    def asarray(values: Any, like: Any = None) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)

    @staticmethod
    def sort(x: np.ndarray) -> np.ndarray:
        return np.sort(x, axis=0)

    @staticmethod
    def sum(x: np.ndarray) -> np.ndarray:
        return np.sum(x, axis=0)

    @staticmethod
    def mean(x: np.ndarray) -> np.ndarray:
        return np.mean(x, axis=0)

    @staticmethod
    def relu(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    @staticmethod
    def log_mean_exp(x: np.ndarray) -> np.ndarray:
        """log(mean(exp(x))) along axis 0, stably (see :func:`_log_mean_exp`)."""
        return _log_mean_exp(x, np.max(x, axis=0), np.expm1, np.log1p, _NumpyOps.mean)

    @staticmethod
    def quantile(x: np.ndarray, q: float) -> np.ndarray:
        return np.quantile(x, q, axis=0, method="linear")

    @staticmethod
    def result(x: Any) -> Any:
        """A Python float for a 0-d result, else the float64 array."""
        x = np.asarray(x, dtype=np.float64)
        return float(x) if x.ndim == 0 else x


class _TorchOps:
    """torch versions of the same operations (differentiable; reductions over dim 0)."""

    is_torch = True

    def __init__(self) -> None:
        self.torch = sys.modules["torch"]

    def asarray(self, values: Any, like: Any = None) -> Any:
        if like is None:
            return self.torch.as_tensor(values, dtype=self.torch.float64)
        return self.torch.as_tensor(values, dtype=like.dtype, device=like.device)

    def sort(self, x: Any) -> Any:
        return self.torch.sort(x, dim=0).values

    def sum(self, x: Any) -> Any:
        return self.torch.sum(x, dim=0)

    def mean(self, x: Any) -> Any:
        return self.torch.mean(x, dim=0)

    def relu(self, x: Any) -> Any:
        return self.torch.clamp(x, min=0.0)

    def log_mean_exp(self, x: Any) -> Any:
        # the shift is a constant for autograd: the result does not depend on it, and detaching it keeps the
        # gradient the exact softmax weights (as torch.logsumexp does)
        shift = self.torch.max(x, dim=0).values.detach()
        return _log_mean_exp(x, shift, self.torch.expm1, self.torch.log1p, self.mean)

    def quantile(self, x: Any, q: float) -> Any:
        return self.torch.quantile(x, q, dim=0, interpolation="linear")

    @staticmethod
    def result(x: Any) -> Any:
        return x


def _log_mean_exp(x: Any, shift: Any, expm1: Any, log1p: Any, mean: Any) -> Any:
    """log mean exp(x) = m + log1p(mean(expm1(x - m))) with m = max(x).

    Shifting by the max keeps exp from overflowing for any x (the log-sum-exp trick); expm1/log1p keep full
    precision when the x are close together (e.g. -lambda * pnl for a small lambda), where log(mean(exp))
    would lose everything below 1e-16 of 1. The mean of expm1(x - m) lies in (-1, 0], so log1p is finite.
    """
    return shift + log1p(mean(expm1(x - shift)))


NUMPY = _NumpyOps()


def namespace(*arrays: Any) -> _NumpyOps | _TorchOps:
    """The ops for these arguments: torch's when any of them is a tensor, numpy's otherwise."""
    return _TorchOps() if any(is_tensor(a) for a in arrays) else NUMPY


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):  # polars / pandas Series and DataFrames
        x = x.to_numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"{name} must be numbers (a 1-D or 2-D array, list or Series of floats); could not read it as "
            f"float64: {exc}", rule="not_numeric", column=name) from None


def as_samples(x: Any, name: str, *, ndims: tuple[int, ...] = (1, 2), min_rows: int = 1,
               allow_tensor: bool = True) -> Any:
    """Validate ``x`` as samples along axis 0 and return a float64 numpy array (or the tensor itself).

    Accepts numpy arrays, lists, polars/pandas Series or DataFrames and, when ``allow_tensor``, torch tensors
    (kept as tensors; integer tensors become float64). Raises :class:`DataValidationError` naming ``name``
    for non-numeric values, a rank outside ``ndims``, fewer than ``min_rows`` rows, or NaN/inf entries
    (with the first offending rows).
    """
    if is_tensor(x):
        if not allow_tensor:
            raise QfinError(f"{name} must be a numpy array, list or Series; torch tensors are not supported "
                            f"here (call .detach().cpu().numpy() first)")
        torch = sys.modules["torch"]
        if not (torch.is_floating_point(x)):
            x = x.to(torch.float64)
        arr, ndim, shape = x, x.dim(), tuple(x.shape)
    else:
        arr = _to_numpy(x, name)
        ndim, shape = arr.ndim, arr.shape
    if ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise DataValidationError(f"{name} must be a {wanted} array (samples along the first axis); got shape "
                                  f"{shape}", rule="shape", column=name)
    if shape[0] < min_rows:
        raise DataValidationError(f"{name} needs at least {min_rows} row(s); got {shape[0]}", rule="too_short",
                                  column=name)
    if ndim == 2 and shape[1] == 0:
        raise DataValidationError(f"{name} has no columns; pass at least one series", rule="too_short",
                                  column=name)
    if is_tensor(arr):
        finite = sys.modules["torch"].isfinite(arr.detach()).reshape(shape[0], -1).all(dim=1).cpu().numpy()
    else:
        finite = np.isfinite(arr).reshape(shape[0], -1).all(axis=1)
    bad_rows = np.flatnonzero(~finite).tolist()
    if bad_rows:
        shown = bad_rows[:_MAX_ROWS_REPORTED]
        raise DataValidationError(f"{name} contains NaN or infinite values at rows {shown}"
                                  f"{' ...' if len(bad_rows) > len(shown) else ''}; risk measures need finite "
                                  f"numbers, so drop or fill missing values first", rule="non_finite",
                                  column=name, rows=shown)
    return arr


def check_fraction(value: Any, name: str, *, low: float = 0.0, high: float = 1.0, low_open: bool = True,
                   high_open: bool = True) -> float:
    """``value`` as a float inside the interval (low, high) with the given open/closed ends, else QfinError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise QfinError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise QfinError(f"{name} must lie in {interval}; got {v!r}")
    return v


def check_positive(value: Any, name: str) -> Any:
    """A positive finite number (or a tensor whose entries are all positive and finite), else QfinError."""
    if is_tensor(value):
        torch = sys.modules["torch"]
        if not bool(torch.all(torch.isfinite(value.detach()) & (value.detach() > 0))):
            raise QfinError(f"{name} must be positive and finite; got a tensor with entries <= 0 or non-finite")
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(float(value)) and value > 0):
        raise QfinError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)
