"""DifferentialSharpe against the Moody & Saffell equations written out here, and the first-order expansion
S_t ~ S_{t-1} + eta D_t that defines D_t."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.risk import DifferentialSharpe

RETURNS = np.random.default_rng(11).normal(0.0005, 0.01, 400)


def _paper_loop(returns, eta):
    """Moody & Saffell (2001): A_t, B_t exponential moving moments from A_0 = B_0 = 0, and
    D_t = (B_{t-1} dA - A_{t-1} dB / 2) / (B_{t-1} - A_{t-1}^2)^(3/2), taken as 0 while undefined."""
    a = b = 0.0
    out = []
    for r in returns:
        da, db = r - a, r * r - b
        var = b - a * a
        out.append((b * da - 0.5 * a * db) / var ** 1.5 if var > 0 else 0.0)
        a, b = a + eta * da, b + eta * db
    return np.array(out), a, b


@pytest.mark.parametrize("eta", [0.01, 0.1])
def test_matches_the_paper_recursion(eta):
    expected, a, b = _paper_loop(RETURNS, eta)
    ds = DifferentialSharpe(eta=eta)
    got = np.array([ds.update(r) for r in RETURNS])
    assert got[0] == 0.0  # A = B = 0: no variance yet
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert ds.mean == pytest.approx(a, rel=1e-12) and ds.second_moment == pytest.approx(b, rel=1e-12)
    assert ds.n_updates == len(RETURNS)
    assert ds.sharpe == pytest.approx(a / np.sqrt(b - a * a), rel=1e-12)


def test_first_order_expansion_in_eta():
    # start from moments of a history, then one step: (S_t - S_{t-1}) / eta -> D_t with an O(eta) error
    a0 = float(RETURNS.mean())
    b0 = float((RETURNS ** 2).mean())
    s0 = a0 / np.sqrt(b0 - a0 ** 2)
    r = -0.013
    errors = []
    for eta in (1e-3, 1e-4, 1e-5):
        ds = DifferentialSharpe(eta=eta, mean=a0, second_moment=b0)
        d = ds.update(r)
        errors.append(abs((ds.sharpe - s0) / eta - d))
        assert ds.sharpe == pytest.approx(s0 + eta * d, abs=50 * eta ** 2 * abs(d) + 1e-12)
    # the error shrinks in proportion to eta (first-order expansion)
    assert errors[1] < errors[0] / 5 and errors[2] < errors[1] / 5


def test_warmup_returns_zero_but_updates_moments():
    ds = DifferentialSharpe(eta=0.05, warmup=10)
    expected, _, _ = _paper_loop(RETURNS[:30], 0.05)
    got = np.array([ds.update(r) for r in RETURNS[:30]])
    assert np.all(got[:10] == 0.0)
    np.testing.assert_allclose(got[10:], expected[10:], rtol=1e-12)


def test_reset_and_vectorised_environments():
    ds = DifferentialSharpe(eta=0.05)
    first = [ds.update(r) for r in RETURNS[:20]]
    ds.reset()
    assert ds.n_updates == 0 and ds.mean == 0.0 and np.isnan(ds.sharpe)
    assert [ds.update(r) for r in RETURNS[:20]] == first
    # three environments at once equal three separate accumulators
    panel = RETURNS[:60].reshape(20, 3)
    vec = DifferentialSharpe(eta=0.05)
    got = np.array([vec.update(row) for row in panel])
    assert got.shape == (20, 3)
    for j in range(3):
        np.testing.assert_allclose(got[:, j], _paper_loop(panel[:, j], 0.05)[0], rtol=1e-12)
    with pytest.raises(QfinError, match="shape"):
        vec.update(np.zeros(4))


def test_zero_variance_gives_zero():
    ds = DifferentialSharpe(eta=0.1)
    assert [ds.update(0.01) for _ in range(5)][1:] != [0.0] * 4  # the moving variance is positive after one
    flat = DifferentialSharpe(eta=0.1, mean=0.125, second_moment=0.015625)  # variance exactly 0
    assert flat.update(0.02) == 0.0


def test_argument_errors():
    with pytest.raises(QfinError, match="eta"):
        DifferentialSharpe(eta=0.0)
    with pytest.raises(QfinError, match="warmup"):
        DifferentialSharpe(warmup=-1)
    with pytest.raises(QfinError, match="second_moment"):
        DifferentialSharpe(mean=0.1, second_moment=0.001)
    with pytest.raises(QfinError, match="finite"):
        DifferentialSharpe().update(float("nan"))
