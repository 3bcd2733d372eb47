"""Numba-compiled passes over the data for binning: every value is routed to its bin once per pass.

A feature's bins are given by float32 thresholds t_0 < ... < t_{k-1} and optional special values; a value goes
to (layout of :class:`qfin.scorecards.FeatureBins`):

- bin ``#{i : t_i <= float32(x)}`` (0..k), XGBoost's routing (``x < t`` goes left, compared in float32);
- bin ``k + 1`` if it is NaN (missing);
- bin ``k + 2 + s`` if it equals special value s.

Features are packed side by side by :func:`pack`: thresholds ``[d, m]`` float32 padded with +inf, their counts
``[d]``, specials ``[d, s]`` and their counts. The passes walk the [n, d] matrix row by row (one read of a
row-major matrix, whatever its layout), so a million rows of twenty features take tens of milliseconds, and
no [n] temporary is made per feature.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["bin_pass", "pack", "value_range"]


def pack(thresholds: list[np.ndarray], specials: list[list[float]]) -> tuple[np.ndarray, ...]:
    """Per-feature thresholds and special values as the padded arrays the passes take."""
    d = len(thresholds)
    width = max([1] + [t.size for t in thresholds])
    t_pad = np.full((d, width), np.inf, dtype=np.float32)
    n_t = np.zeros(d, dtype=np.int64)
    s_width = max([1] + [len(s) for s in specials])
    s_pad = np.zeros((d, s_width))
    n_s = np.zeros(d, dtype=np.int64)
    for j, (t, s) in enumerate(zip(thresholds, specials, strict=True)):
        t_pad[j, : t.size] = t
        n_t[j] = t.size
        s_pad[j, : len(s)] = s
        n_s[j] = len(s)
    return t_pad, n_t, s_pad, n_s


def bin_pass(X: np.ndarray, packed: tuple[np.ndarray, ...], y: np.ndarray | None = None,
             table: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Route every entry of X [n, d] (float64, any layout) to its bin under ``packed`` (:func:`pack`).

    With ``y`` ([n], 1 = bad): returns (counts, bads) [d, bins], the rows and bad rows of every bin. With
    ``table`` ([d, bins]): returns [n, d] ``table[j, bin]`` (bin indices from an identity table, WoE values,
    points), in table's dtype. Rows are split into one block per thread.
    """
    n, d = X.shape
    width = packed[0].shape[1] + 2 + packed[2].shape[1]
    blocks = max(1, min(numba.get_num_threads(), n // 10_000))
    if y is not None:
        counts = np.zeros((blocks, d, width))
        bads = np.zeros((blocks, d, width))
        _route(X, *packed, blocks, y, counts, bads, np.empty((0, 0)), np.empty((0, 0)))
        return counts.sum(axis=0), bads.sum(axis=0)
    out = np.empty((n, d), dtype=table.dtype)
    nothing = np.empty((0, 0, 0))
    _route(X, *packed, blocks, np.empty(0), nothing, nothing, np.ascontiguousarray(table), out)
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _route(X, thresholds, n_thresholds, specials, n_specials, blocks, y, counts, bads, table, out):
    """The pass of :func:`bin_pass`: block b of the rows adds to ``counts[b]``/``bads[b]`` when they have
    rows, and writes ``out`` when it has rows. (The routing is written inline: as a separate compiled
    function, its call costs four times the work.)"""
    n, d = X.shape
    count = counts.shape[0] > 0
    write = out.shape[0] > 0
    for block in numba.prange(blocks):
        for i in range(block * n // blocks, (block + 1) * n // blocks):
            for j in range(d):
                x = X[i, j]
                k = n_thresholds[j]
                if math.isnan(x):
                    b = k + 1
                else:
                    b = -1
                    for s in range(n_specials[j]):
                        if x == specials[j, s]:
                            b = k + 2 + s
                            break
                    if b < 0:
                        x32 = np.float32(x)
                        b = 0
                        for m in range(k):  # a few dozen cut points at most: counting beats a binary search
                            b += thresholds[j, m] <= x32
                if count:
                    counts[block, j, b] += 1.0
                    bads[block, j, b] += y[i]
                if write:
                    out[i, j] = table[j, b]


@numba.njit(cache=True, nogil=True)
def value_range(X):
    """Per column of X [n, d], the least and greatest non-NaN value (NaN for a column with none)."""
    n, d = X.shape
    low = np.full(d, np.nan)
    high = np.full(d, np.nan)
    for i in range(n):
        for j in range(d):
            x = X[i, j]
            if not math.isnan(x):
                if not x >= low[j]:  # also true while low[j] is NaN
                    low[j] = x
                if not x <= high[j]:
                    high[j] = x
    return low, high
