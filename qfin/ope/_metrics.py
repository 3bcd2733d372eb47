"""Top-k policy-selection metrics, SharpeRatio@k among them, and estimator-accuracy metrics.

Source: Kiyohara et al., "Towards Assessing and Benchmarking Risk-Return Tradeoff of Off-Policy Evaluation"
(ICLR 2024, arXiv 2311.18207), Section 3 and eq. (1): the candidates are ranked by their *estimated* value, the top
k are deployed, and the metrics describe the *true* values of that portfolio of k policies:

    SharpeRatio@k = (best@k - J(pi_b)) / std@k

with std@k the sample standard deviation (ddof = 1) of the k true values. The paper's formula has no clipping.
SCOPE-RL's ``OffPolicySelection.obtain_topk_policy_value_selected_by_standard_ope`` (checked on scope-rl 0.2.x)
clips the numerator at zero, so it reports 0 wherever best@k < J(pi_b); qfin keeps the sign (a portfolio that
cannot beat production scores negative, which ranks estimators better than a tie at 0). Both agree whenever
best@k >= J(pi_b); tests/ope/test_metrics.py records SCOPE-RL's figures on such inputs. Two more SCOPE-RL
habits to know when comparing: its J(pi_b) is the logged behavior data's mean discounted return plus 1e-10 (qfin
takes the J(pi_b) you pass), and its default ``disable_reward_after_done`` drops the reward of the final step.
regret_at_k is the paper's J* - best@k (SCOPE-RL's ``regret`` sums the top-k true values minus those of the
estimated top k, equal to ours at its default k = 1).

Inputs are 1-D arrays over the n candidate policies: ``estimated_values[i]`` and ``true_values[i]`` belong to
candidate i. Ranking is by the estimate, highest first; ties are broken by ``tie_break``:
``"index"`` (default; the lower candidate index ranks first, deterministic), ``"pessimistic"`` (among tied
estimates the candidate with the lower true value ranks first, the worst case for the estimator) or
``"optimistic"`` (the higher true value first).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from qfin.errors import DataValidationError

__all__ = [
    "top_k_indices", "best_at_k", "worst_at_k", "mean_at_k", "std_at_k", "kth_at_k", "sharpe_ratio_at_k",
    "safety_violation_rate", "regret_at_k", "rank_correlation", "mse", "normalized_mse", "type_i_error_rate",
    "type_ii_error_rate",
]

TieBreak = Literal["index", "pessimistic", "optimistic"]
_TIE_BREAKS = ("index", "pessimistic", "optimistic")


def _as_values(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise DataValidationError(f"{name} must be a non-empty 1-D array over candidate policies, got shape "
                                  f"{arr.shape}", rule="bad_shape", column=name)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise DataValidationError(f"{name} must be finite; candidate(s) {bad[:5].tolist()} are NaN or infinite",
                                  rule="non_finite", column=name, rows=bad[:5].tolist())
    return arr


def _pair(estimated_values, true_values) -> tuple[np.ndarray, np.ndarray]:
    est = _as_values(estimated_values, "estimated_values")
    true = _as_values(true_values, "true_values")
    if est.shape != true.shape:
        raise DataValidationError(f"estimated_values has {est.size} candidates but true_values has {true.size}; "
                                  "both must list the same candidate policies in the same order",
                                  rule="shape_mismatch", column="true_values")
    return est, true


def _check_k(k, n: int, *, minimum: int = 1, why: str = "") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise DataValidationError(f"k must be an integer, got {k!r}", rule="bad_k", column="k")
    k = int(k)
    if k < minimum:
        raise DataValidationError(f"k must be at least {minimum}{why}, got k = {k}", rule="bad_k", column="k")
    if k > n:
        raise DataValidationError(f"k = {k} is larger than the number of candidate policies ({n}); accepted: "
                                  f"{minimum} <= k <= {n}", rule="bad_k", column="k")
    return k


def top_k_indices(estimated_values, k: int, *, true_values=None, tie_break: TieBreak = "index") -> np.ndarray:
    """Indices of the k candidates ranked highest by ``estimated_values``, best first.

    ``tie_break`` orders candidates with equal estimates (see the module docstring); ``"pessimistic"`` and
    ``"optimistic"`` need ``true_values``.
    """
    est = _as_values(estimated_values, "estimated_values")
    k = _check_k(k, est.size)
    if tie_break not in _TIE_BREAKS:
        raise DataValidationError(f"tie_break must be one of {_TIE_BREAKS}, got {tie_break!r}",
                                  rule="bad_tie_break", column="tie_break")
    index = np.arange(est.size)
    if tie_break == "index":
        order = np.lexsort((index, -est))  # last key is primary: estimate descending, then index ascending
    else:
        if true_values is None:
            raise DataValidationError(f"tie_break={tie_break!r} needs true_values", rule="bad_tie_break",
                                      column="tie_break")
        est, true = _pair(est, true_values)
        second = true if tie_break == "pessimistic" else -true
        order = np.lexsort((index, second, -est))
    return order[:k]


def _top_true(estimated_values, true_values, k, tie_break, *, minimum: int = 1, why: str = "") -> np.ndarray:
    est, true = _pair(estimated_values, true_values)
    _check_k(k, est.size, minimum=minimum, why=why)
    return true[top_k_indices(est, k, true_values=true, tie_break=tie_break)]


def best_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """Highest true value among the top-k candidates by estimate (the paper's best@k, the return)."""
    return float(_top_true(estimated_values, true_values, k, tie_break).max())


def worst_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """Lowest true value among the top-k candidates by estimate (the paper's worst@k, a risk measure)."""
    return float(_top_true(estimated_values, true_values, k, tie_break).min())


def mean_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """Mean true value of the top-k candidates by estimate."""
    return float(_top_true(estimated_values, true_values, k, tie_break).mean())


def std_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """Sample standard deviation (ddof = 1, as the paper) of the true values of the top-k candidates; k >= 2."""
    top = _top_true(estimated_values, true_values, k, tie_break, minimum=2,
                    why=" (the sample standard deviation of one value is undefined)")
    return float(top.std(ddof=1))


def kth_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """True value of the candidate ranked k-th by estimate (SCOPE-RL's "k-th" column)."""
    return float(_top_true(estimated_values, true_values, k, tie_break)[-1])


def sharpe_ratio_at_k(estimated_values, true_values, behavior_value: float, k: int, *,
                      tie_break: TieBreak = "index") -> float:
    """SharpeRatio@k = (best@k - J(pi_b)) / std@k (Kiyohara et al. 2024, eq. 1), std with ddof = 1.

    Parameters
    ----------
    estimated_values : array [n]
        An OPE estimator's value estimates of the n candidate policies (used only to rank them).
    true_values : array [n]
        The candidates' true policy values, in the same order.
    behavior_value : float
        J(pi_b), the true value of the behavior (production) policy.
    k : int
        Size of the shortlist, 2 <= k <= n (k = 1 has no standard deviation and is an error).
    tie_break : {"index", "pessimistic", "optimistic"}
        How equal estimates are ordered (module docstring).

    Returns
    -------
    float
        Not clipped at zero (SCOPE-RL clips the numerator: module docstring). When the k true values are all equal
        (std@k = 0) the ratio is +inf / -inf by the numerator's sign, or nan when the numerator is 0 too.
    """
    behavior = float(behavior_value)
    if not math.isfinite(behavior):
        raise DataValidationError(f"behavior_value must be finite, got {behavior_value!r}", rule="non_finite",
                                  column="behavior_value")
    top = _top_true(estimated_values, true_values, k, tie_break, minimum=2,
                    why=" for SharpeRatio@k (std@k of one policy is undefined)")
    excess = float(top.max()) - behavior
    std = float(top.std(ddof=1))
    if std == 0.0:
        return math.nan if excess == 0.0 else math.copysign(math.inf, excess)
    return excess / std


def safety_violation_rate(estimated_values, true_values, k: int, threshold: float, *,
                          tie_break: TieBreak = "index") -> float:
    """Fraction of the top-k candidates whose true value is below ``threshold`` (e.g. J(pi_b) or a fraction of it)."""
    top = _top_true(estimated_values, true_values, k, tie_break)
    return float(np.mean(top < float(threshold)))


def regret_at_k(estimated_values, true_values, k: int, *, tie_break: TieBreak = "index") -> float:
    """J* - best@k: how far the best of the shortlist falls short of the best candidate overall (>= 0)."""
    _, true = _pair(estimated_values, true_values)
    return float(true.max()) - best_at_k(estimated_values, true_values, k, tie_break=tie_break)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given the average of the ranks they span (scipy.stats.rankdata 'average')."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def rank_correlation(estimated_values, true_values) -> float:
    """Spearman's rank correlation with tie-averaged ranks (as ``scipy.stats.spearmanr``).

    nan when either side is constant (the correlation is undefined there), as scipy.
    """
    est, true = _pair(estimated_values, true_values)
    if est.size < 2:
        raise DataValidationError("rank_correlation needs at least 2 candidates", rule="bad_shape",
                                  column="estimated_values")
    re, rt = _average_ranks(est), _average_ranks(true)
    re -= re.mean()
    rt -= rt.mean()
    denom = math.sqrt(float(re @ re) * float(rt @ rt))
    return math.nan if denom == 0.0 else float(re @ rt) / denom


def mse(estimated_values, true_values) -> float:
    """Mean squared error of the estimates over the candidates."""
    est, true = _pair(estimated_values, true_values)
    return float(np.mean((est - true) ** 2))


def normalized_mse(estimated_values, true_values) -> float:
    """MSE divided by the (population) variance of the true values across candidates.

    1.0 is what estimating every candidate by the mean true value scores, so values well below 1 mean the
    estimator resolves the differences between candidates. nan when all true values are equal.
    """
    est, true = _pair(estimated_values, true_values)
    var = float(true.var())
    return math.nan if var == 0.0 else mse(est, true) / var


def type_i_error_rate(estimated_values, true_values, threshold: float) -> float:
    """Among the truly safe candidates (true value >= ``threshold``), the fraction estimated below it (wrongly
    rejected). SCOPE-RL's definition (``OffPolicySelection.select_by_policy_value``), except that it returns 0
    where qfin returns nan: no candidate is truly safe."""
    est, true = _pair(estimated_values, true_values)
    safe = true >= float(threshold)
    return math.nan if not safe.any() else float(np.mean(est[safe] < float(threshold)))


def type_ii_error_rate(estimated_values, true_values, threshold: float) -> float:
    """Among the truly unsafe candidates (true value < ``threshold``), the fraction estimated at or above it (wrongly
    passed as safe: the costly error before a deployment). SCOPE-RL's definition; nan (SCOPE-RL: 0) when no
    candidate is unsafe."""
    est, true = _pair(estimated_values, true_values)
    unsafe = true < float(threshold)
    return math.nan if not unsafe.any() else float(np.mean(est[unsafe] >= float(threshold)))
