"""Argument checks shared by the pricing, calibration and hedging modules.

Errors are :class:`~qfin.errors.DataValidationError` (a ``ValueError``) naming the argument, via the same
``invalid`` helper the simulators use, so callers can catch ``QfinError`` or ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.simulate._common import invalid

__all__ = ["as_array", "check_kind", "invalid"]


def as_array(value: Any, name: str, *, positive: bool = False, non_negative: bool = False) -> np.ndarray:
    """``value`` as a finite float64 array (scalars become 0-d), or an error naming ``name``."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, f"expected a real number or an array of them, got {value!r}") from None
    if not np.isfinite(out).all():
        raise invalid(name, "contains NaN or infinite values; all entries must be finite")
    if positive and not (out > 0.0).all():
        raise invalid(name, f"must be > 0, got minimum {out.min()!r}")
    if non_negative and not (out >= 0.0).all():
        raise invalid(name, f"must be >= 0, got minimum {out.min()!r}")
    return out


def check_kind(kind: Any) -> np.ndarray:
    """Option kind(s) as a boolean array ``is_call``; accepts "call"/"put" or an array of them."""
    kinds = np.asarray(kind)
    ok = np.isin(kinds, ["call", "put"])
    if not ok.all():
        raise invalid("kind", f"must be 'call' or 'put', got {kinds[~ok].ravel()[0]!r}")
    return kinds == "call"
