"""Monotone trends: the exact IV-maximising merge equals optbinning 1.0.0's CP solution and brute force; PAV and
its unimodal form; peak and valley recovered by StumpBinner; the auto choice; a trend the bins cannot show."""

import itertools
import math

import numpy as np
import pytest

from qfin.errors import DataValidationError
from qfin.scorecards import StumpBinner
from qfin.scorecards._trend import choose_trend, merge_starts, optimal_starts, turns

# optbinning 1.0.0 (ortools 9.15, solver="cp"): OptimalBinning(dtype="numerical", monotonic_trend=TREND,
# max_n_bins=K, min_bin_size=SHARE, user_splits=[0.5, 1.5, ..., 18.5]).fit(x, y).splits on the data of _prebins
# (x = the prebin index repeated cnt times, y = bad ones first); every status OPTIMAL. Keyed (data, TREND, K, SHARE).
OPTBINNING_1_0_0_SPLITS = {
    ('peak', 'ascending', 6, 0.05): [2.5, 4.5, 6.5, 8.5],
    ('peak', 'ascending', 4, 0.1): [2.5, 6.5, 8.5],
    ('peak', 'descending', 6, 0.05): [15.5, 17.5],
    ('peak', 'descending', 4, 0.1): [17.5],
    ('peak', 'peak', 6, 0.05): [6.5, 8.5, 10.5, 13.5, 15.5],
    ('peak', 'peak', 4, 0.1): [6.5, 8.5, 15.5],
    ('peak', 'valley', 6, 0.05): [3.5, 4.5, 6.5, 8.5],
    ('peak', 'valley', 4, 0.1): [2.5, 6.5, 8.5],
    ('valley', 'ascending', 6, 0.05): [15.5, 17.5],
    ('valley', 'ascending', 4, 0.1): [17.5],
    ('valley', 'descending', 6, 0.05): [2.5, 4.5, 6.5, 8.5],
    ('valley', 'descending', 4, 0.1): [2.5, 6.5, 8.5],
    ('valley', 'peak', 6, 0.05): [3.5, 4.5, 6.5, 8.5],
    ('valley', 'peak', 4, 0.1): [2.5, 6.5, 8.5],
    ('valley', 'valley', 6, 0.05): [6.5, 8.5, 10.5, 13.5, 15.5],
    ('valley', 'valley', 4, 0.1): [8.5, 13.5, 15.5],
    ('ascending', 'ascending', 6, 0.05): [2.5, 5.5, 7.5, 12.5, 17.5],
    ('ascending', 'ascending', 4, 0.1): [2.5, 7.5, 12.5],
    ('ascending', 'descending', 6, 0.05): [],
    ('ascending', 'descending', 4, 0.1): [],
    ('ascending', 'peak', 6, 0.05): [2.5, 5.5, 7.5, 12.5, 17.5],
    ('ascending', 'peak', 4, 0.1): [2.5, 7.5, 12.5],
    ('ascending', 'valley', 6, 0.05): [2.5, 5.5, 7.5, 12.5, 17.5],
    ('ascending', 'valley', 4, 0.1): [2.5, 7.5, 12.5],
    ('descending', 'ascending', 6, 0.05): [],
    ('descending', 'ascending', 4, 0.1): [],
    ('descending', 'descending', 6, 0.05): [3.5, 8.5, 13.5, 16.5, 18.5],
    ('descending', 'descending', 4, 0.1): [6.5, 11.5, 16.5],
    ('descending', 'peak', 6, 0.05): [3.5, 8.5, 13.5, 16.5, 18.5],
    ('descending', 'peak', 4, 0.1): [6.5, 11.5, 16.5],
    ('descending', 'valley', 6, 0.05): [3.5, 8.5, 13.5, 16.5, 18.5],
    ('descending', 'valley', 4, 0.1): [6.5, 11.5, 16.5],}


def _prebins(name):
    i = np.arange(20)
    cnt = 300 + 40 * (i % 5)
    shape = 0.10 + 0.25 * np.exp(-((i - 12) / 4.0) ** 2) + 0.03 * np.sin(3.0 * i)
    rate = {"peak": shape, "valley": 0.45 - shape, "ascending": 0.08 + 0.012 * i + 0.03 * np.sin(2.5 * i),
            "descending": 0.35 - 0.012 * i + 0.03 * np.sin(2.5 * i)}[name]
    return np.round(cnt * rate), cnt.astype(float)


@pytest.mark.parametrize("key", sorted(OPTBINNING_1_0_0_SPLITS))
def test_optimal_merge_equals_optbinning(key):
    name, trend, k, share = key
    bad, cnt = _prebins(name)
    starts = optimal_starts(bad, cnt, trend, k, math.ceil(share * cnt.sum()))
    assert (starts[1:] - 0.5).tolist() == OPTBINNING_1_0_0_SPLITS[key]


def _iv(bad, cnt, starts):
    b, n = np.add.reduceat(bad, starts), np.add.reduceat(cnt, starts)
    q, p = b / bad.sum(), (n - b) / (cnt - bad).sum()
    return float(np.sum((p - q) * np.log(p / q)))


def _follows(rates, trend):
    d = np.diff(rates)
    if trend == "none":
        return True
    if trend in ("ascending", "descending"):
        return bool(np.all(d >= 0) if trend == "ascending" else np.all(d <= 0))
    sign = 1 if trend == "peak" else -1
    return any(np.all(sign * d[:m] >= 0) and np.all(sign * d[m:] <= 0) for m in range(d.size + 1))


@pytest.mark.parametrize("trend", ["none", "ascending", "descending", "peak", "valley"])
def test_optimal_merge_is_the_brute_force_optimum(trend):
    rng = np.random.default_rng(7)
    for _ in range(15):
        cnt = rng.integers(40, 200, 9).astype(float)
        bad = np.round(cnt * rng.uniform(0.05, 0.5, 9))
        k, min_count = int(rng.integers(2, 6)), float(rng.integers(60, 250))
        best, best_iv = None, -np.inf
        for r in range(0, 8):
            for cuts in itertools.combinations(range(1, 9), r):
                starts = np.array([0, *cuts])
                n = np.add.reduceat(cnt, starts)
                if starts.size > k or n.min() < min_count:
                    continue
                if not _follows(np.add.reduceat(bad, starts) / n, trend):
                    continue
                iv = _iv(bad, cnt, starts)
                if iv > best_iv + 1e-12:
                    best, best_iv = starts, iv
        got = optimal_starts(bad, cnt, trend, k, min_count)
        if best is None:
            assert got.size == 0
        else:
            assert _iv(bad, cnt, got) == pytest.approx(best_iv, rel=1e-12)
            assert _follows(np.add.reduceat(bad, got) / np.add.reduceat(cnt, got), trend)


def test_pav_and_its_unimodal_form():
    bad, cnt = _prebins("peak")
    for trend in ("ascending", "descending", "peak", "valley"):
        starts = merge_starts(bad, cnt, trend)
        rates = np.add.reduceat(bad, starts) / np.add.reduceat(cnt, starts)
        assert _follows(rates, trend)
    # PAV's ascending fit of 3 bins with rates 0.1, 0.3, 0.2: the last two pool
    assert merge_starts(np.array([10.0, 30, 20]), np.array([100.0, 100, 100]), "ascending").tolist() == [0, 1]
    assert merge_starts(np.array([10.0, 30, 20]), np.array([100.0, 100, 100]), "peak").tolist() == [0, 1, 2]


def _hump(sign, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    p = 0.2 + sign * 0.15 * np.exp(-((x - 5) ** 2) / 4)
    return x[:, None], (rng.random(n) < p).astype(int)


@pytest.mark.parametrize("merge", ["pav", "optimal"])
@pytest.mark.parametrize("trend, sign", [("peak", 1), ("valley", -1), ("auto", 1), ("auto", -1)])
def test_peak_and_valley_recovered(trend, sign, merge):
    X, y = _hump(sign)
    b = StumpBinner(monotonic_trend=trend, monotonic_merge=merge).fit(X, y)
    cnt, bad = b.bin_counts_[0]
    k = b.bins_[0].n_regular
    rates = bad[:k] / cnt[:k]
    shape = "peak" if sign > 0 else "valley"
    assert _follows(rates, shape) and turns(rates, shape)
    t = np.r_[-np.inf, b.bins_[0].thresholds, np.inf]
    top = int(np.argmax(sign * rates))
    assert t[top] < 5.0 < t[top + 1]  # the turning bin holds the true turn, x = 5
    assert cnt[:k].min() >= 0.05 * X.shape[0]


def test_auto_keeps_a_monotone_trend_monotone():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 20_000)
    y = (rng.random(x.size) < 0.05 + 0.03 * x).astype(int)
    i = np.arange(8)
    trend, _, p = choose_trend(np.round((0.05 + 0.03 * i) * 1000), np.full(8, 1000.0))
    assert trend == "ascending" and p > 0.01
    b = StumpBinner(monotonic_trend="auto").fit(x[:, None], y)
    cnt, bad = b.bin_counts_[0]
    assert np.all(np.diff(bad[:-1] / cnt[:-1]) > 0)


def test_a_trend_the_bins_cannot_show_is_one_line():
    X, y = _hump(1)
    with pytest.raises(DataValidationError, match=r"feature 'x0': its event rate shows no valley trend") as e:
        StumpBinner(monotonic_trend="valley").fit(X, y)
    assert "\n" not in str(e.value) and "min_bin_share=0.05" in str(e.value)
    with pytest.raises(DataValidationError, match="no peak trend"):  # three bins of 40% cannot fit
        StumpBinner(monotonic_trend="peak", min_bin_share=0.4).fit(X, y)
    with pytest.raises(ValueError, match="monotonic_trend must be None, 'none', 'auto'"):
        StumpBinner(monotonic_trend="up").fit(X, y)
    with pytest.raises(ValueError, match="monotonic_merge must be 'pav' or 'optimal'"):
        StumpBinner(monotonic_trend="peak", monotonic_merge="milp").fit(X, y)
