"""Volatility baselines: closed forms recomputed by brute force, HAR-RV against a plain least-squares fit, GARCH
against arch called directly, and none of them reads a bar after its origin (perturb the future)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qfin.data.simulate import simulate_klines
from qfin.kline import garch_vol, har_rv_vol, persistence_vol, range_vol, trailing_vol, volatility_baselines


@pytest.fixture(scope="module")
def bars() -> np.ndarray:
    return simulate_klines(1, 1400, "garch", seed=5)[0]


def test_closed_forms_by_brute_force(bars):
    close, h = bars[:, 3], 16
    origins = np.array([100, 333, 1000])
    for i, o in enumerate(origins):
        r = [math.log(close[j] / close[j - 1]) for j in range(o - h + 1, o + 1)]
        assert persistence_vol(close, origins, h)[i] == pytest.approx(math.sqrt(sum(x * x for x in r)), rel=1e-12)
        r63 = [math.log(close[j] / close[j - 1]) for j in range(o - 62, o + 1)]
        assert trailing_vol(close, origins, h)[i] == pytest.approx(math.sqrt(h * np.mean(np.square(r63))),
                                                                   rel=1e-12)
        gk = []
        for j in range(o - 20, o + 1):
            op, hi, lo, cl = bars[j, :4]
            gk.append(0.5 * math.log(hi / lo) ** 2 - (2 * math.log(2) - 1) * math.log(cl / op) ** 2
                      + math.log(op / close[j - 1]) ** 2)
        assert range_vol(bars, origins, h)[i] == pytest.approx(math.sqrt(h * np.mean(gk)), rel=1e-12)


def test_har_rv_is_the_least_squares_fit_on_observed_targets(bars):
    close, h, o = bars[:, 3], 16, 900
    rr = np.diff(np.log(close)) ** 2
    rows, ys = [], []
    last = o - 1
    for k in range(max(21, last - 1000), last - h + 1):
        rows.append([1.0, rr[k], rr[k - 4:k + 1].mean(), rr[k - 21:k + 1].mean()])
        ys.append(rr[k + 1:k + h + 1].sum())
    beta = np.linalg.lstsq(np.array(rows), np.array(ys), rcond=None)[0]
    x = np.array([1.0, rr[last], rr[last - 4:last + 1].mean(), rr[last - 21:last + 1].mean()])
    assert har_rv_vol(close, np.array([o]), h)[0] == pytest.approx(math.sqrt(max(x @ beta, 0.1 * h * x[3])),
                                                                   rel=1e-9)


def test_garch_matches_arch_called_directly(bars):
    from arch import arch_model

    close, h, o = bars[:, 3], 16, 1000
    r = 100 * np.diff(np.log(close))[o - 750:o]
    res = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off")
    want = math.sqrt(res.forecast(horizon=h).variance.values[-1].sum()) / 100
    assert garch_vol(close, np.array([o]), h)[0] == pytest.approx(want, rel=1e-6)


def test_no_baseline_reads_a_bar_after_its_origin(bars):
    origins = np.arange(800, 1300, 50)
    base = volatility_baselines(bars, origins, 16)
    cut = 1000
    future = bars.copy()
    rng = np.random.default_rng(0)
    future[cut + 1:, :4] *= np.exp(rng.normal(0, 0.05, (len(bars) - cut - 1, 1)))
    future[cut + 1:, 1] *= 1.05
    moved = volatility_baselines(future, origins, 16)
    keep = origins <= cut
    for name in base:
        np.testing.assert_array_equal(base[name][keep], moved[name][keep], err_msg=name)
        assert not np.array_equal(base[name][~keep], moved[name][~keep]), name
