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


FEATURE_KINDS = ("price", "return")
"""``price``: open, high, low, close as they are (Kronos). ``return``: each price as a log return from the previous
bar's close (``log(open_t / close_{t-1})`` .. ``log(close_t / close_{t-1})``), so a window z-scored on its lookback
puts every bar's move and range on the scale of that lookback's volatility."""


def bars_to_features(ohlcv: np.ndarray, log_volume: bool = True, kind: str = "price",
                     prev_close: float | np.ndarray | None = None) -> np.ndarray:
    """OHLCV rows ``[..., T, 5]`` (float64) to model features: volume through ``log1p`` if asked; prices as they
    are (``kind="price"``) or as log returns from the previous close (``kind="return"``; the close before row 0 is
    ``prev_close``, default row 0's own open)."""
    x = np.array(ohlcv, dtype=np.float64, copy=True)
    if log_volume:
        x[..., 4] = np.log1p(np.maximum(x[..., 4], 0.0))
    if kind == "return":
        close = x[..., 3]
        first = x[..., 0, 0] if prev_close is None else np.asarray(prev_close, dtype=np.float64)
        before = np.concatenate([np.expand_dims(first, -1), close[..., :-1]], axis=-1)
        x[..., :4] = np.log(np.maximum(x[..., :4], 1e-300) / before[..., None])
    elif kind != "price":
        raise DataValidationError(f"feature kind {kind!r}: accepted {list(FEATURE_KINDS)}", rule="bad_kind")
    return x


def features_to_bars(x: np.ndarray, log_volume: bool = True, kind: str = "price",
                     anchor: float | np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`bars_to_features` (volume back through ``expm1``, floored at 0). ``kind="return"``
    compounds the closes from ``anchor`` (the close before row 0, ``[...]`` over the leading axes)."""
    out = np.array(x, dtype=np.float64, copy=True)
    if log_volume:
        out[..., 4] = np.maximum(np.expm1(out[..., 4]), 0.0)
    if kind == "return":
        if anchor is None:
            raise ValueError("kind='return' needs anchor, the close before the first row")
        log_close = np.log(np.asarray(anchor, dtype=np.float64))[..., None] + np.cumsum(out[..., 3], axis=-1)
        before = np.concatenate([np.log(np.asarray(anchor, dtype=np.float64))[..., None] * np.ones(
            out.shape[:-2] + (1,)), log_close[..., :-1]], axis=-1)
        out[..., :4] = np.exp(before[..., None] + out[..., :4])
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
