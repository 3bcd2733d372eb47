"""Depth-1 gradient boosting of one feature on its histogram: XGBoost's stump model without XGBoost.

A model whose every tree splits the same single feature gives every row of a prebin the same margin, so the
whole fit runs on the prebin totals (rows and bad rows per prebin, plus the missing rows): one pass over the
data, then ``n_estimators`` rounds on arrays of at most ``max_prebins`` + 1 entries, whatever n is.

Each round is XGBoost's ``binary:logistic`` with ``tree_method="hist"``, ``max_depth=1`` (Chen & Guestrin 2016,
eqs. 5-7): gradients g = n p - bad and hessians h = n p (1 - p) per prebin at the current margin; a split after
prebin s scores GL^2/(HL+lambda) + GR^2/(HR+lambda) - G^2/(H+lambda) with HL, HR >= ``min_child_weight``;
missing rows go right first and, when there are any, left too (the better direction is kept); no split with
gain above 1e-6 leaves the tree a single leaf; leaves add ``learning_rate`` * (-G/(H+lambda)) to the margin.
Prebin cut points follow XGBoost's: the distinct float32 values above the least one when there are at most
``max_prebins`` of them (then the cut points are XGBoost's exactly, tests/scorecards), else
``max_prebins`` sample quantiles (XGBoost sketches its quantiles, so there its cuts differ slightly).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["prebin_cuts", "stump_boost"]

LAMBDA = 1.0
MIN_CHILD_WEIGHT = 1.0
RT_EPS = 1e-6


def prebin_cuts(x: np.ndarray, max_prebins: int) -> np.ndarray:
    """float32 ascending cut points of the non-NaN values of x (a value v goes to prebin #{cuts <= v})."""
    return _cuts_of_sorted(np.sort(x[~np.isnan(x)].astype(np.float32)), max_prebins)


def _cuts_of_sorted(v: np.ndarray, max_prebins: int) -> np.ndarray:
    if v.size == 0:
        return v
    distinct = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    if distinct.size <= max_prebins:
        return v[distinct[1:]]
    q = v[(np.arange(1, max_prebins) * v.size) // max_prebins]
    q = np.unique(q)
    return q[q > v[0]]


def sorted_histogram(x: np.ndarray, y: np.ndarray, max_prebins: int) -> tuple[np.ndarray, ...]:
    """(cuts, rows per prebin, bad rows per prebin, missing rows, missing bad rows) of x [n] and y [n] 0/1.

    One sort of 64-bit keys (the float32 value's order-preserving bit pattern, then the 0/1 target in the low
    bit) gives the sorted values and the target in the same order, so the prebin totals are differences of
    positions and of a running sum: no per-row search."""
    keys, miss = _keys(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y))
    keys.sort()
    v, running = _decode(keys)
    cuts = _cuts_of_sorted(v, max_prebins)
    edges = np.empty(cuts.size + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, v.size
    edges[1:-1] = np.searchsorted(v, cuts, side="left")
    return cuts, np.diff(edges).astype(np.float64), np.diff(running[edges]), miss[0], miss[1]


@numba.njit(cache=True)
def _keys(x, y):
    """The sort keys of the non-missing rows (module notes of :func:`sorted_histogram`) and the missing totals."""
    keys = np.empty(x.size, dtype=np.int64)
    x32 = np.empty(x.size, dtype=np.float32)
    for i in range(x.size):
        x32[i] = x[i]
    as_int = x32.view(np.int32)
    miss = np.zeros(2)
    m = 0
    for i in range(x.size):
        if math.isnan(x[i]):
            miss[0] += 1.0
            miss[1] += y[i]
            continue
        bits = np.int64(as_int[i])
        keys[m] = ((bits ^ ((bits >> 31) & 0x7FFFFFFF)) << 1) | np.int64(y[i])  # float order as integers
        m += 1
    return keys[:m], miss


@numba.njit(cache=True)
def _decode(keys):
    """Sorted float32 values and the running count of bad rows ([m + 1], from 0) of sorted keys."""
    v = np.empty(keys.size, dtype=np.int32)
    running = np.zeros(keys.size + 1)
    for i in range(keys.size):
        back = keys[i] >> 1
        v[i] = np.int32(back ^ ((back >> 31) & 0x7FFFFFFF))
        running[i + 1] = running[i] + (keys[i] & 1)
    return v.view(np.float32), running


def stump_boost(x: np.ndarray, y: np.ndarray, n_estimators: int = 30, learning_rate: float = 0.3,
                max_prebins: int = 256, base_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds float32 ascending, total gain of each) of the depth-1 boosted model of y on the column x.

    x : [n] float64 (NaN = missing).  y : [n] 0/1.  The arguments are XGBoost's (``max_prebins`` = ``max_bin``);
    ``base_score`` defaults to the clipped mean of y, as in :func:`qfin.scorecards._binning.stump_thresholds`.
    """
    cuts, cnt, bad, miss_cnt, miss_bad = sorted_histogram(x, y, max_prebins)
    if cuts.size == 0:
        return cuts, np.empty(0)
    base = float(np.clip(y.mean(), 1e-6, 1 - 1e-6)) if base_score is None else base_score
    return _boost(cnt, bad, miss_cnt, miss_bad, cuts, n_estimators, learning_rate, math.log(base / (1 - base)))


@numba.njit(cache=True)
def _boost(cnt, bad, miss_cnt, miss_bad, cuts, n_estimators, eta, margin0):
    """The rounds of :func:`stump_boost` on the prebin totals; returns the used cut points and their gains."""
    k = cnt.size
    margin = np.full(k, margin0)
    miss_margin = margin0
    gains = np.zeros(k - 1)
    used = np.zeros(k - 1, dtype=np.bool_)
    g = np.empty(k)
    h = np.empty(k)
    for _ in range(n_estimators):
        G = 0.0
        H = 0.0
        for i in range(k):
            p = 1.0 / (1.0 + math.exp(-margin[i]))
            g[i] = cnt[i] * p - bad[i]
            h[i] = cnt[i] * p * (1.0 - p)
            G += g[i]
            H += h[i]
        pm = 1.0 / (1.0 + math.exp(-miss_margin))
        gm = miss_cnt * pm - miss_bad
        hm = miss_cnt * pm * (1.0 - pm)
        G += gm
        H += hm
        parent = G * G / (H + LAMBDA)
        best, split, left_missing = RT_EPS, -1, False
        best_gl, best_hl = 0.0, 0.0
        for direction in range(2 if miss_cnt > 0 else 1):
            gl = gm if direction == 1 else 0.0  # direction 1: the missing rows go left
            hl = hm if direction == 1 else 0.0
            for s in range(k - 1):
                gl += g[s]
                hl += h[s]
                hr = H - hl
                if hl < MIN_CHILD_WEIGHT or hr < MIN_CHILD_WEIGHT:
                    continue
                gr = G - gl
                gain = gl * gl / (hl + LAMBDA) + gr * gr / (hr + LAMBDA) - parent
                if gain > best:
                    best, split, left_missing, best_gl, best_hl = gain, s, direction == 1, gl, hl
        if split < 0:  # a single leaf
            w = -G / (H + LAMBDA) * eta
            for i in range(k):
                margin[i] += w
            miss_margin += w
            continue
        wl = -best_gl / (best_hl + LAMBDA) * eta
        wr = -(G - best_gl) / (H - best_hl + LAMBDA) * eta
        for i in range(k):
            margin[i] += wl if i <= split else wr
        miss_margin += wl if left_missing else wr
        gains[split] += best
        used[split] = True
    return cuts[used], gains[used]
