"""Per-window feature building and z-scoring over the lookback only (no look-ahead).

A window holds ``lookback`` observed bars followed by bars that are to be predicted. The mean and standard
deviation of each feature are taken over the ``lookback`` rows alone, so nothing after the forecast origin can
leak into the inputs (Kronos, arXiv 2508.02739, sec. 3.1, z-scores the whole window during training; qfin does
not). :func:`denormalize` is the exact inverse of :func:`normalize` wherever the clip is not active.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataValidationError

FEATURES = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class WindowStats:
    """Per-window, per-feature statistics of the lookback: ``mean`` and ``scale`` of shape ``[..., 1, F]``."""

    mean: np.ndarray
    scale: np.ndarray


def bars_to_features(ohlcv: np.ndarray, log_volume: bool = True) -> np.ndarray:
    """OHLCV rows ``[T, 5]`` (float64) to model features: prices as they are, volume through ``log1p`` if asked."""
    x = np.array(ohlcv, dtype=np.float64, copy=True)
    if log_volume:
        x[..., 4] = np.log1p(np.maximum(x[..., 4], 0.0))
    return x


def features_to_bars(x: np.ndarray, log_volume: bool = True) -> np.ndarray:
    """Inverse of :func:`bars_to_features` (volume back through ``expm1``, floored at 0)."""
    out = np.array(x, dtype=np.float64, copy=True)
    if log_volume:
        out[..., 4] = np.maximum(np.expm1(out[..., 4]), 0.0)
    return out


def normalize(x: np.ndarray, lookback: int, clip: float = 5.0, eps: float = 1e-8
              ) -> tuple[np.ndarray, WindowStats]:
    """Z-score windows ``x[..., T, F]`` with the statistics of their first ``lookback`` rows only.

    ``z = clip((x - mean) / (std + eps), -clip, clip)`` where ``mean`` and ``std`` (population) run over rows
    ``0 .. lookback - 1``. Rows at and after ``lookback`` are transformed with those same statistics, so
    changing them changes nothing else. Returns ``z`` (same shape, float64) and the :class:`WindowStats`.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise DataValidationError(f"windows must be [..., T, F]; got shape {x.shape}", rule="bad_shape")
    if not 2 <= lookback <= x.shape[-2]:
        raise DataValidationError(
            f"lookback must be between 2 and the window length {x.shape[-2]}; got {lookback}",
            rule="too_short_lookback")
    if not np.isfinite(x).all():
        raise DataValidationError("windows contain NaN or inf; clean the bars first", rule="non_finite")
    past = x[..., :lookback, :]
    mean = past.mean(axis=-2, keepdims=True)
    scale = past.std(axis=-2, keepdims=True) + eps
    z = np.clip((x - mean) / scale, -clip, clip)
    return z, WindowStats(mean=mean, scale=scale)


def denormalize(z: np.ndarray, stats: WindowStats) -> np.ndarray:
    """Invert :func:`normalize`: ``z * scale + mean`` with the window's lookback statistics (float64)."""
    return np.asarray(z, dtype=np.float64) * stats.scale + stats.mean
