"""Monotone event-rate trends across a feature's bins: ascending, descending, peak, valley, and the merges.

Two merges enforce a trend on consecutive bins (``bad``, ``cnt``: bad and total rows per bin, in order):

- "pav": pool adjacent violators (Barlow et al. 1972), the maximum-likelihood monotone step function. A peak or
  valley is PAV ascending up to a turning bin m and descending after it (reversed for a valley), m chosen by the
  binomial log-likelihood (unimodal regression, Frisen 1986). Merging only pools bins, so a minimum size holds.
- "optimal": the partition of the bins into at most ``max_bins`` runs, each of at least ``min_count`` rows, that
  maximises the IV (unsmoothed Jeffreys divergence, optbinning's objective) under the trend, found exactly by
  dynamic programming over (run end, run start, phase) in O(K P^3). Peak/valley: an ascending (descending)
  prefix then a descending (ascending) suffix, no constraint across the turn: optbinning 1.0.0's CP model.

"auto" chooses by a test: the direction is the sign of the count-weighted covariance of event rate and bin
index (ascending if >= 0); the trend becomes a peak or valley only when the unimodal PAV fit beats that monotone
fit by a likelihood-ratio statistic G = 2 (loglik_unimodal - loglik_monotone) with chi2(1) p-value below 0.01
(the chi-square is an approximation: the turning point is chosen, so the test is somewhat liberal).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["TRENDS", "choose_trend", "merge_starts", "optimal_starts", "loglik", "turns"]

TRENDS = ("ascending", "descending", "peak", "valley")
AUTO_P_VALUE = 0.01


def loglik(bad: np.ndarray, cnt: np.ndarray, starts: np.ndarray) -> float:
    """Binomial log-likelihood of the bins pooled into runs beginning at ``starts`` (ascending, first 0)."""
    b = np.add.reduceat(bad, starts)
    n = np.add.reduceat(cnt, starts)
    r = b / np.maximum(n, 1e-300)
    from scipy.special import xlogy
    return float(np.sum(xlogy(b, r) + xlogy(n - b, 1.0 - r)))


def _pav(bad: np.ndarray, cnt: np.ndarray, ascending: bool) -> list[int]:
    """First-bin indices of the PAV runs (strictly monotone rates between runs)."""
    sign = 1.0 if ascending else -1.0
    blocks: list[list[float]] = []  # [first bin, bad, count]
    for i in range(bad.size):
        blocks.append([i, float(bad[i]), float(cnt[i])])
        while len(blocks) > 1 and sign * (blocks[-2][1] / blocks[-2][2] - blocks[-1][1] / blocks[-1][2]) >= 0:
            last = blocks.pop()
            blocks[-1][1] += last[1]
            blocks[-1][2] += last[2]
    return [int(b[0]) for b in blocks]


def _unimodal(bad: np.ndarray, cnt: np.ndarray, peak: bool) -> np.ndarray:
    """PAV runs for a peak (valley): rising (falling) on bins 0..m, falling (rising) after, the m of best fit."""
    best, best_ll = None, -math.inf
    for m in range(bad.size):
        left = _pav(bad[: m + 1], cnt[: m + 1], ascending=peak)
        right = [m + 1 + s for s in _pav(bad[m + 1:], cnt[m + 1:], ascending=not peak)] if m + 1 < bad.size else []
        starts = np.array(left + right, dtype=np.int64)
        ll = loglik(bad, cnt, starts)
        if ll > best_ll + 1e-9:
            best, best_ll = starts, ll
    return best


def merge_starts(bad: np.ndarray, cnt: np.ndarray, trend: str) -> np.ndarray:
    """First-bin indices of the PAV runs that make the event rate follow ``trend`` (one of :data:`TRENDS`)."""
    bad, cnt = np.asarray(bad, dtype=np.float64), np.asarray(cnt, dtype=np.float64)
    if trend in ("ascending", "descending"):
        return np.array(_pav(bad, cnt, trend == "ascending"), dtype=np.int64)
    return _unimodal(bad, cnt, trend == "peak")


def _direction(bad: np.ndarray, cnt: np.ndarray) -> str:
    idx = np.arange(bad.size)
    w = cnt / cnt.sum()
    rate = bad / np.maximum(cnt, 1)
    return "ascending" if np.sum(w * (idx - w @ idx) * (rate - w @ rate)) >= 0 else "descending"


def choose_trend(bad: np.ndarray, cnt: np.ndarray) -> tuple[str, float, float]:
    """The "auto" choice (module notes): (trend, G statistic, chi2(1) p-value of unimodal against monotone)."""
    from scipy import stats

    bad, cnt = np.asarray(bad, dtype=np.float64), np.asarray(cnt, dtype=np.float64)
    monotone = _direction(bad, cnt)
    ll_mono = loglik(bad, cnt, merge_starts(bad, cnt, monotone))
    if bad.size < 3:
        return monotone, 0.0, 1.0
    fits = {t: loglik(bad, cnt, merge_starts(bad, cnt, t)) for t in ("peak", "valley")}
    shape = max(fits, key=lambda t: fits[t])
    g = max(2.0 * (fits[shape] - ll_mono), 0.0)
    p = float(stats.chi2.sf(g, 1))
    return (shape if p < AUTO_P_VALUE else monotone), g, p


def turns(rates: np.ndarray, trend: str) -> bool:
    """Whether rates of consecutive bins show the trend itself: a rise (ascending), a fall (descending), or a
    rise then a fall (peak; a fall then a rise for a valley)."""
    d = np.diff(np.asarray(rates, dtype=np.float64))
    if trend == "ascending":
        return bool(np.any(d > 0))
    if trend == "descending":
        return bool(np.any(d < 0))
    up, down = (d > 0, d < 0) if trend == "peak" else (d < 0, d > 0)
    return bool(up.any() and down.any() and np.flatnonzero(up)[0] < np.flatnonzero(down)[-1])


_RELATIONS = {"none": (0, 0), "ascending": (1, 1), "descending": (-1, -1), "peak": (1, -1), "valley": (-1, 1)}


def optimal_starts(bad: np.ndarray, cnt: np.ndarray, trend: str, max_bins: int, min_count: float) -> np.ndarray:
    """First-prebin indices of the IV-maximising merge under ``trend`` ("none" or one of :data:`TRENDS`), at most
    ``max_bins`` runs of at least ``min_count`` rows (module notes). Empty when no partition satisfies the sizes."""
    bad, cnt = np.asarray(bad, dtype=np.float64), np.asarray(cnt, dtype=np.float64)
    r0, r1 = _RELATIONS[trend]
    starts = _optimal(bad, cnt, r0, r1, int(max_bins), float(min_count))
    return starts


@numba.njit(cache=True)
def _optimal(bad, cnt, rel0, rel1, max_bins, min_count):
    """DP of :func:`optimal_starts`. rel: +1 rate non-decreasing, -1 non-increasing, 0 free, per phase."""
    p = bad.size
    cb = np.zeros(p + 1)
    cn = np.zeros(p + 1)
    for i in range(p):
        cb[i + 1] = cb[i] + bad[i]
        cn[i + 1] = cn[i] + cnt[i]
    tb = cb[p]
    tg = cn[p] - tb
    value = np.full((p + 1, p + 1), -np.inf)
    rate = np.zeros((p + 1, p + 1))
    for a in range(p):
        for b in range(a + 1, p + 1):
            n = cn[b] - cn[a]
            if n < min_count or n <= 0:
                continue
            e = cb[b] - cb[a]
            g = n - e
            q = max(e / tb, 0.5 / tb)  # optbinning's Jeffreys term; a half-count guard for an empty cell
            pg = max(g / tg, 0.5 / tg)
            value[a, b] = (pg - q) * math.log(pg / q)
            rate[a, b] = e / n
    phases = 1 if rel0 == rel1 else 2
    neg = -np.inf
    best = np.full((max_bins + 1, p + 1, p + 1, 2), neg)
    back_a = np.full((max_bins + 1, p + 1, p + 1, 2), -1, dtype=np.int64)
    back_ph = np.full((max_bins + 1, p + 1, p + 1, 2), -1, dtype=np.int64)
    for b in range(1, p + 1):
        if value[0, b] > neg:
            for ph in range(phases):
                best[1, b, 0, ph] = value[0, b]
    for k in range(2, max_bins + 1):
        for b in range(1, p + 1):
            for a in range(1, b):
                v = value[a, b]
                if v == neg:
                    continue
                r = rate[a, b]
                for ph in range(phases):
                    rel = rel0 if ph == 0 else rel1
                    top = neg
                    arg_a, arg_ph = -1, -1
                    for prev_ph in range(ph + 1):
                        for a2 in range(a):
                            f = best[k - 1, a, a2, prev_ph]
                            if f == neg:
                                continue
                            if prev_ph == ph:
                                r2 = rate[a2, a]
                                if (rel > 0 and r2 > r) or (rel < 0 and r2 < r):
                                    continue
                            if f > top:
                                top, arg_a, arg_ph = f, a2, prev_ph
                    if arg_a >= 0:
                        best[k, b, a, ph] = top + v
                        back_a[k, b, a, ph] = arg_a
                        back_ph[k, b, a, ph] = arg_ph
    top = neg
    kk, aa, pp = -1, -1, -1
    for k in range(1, max_bins + 1):
        for a in range(p):
            for ph in range(phases):
                if best[k, p, a, ph] > top + 1e-12:
                    top, kk, aa, pp = best[k, p, a, ph], k, a, ph
    if kk < 0:
        return np.zeros(0, dtype=np.int64)
    out = np.zeros(kk, dtype=np.int64)
    b, a, ph = p, aa, pp
    for k in range(kk, 0, -1):
        out[k - 1] = a
        a2, ph2 = back_a[k, b, a, ph], back_ph[k, b, a, ph]
        b, a, ph = a, a2, ph2
    return out
