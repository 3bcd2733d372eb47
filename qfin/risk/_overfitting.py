"""Is the best of many backtests luck? The deflated Sharpe ratio and the probability of backtest overfitting.

- :func:`deflated_sharpe_ratio` (Bailey & López de Prado 2014, "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio Management 40(5)): the probabilistic
  Sharpe ratio of the chosen strategy against the Sharpe ratio the best of ``n_trials`` skill-less strategies
  would show, E[max SR] ~ sqrt(V[SR]) ((1 - g) Z(1 - 1/N) + g Z(1 - 1/(N e))), g the Euler–Mascheroni constant.
- :func:`probability_of_backtest_overfitting` (Bailey, Borwein, López de Prado & Zhu 2017, "The Probability of
  Backtest Overfitting", J. Computational Finance 20(4)): combinatorially symmetric cross-validation. The T
  returns of N trials are cut into S blocks; for every half of the blocks taken as in-sample, the trial with the
  best in-sample Sharpe is ranked out of sample; PBO is the share of splits in which it ranks at or below the
  median (logit of its relative rank <= 0).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from qfin.errors import QfinError
from qfin.risk._backend import as_samples

__all__ = ["PBOResult", "deflated_sharpe_ratio", "expected_max_sharpe", "probability_of_backtest_overfitting"]

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """E[max SR] of ``n_trials`` independent trials whose Sharpe ratios have variance ``sharpe_variance`` and
    mean 0 (no skill), in the units of the Sharpe ratios given (per period, or annualised)."""
    from scipy.stats import norm

    if not (isinstance(n_trials, (int, np.integer)) and n_trials >= 1):
        raise QfinError(f"n_trials must be an integer >= 1 (every configuration tried); got {n_trials!r}")
    if not (np.isfinite(sharpe_variance) and sharpe_variance >= 0):
        raise QfinError(f"sharpe_variance must be a finite number >= 0; got {sharpe_variance!r}")
    if n_trials == 1:
        return 0.0
    z1 = norm.ppf(1.0 - 1.0 / n_trials)
    z2 = norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe_ratio(sharpe: float, n_obs: int, *, n_trials: int, sharpe_variance: float, skew: float = 0.0,
                          kurtosis: float = 3.0) -> float:
    """Probability that the chosen strategy's true Sharpe ratio exceeds the best a skill-less search of
    ``n_trials`` would find.

    Parameters
    ----------
    sharpe : the chosen strategy's Sharpe ratio per period (not annualised: divide by sqrt(periods per year)).
    n_obs : T, the number of returns it was measured on.
    n_trials : N, the number of configurations tried (the sweep's grid size).
    sharpe_variance : variance of the per-period Sharpe ratios across the trials.
    skew, kurtosis : skewness and (non-excess) kurtosis of the chosen strategy's returns (3 for normal).
    """
    from scipy.special import ndtr

    if not (isinstance(n_obs, (int, np.integer)) and n_obs >= 2):
        raise QfinError(f"n_obs must be an integer >= 2 (returns the Sharpe ratio was measured on); got {n_obs!r}")
    benchmark = expected_max_sharpe(sharpe_variance, n_trials)
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe ** 2
    if not spread > 0:
        return float("nan")
    return float(ndtr((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(spread)))


class PBOResult:
    """``pbo`` (the probability), ``logits`` (one per split: ln(w / (1 - w)) of the in-sample winner's relative
    out-of-sample rank w), ``n_splits`` and the blocks ``n_blocks``."""

    def __init__(self, pbo: float, logits: np.ndarray, n_blocks: int) -> None:
        self.pbo, self.logits, self.n_blocks = pbo, logits, n_blocks

    @property
    def n_splits(self) -> int:
        return int(self.logits.size)

    def __repr__(self) -> str:
        return f"PBOResult(pbo={self.pbo:.4f}, n_splits={self.n_splits}, n_blocks={self.n_blocks})"


def _split_sharpes(counts: np.ndarray, sums: np.ndarray, squares: np.ndarray, chosen: list[int]) -> np.ndarray:
    """Per trial, the Sharpe ratio (mean / sample std) of the returns of the ``chosen`` blocks, from the blocks'
    counts [S], sums and sums of squares [S, N] (no concatenation of the returns)."""
    n = counts[chosen].sum()
    total, total_sq = sums[chosen].sum(axis=0), squares[chosen].sum(axis=0)
    mean = total / n
    variance = np.maximum(total_sq - n * mean ** 2, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, mean / np.sqrt(variance), 0.0)


def probability_of_backtest_overfitting(returns: Any, n_blocks: int = 16) -> PBOResult:
    """PBO of choosing the best of N trials by Sharpe ratio, from their [T, N] per-period returns (the same T
    periods for every trial), by CSCV on ``n_blocks`` (even, >= 2) contiguous blocks: C(S, S/2) splits."""
    r = as_samples(returns, "returns", allow_tensor=False)
    if r.ndim != 2 or r.shape[1] < 2:
        raise QfinError(f"PBO needs [T, N] returns of N >= 2 trials; got shape {r.shape}")
    if not (isinstance(n_blocks, (int, np.integer)) and n_blocks >= 2 and n_blocks % 2 == 0):
        raise QfinError(f"n_blocks must be an even integer >= 2; got {n_blocks!r}")
    if r.shape[0] < 2 * n_blocks:
        raise QfinError(f"PBO with {n_blocks} blocks needs at least {2 * n_blocks} periods; got {r.shape[0]}")
    blocks = np.array_split(r, n_blocks, axis=0)
    counts = np.array([b.shape[0] for b in blocks], dtype=np.float64)
    sums = np.array([b.sum(axis=0) for b in blocks])
    squares = np.array([(b * b).sum(axis=0) for b in blocks])
    n_trials = r.shape[1]
    logits = []
    for in_sample in itertools.combinations(range(n_blocks), n_blocks // 2):
        out_sample = [i for i in range(n_blocks) if i not in in_sample]
        best = int(np.argmax(_split_sharpes(counts, sums, squares, list(in_sample))))
        oos = _split_sharpes(counts, sums, squares, out_sample)
        rank = 1 + int(np.sum(oos < oos[best])) + 0.5 * int(np.sum(oos == oos[best]) - 1)  # ties share the rank
        w = rank / (n_trials + 1)
        logits.append(math.log(w / (1.0 - w)))
    logits = np.asarray(logits)
    return PBOResult(float(np.mean(logits <= 0.0)), logits, n_blocks)
