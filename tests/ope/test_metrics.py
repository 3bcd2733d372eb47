"""Top-k metrics on hand-worked cases, against scipy's Spearman, and against SCOPE-RL's recorded figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from qfin.errors import DataValidationError
from qfin.ope import (
    best_at_k,
    kth_at_k,
    mean_at_k,
    mse,
    normalized_mse,
    rank_correlation,
    regret_at_k,
    safety_violation_rate,
    sharpe_ratio_at_k,
    std_at_k,
    top_k_indices,
    type_i_error_rate,
    type_ii_error_rate,
    worst_at_k,
)

# Ranked by estimate: candidate 0 (0.9), 2 (0.7), 1 (0.5), 3 (0.1) -> true values 1, 2, 4, 3.
EST = [0.9, 0.5, 0.7, 0.1]
TRUE = [1.0, 4.0, 2.0, 3.0]
JB = 1.5


def test_hand_worked_k2():
    assert top_k_indices(EST, 2).tolist() == [0, 2]
    assert best_at_k(EST, TRUE, 2) == 2.0
    assert worst_at_k(EST, TRUE, 2) == 1.0
    assert mean_at_k(EST, TRUE, 2) == 1.5
    assert kth_at_k(EST, TRUE, 2) == 2.0
    assert std_at_k(EST, TRUE, 2) == pytest.approx(math.sqrt(0.5), rel=1e-15)  # ((-.5)^2 + .5^2) / (2 - 1)
    assert sharpe_ratio_at_k(EST, TRUE, JB, 2) == pytest.approx(0.5 / math.sqrt(0.5), rel=1e-15)
    assert regret_at_k(EST, TRUE, 2) == 2.0  # J* = 4


def test_hand_worked_k3():
    # true values 1, 2, 4: mean 7/3, deviations -4/3, -1/3, 5/3, sum of squares 42/9, / (3 - 1) = 7/3
    assert std_at_k(EST, TRUE, 3) == pytest.approx(math.sqrt(7 / 3), rel=1e-15)
    assert sharpe_ratio_at_k(EST, TRUE, JB, 3) == pytest.approx(2.5 / math.sqrt(7 / 3), rel=1e-15)
    assert regret_at_k(EST, TRUE, 3) == 0.0
    assert safety_violation_rate(EST, TRUE, 3, threshold=JB) == pytest.approx(1 / 3)


def test_k_equals_n_is_the_whole_set():
    # all four: mean 2.5, squared deviations 2.25 + .25 + 2.25 + .25 = 5, / 3
    assert best_at_k(EST, TRUE, 4) == 4.0
    assert worst_at_k(EST, TRUE, 4) == 1.0
    assert mean_at_k(EST, TRUE, 4) == 2.5
    assert kth_at_k(EST, TRUE, 4) == 3.0
    assert sharpe_ratio_at_k(EST, TRUE, JB, 4) == pytest.approx(2.5 / math.sqrt(5 / 3), rel=1e-15)
    # k = n does not depend on the ranking at all
    assert sharpe_ratio_at_k(EST[::-1], TRUE[::-1], JB, 4) == sharpe_ratio_at_k(EST, TRUE, JB, 4)


def test_ties_broken_by_index_by_default_and_by_option():
    est = [1.0, 1.0, 0.0, 1.0]
    true = [5.0, 2.0, 9.0, 7.0]
    assert top_k_indices(est, 3).tolist() == [0, 1, 3]
    assert best_at_k(est, true, 1) == 5.0
    assert best_at_k(est, true, 1, tie_break="pessimistic") == 2.0
    assert best_at_k(est, true, 1, tie_break="optimistic") == 7.0
    assert sharpe_ratio_at_k(est, true, 4.0, 2) == pytest.approx(1.0 / (3.0 / math.sqrt(2)))  # {5, 2}
    assert sharpe_ratio_at_k(est, true, 4.0, 2, tie_break="optimistic") == pytest.approx(3.0 / math.sqrt(2))  # {7, 5}
    assert sharpe_ratio_at_k(est, true, 4.0, 2, tie_break="pessimistic") == pytest.approx(1.0 / (3.0 / math.sqrt(2)))
    # the tie-free candidate 2 comes last whatever the rule
    assert kth_at_k(est, true, 4, tie_break="optimistic") == 9.0


def test_negative_numerator_is_kept_and_zero_std():
    est, true = [3.0, 2.0, 1.0], [1.0, 2.0, 5.0]
    assert sharpe_ratio_at_k(est, true, 3.0, 2) == pytest.approx(-1.0 / math.sqrt(0.5))
    assert sharpe_ratio_at_k([2.0, 1.0], [1.0, 1.0], 0.0, 2) == math.inf
    assert sharpe_ratio_at_k([2.0, 1.0], [1.0, 1.0], 2.0, 2) == -math.inf
    assert math.isnan(sharpe_ratio_at_k([2.0, 1.0], [1.0, 1.0], 1.0, 2))


@pytest.mark.parametrize("k, match", [(1, "at least 2"), (5, "larger than the number"), (0, "at least 2"),
                                      (2.0, "integer"), (True, "integer")])
def test_bad_k_for_sharpe(k, match):
    with pytest.raises(DataValidationError, match=match):
        sharpe_ratio_at_k(EST, TRUE, JB, k)


def test_bad_k_for_others():
    assert best_at_k(EST, TRUE, 1) == 1.0  # k = 1 is fine where a single value suffices
    with pytest.raises(DataValidationError, match="at least 2"):
        std_at_k(EST, TRUE, 1)
    with pytest.raises(DataValidationError, match=r"k = 7 is larger than the number of candidate policies \(4\)"):
        best_at_k(EST, TRUE, 7)
    with pytest.raises(DataValidationError, match="at least 1"):
        regret_at_k(EST, TRUE, 0)


def test_bad_inputs():
    with pytest.raises(DataValidationError, match="same candidate policies"):
        best_at_k([1.0, 2.0], [1.0, 2.0, 3.0], 2)
    with pytest.raises(DataValidationError, match=r"true_values must be finite; candidate\(s\) \[1\]"):
        mean_at_k([1.0, 2.0], [1.0, np.nan], 2)
    with pytest.raises(DataValidationError, match="behavior_value"):
        sharpe_ratio_at_k(EST, TRUE, float("nan"), 2)
    with pytest.raises(DataValidationError, match="tie_break"):
        best_at_k(EST, TRUE, 2, tie_break="random")
    with pytest.raises(DataValidationError, match="1-D"):
        mse([[1.0]], [[1.0]])


def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        est = rng.integers(0, 4, 9).astype(float)  # plenty of ties
        true = rng.integers(0, 5, 9).astype(float)
        if np.ptp(est) == 0 or np.ptp(true) == 0:
            continue
        assert rank_correlation(est, true) == pytest.approx(spearmanr(est, true).statistic, abs=1e-12)
    assert rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(rank_correlation([1, 1, 1], [1, 2, 3]))


def test_mse_nmse_and_error_rates():
    assert mse([1.0, 2.0], [0.0, 4.0]) == 2.5
    assert normalized_mse([1.0, 2.0], [0.0, 4.0]) == 2.5 / 4.0
    true, est = [1.0, 5.0, 7.0, 3.0], [2.0, 6.0, 4.0, 8.0]
    assert type_i_error_rate(est, true, 4.0) == 0.0  # both truly safe (5, 7) estimated >= 4
    assert type_ii_error_rate(est, true, 4.0) == 0.5  # of the unsafe (1, 3), candidate 3 passes
    assert type_i_error_rate(est, true, 6.5) == 1.0  # safe: 7 only, and its estimate 4 < 6.5
    assert math.isnan(type_ii_error_rate(est, true, 0.0))


RECORDED = json.loads((Path(__file__).parent / "scope_rl_topk.json").read_text())


@pytest.mark.parametrize("case", RECORDED["cases"], ids=lambda c: f"J_b={c['behavior_value']}")
def test_equals_scope_rl(case):
    """SCOPE-RL 0.2.1 figures (recorded); its J(pi_b) carries +1e-10 and it clips the numerator at 0."""
    assert RECORDED["scope_rl_version"] == "0.2.1"
    est, true, jb, thr = case["estimated"], case["true"], case["behavior_value"], case["safety_threshold"]
    peer = case["scope_rl"]
    n = len(est)
    assert np.unique(est).size == n and np.unique(true).size == n  # tie-free: the ranking is unambiguous
    for k in range(1, n + 1):
        i = k - 1
        assert kth_at_k(est, true, k) == pytest.approx(peer["k-th"][i], abs=1e-12)
        assert best_at_k(est, true, k) == pytest.approx(peer["best"][i], abs=1e-12)
        assert worst_at_k(est, true, k) == pytest.approx(peer["worst"][i], abs=1e-12)
        assert mean_at_k(est, true, k) == pytest.approx(peer["mean"][i], abs=1e-12)
        assert safety_violation_rate(est, true, k, thr) == pytest.approx(peer["safety_violation_rate"][i])
        if k == 1:
            assert math.isnan(peer["std"][i]) and math.isnan(peer["sharpe_ratio"][i])
            continue
        assert std_at_k(est, true, k) == pytest.approx(peer["std"][i], rel=1e-12)
        ours = sharpe_ratio_at_k(est, true, jb, k)
        if best_at_k(est, true, k) > jb:
            assert ours == pytest.approx(peer["sharpe_ratio"][i], rel=1e-8)  # 1e-10 / std of SCOPE-RL's offset
        else:  # SCOPE-RL clips (best@k - J_b) at 0; qfin keeps the negative excess
            assert peer["sharpe_ratio"][i] == 0.0
            assert ours < 0.0
            assert ours == pytest.approx((best_at_k(est, true, k) - jb) / std_at_k(est, true, k))


def test_scope_rl_cases_cover_the_clipping():
    clipped = [c for c in RECORDED["cases"] if any(
        best_at_k(c["estimated"], c["true"], k) < c["behavior_value"] for k in range(2, len(c["true"]) + 1))]
    unclipped = [c for c in RECORDED["cases"] if c not in clipped]
    assert len(clipped) == 1 and len(unclipped) == 3
