"""The fairness MIP against brute-force enumeration of every binning of 8 prebins; IV_fair and AIR."""

import itertools

import numpy as np
import pytest

from qfin.risk.divergence import jeffreys_divergence
from qfin.scorecards import synthetic_credit
from qfin.scorecards._fairness import adverse_impact_ratio, binning_mip, fairness_frontier, fairness_iv


def _prebin_counts(seed=3, n=4000, P=8):
    df = synthetic_credit(n, seed=seed)
    x = df["tenure_at_address"].to_numpy()
    y = df["target"].to_numpy()
    g = df["protected"].to_numpy()
    cuts = np.quantile(x, np.linspace(0, 1, P + 1)[1:-1])
    pre = np.searchsorted(cuts, x, side="right")
    cnt = lambda w: np.bincount(pre, weights=w, minlength=P)  # noqa: E731
    return cnt(1.0 - y), cnt(y * 1.0), cnt(g * 1.0), cnt(1.0 - g)


def _brute_force(good, bad, g1, g0, eps, max_bins, min_share, trend):
    """Every composition of the P prebins into contiguous runs; the feasible one with the largest IV."""
    P = good.size
    best = (-np.inf, None)
    for mask in itertools.product([0, 1], repeat=P - 1):
        cuts = [i + 1 for i, m in enumerate(mask) if m]
        edges = [0, *cuts, P]
        if len(edges) - 1 > max_bins:
            continue
        G, B, F1, F0 = (np.array([c[a:b].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)])
                        for c in (good, bad, g1, g0))
        if (G == 0).any() or (B == 0).any() or (F1 == 0).any() or (F0 == 0).any():
            continue
        if ((G + B) < min_share * (good.sum() + bad.sum())).any():
            continue
        if len(G) > 1:
            iv, fair = jeffreys_divergence(G, B), jeffreys_divergence(F1, F0)
        else:
            iv, fair = 0.0, 0.0
        woe = np.log((G / G.sum()) / (B / B.sum()))
        if trend == "ascending" and np.any(np.diff(woe) > 0):
            continue
        if trend == "descending" and np.any(np.diff(woe) < 0):
            continue
        if fair > eps:
            continue
        if iv > best[0]:
            best = (iv, list(zip(edges[:-1], [e - 1 for e in edges[1:]], strict=True)), fair)
    return best


@pytest.mark.solver  # the PuLP/CBC MIP
@pytest.mark.parametrize("eps", [np.inf, 0.3, 0.1, 0.03, 0.0])
@pytest.mark.parametrize("trend,max_bins,min_share", [(None, 8, 0.0), ("descending", 4, 0.1), ("ascending", 5, 0.05)])
def test_mip_equals_brute_force_on_8_prebins(eps, trend, max_bins, min_share):
    good, bad, g1, g0 = _prebin_counts()
    ref = _brute_force(good, bad, g1, g0, eps, max_bins, min_share, trend)
    sol = binning_mip(good, bad, g1, g0, epsilon=eps, max_bins=max_bins, min_bin_share=min_share,
                      monotonic_trend=trend)
    assert sol.status == "Optimal"
    assert sol.iv == pytest.approx(ref[0], abs=1e-9)
    if ref[1] is not None and len(ref[1]) > 1:
        assert sol.iv_fair <= eps + 1e-9 if np.isfinite(eps) else True


@pytest.mark.solver  # one CBC solve per epsilon
def test_frontier_is_monotone_and_constraint_binds():
    df = synthetic_credit(5000, seed=1)
    eps = [np.inf, 0.5, 0.2, 0.05]
    fr = fairness_frontier(df["tenure_at_address"], df["target"], df["protected"], eps, n_prebins=10,
                           monotonic_trend="descending")
    iv = fr["iv"].to_numpy()
    # tighter fairness never buys more IV; each epsilon is a separate CBC solve, optimal only to its tolerances
    # (hence 1e-9, as against the brute force above)
    assert np.all(np.diff(iv) <= 1e-9)
    assert np.all(fr["iv_fair"].to_numpy()[1:] <= np.array(eps[1:]) + 1e-9)
    assert fr["iv_fair"][0] > 0.5  # the proxy feature: unconstrained binning is far from fair


def test_fairness_iv_and_air_closed_forms():
    bins = np.array([0, 0, 1, 1, 1, 2, 0, 1, 2, 2])
    group = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    r = fairness_iv(bins, group, n_bins=None, smoothing=0)
    c1 = np.array([2, 1, 1])
    c0 = np.array([1, 3, 2])
    assert r.value == pytest.approx(jeffreys_divergence(c1, c0), abs=1e-12)
    approved = np.array([1, 0, 1, 1, 1, 1, 0, 1, 0, 0])
    assert adverse_impact_ratio(approved, group) == pytest.approx((2 / 4) / (4 / 6))
    with pytest.raises(ValueError, match="binary"):
        adverse_impact_ratio(approved, np.zeros(10))


@pytest.mark.solver  # CBC binnings and lbfgs logistic regressions
def test_frontier_with_the_rest_of_the_model():
    df = synthetic_credit(5000, seed=2)
    others = df.select("income", "debt_to_income", "utilization", "delinquencies").to_numpy()
    eps = [np.inf, 0.05]
    alone = fairness_frontier(df["tenure_at_address"], df["target"], df["protected"], eps)
    full = fairness_frontier(df["tenure_at_address"], df["target"], df["protected"], eps, other_features=others)
    assert np.allclose(alone["iv"].to_numpy(), full["iv"].to_numpy())  # the binning does not depend on the model
    assert (full["auc"].to_numpy() > alone["auc"].to_numpy() + 0.1).all()
    assert ((full["air"].to_numpy() > 0.5) & (full["air"].to_numpy() < 1.5)).all()
    with pytest.raises(ValueError, match="other_features"):
        fairness_frontier(df["tenure_at_address"], df["target"], df["protected"], eps, other_features=others[:10])
