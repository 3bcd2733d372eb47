"""qfin.risk.divergence against scipy (rel_entr, jensenshannon) and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr, xlogy

from qfin.errors import DataValidationError, QfinError
from qfin.risk.divergence import f_divergence, jeffreys_divergence, js_divergence, kl_divergence, reverse_kl_divergence

RNG = np.random.default_rng(5)
PAIRS = [
    (np.array([0.1, 0.4, 0.5]), np.array([0.3, 0.3, 0.4])),
    (RNG.dirichlet(np.ones(10)), RNG.dirichlet(np.ones(10))),
    (np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])),  # p has an empty bin: contributes 0
]


@pytest.mark.parametrize("p, q", PAIRS)
def test_against_scipy(p, q):
    kl_pq = rel_entr(p, q).sum()
    kl_qp = rel_entr(q, p).sum()
    assert kl_divergence(p, q) == pytest.approx(kl_pq, rel=1e-12)
    assert reverse_kl_divergence(p, q) == pytest.approx(kl_qp, rel=1e-12)
    assert jeffreys_divergence(p, q) == pytest.approx(kl_pq + kl_qp, rel=1e-12)
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-10)
    assert js_divergence(p, q, base=2) == pytest.approx(jensenshannon(p, q, base=2) ** 2, rel=1e-10)
    assert f_divergence(p, q, lambda t: xlogy(t, t)) == pytest.approx(kl_pq, rel=1e-12)
    if np.all(p > 0):
        assert f_divergence(p, q, lambda t: -np.log(t)) == pytest.approx(kl_qp, rel=1e-12)
        assert f_divergence(p, q, lambda t: (t - 1) * np.log(t)) == pytest.approx(kl_pq + kl_qp, rel=1e-12)
    assert f_divergence(p, q, lambda t: np.abs(t - 1) / 2) == pytest.approx(0.5 * np.abs(p - q).sum(), rel=1e-12)


def test_closed_forms_and_counts():
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    # counts are normalised: 10/30 bins == 1/3
    assert kl_divergence([10, 20], [30, 30]) == pytest.approx(kl_divergence([1 / 3, 2 / 3], [0.5, 0.5]))
    assert kl_divergence([0.2, 0.8], [0.2, 0.8]) == 0.0
    # disjoint supports: JS reaches its maximum log 2 (1 bit)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(math.log(2))
    assert js_divergence([1, 0], [0, 1], base=2) == pytest.approx(1.0)


def test_infinite_where_q_has_no_mass():
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert reverse_kl_divergence([1.0, 0.0], [0.5, 0.5]) == math.inf
    assert jeffreys_divergence([1.0, 0.0], [0.5, 0.5]) == math.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))
    with pytest.raises(DataValidationError, match="q is zero at bins \\[1\\]") as info:
        f_divergence([0.5, 0.5], [1.0, 0.0], lambda t: xlogy(t, t))
    assert info.value.rule == "support"


def test_bad_inputs():
    with pytest.raises(DataValidationError, match="p has negative entries at bins \\[1\\]"):
        kl_divergence([0.5, -0.1, 0.6], [0.3, 0.3, 0.4])
    with pytest.raises(DataValidationError, match="same bins; got 2 and 3"):
        kl_divergence([0.5, 0.5], [0.3, 0.3, 0.4])
    with pytest.raises(DataValidationError, match="q sums to 0"):
        js_divergence([0.5, 0.5], [0.0, 0.0])
    with pytest.raises(DataValidationError, match="q contains NaN"):
        jeffreys_divergence([0.5, 0.5], [np.nan, 1.0])
    with pytest.raises(DataValidationError, match="1-D"):
        kl_divergence(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(QfinError, match="base"):
        js_divergence([0.5, 0.5], [0.4, 0.6], base=1)
    with pytest.raises(QfinError, match="f must return"):
        f_divergence([0.0, 1.0], [0.5, 0.5], lambda t: t * np.log(t))  # nan at t = 0
    with pytest.raises(QfinError, match="f must be a function"):
        f_divergence([0.5, 0.5], [0.5, 0.5], "kl")
