"""Performance ratios of a returns series: Sharpe, Sortino, volatility, CAGR, drawdown, Calmar, PSR.

Definitions follow empyrical (and quantstats, which agrees on these) so that qfin's numbers can be checked
against them on the same input:

- Sharpe = mean(r - rf) / std(r - rf, ddof=1) * sqrt(P)
- Sortino = mean(r - req) * P / (sqrt(mean(min(r - req, 0)^2)) * sqrt(P))
- annual volatility = std(r, ddof=1) * sqrt(P)
- CAGR = prod(1 + r)^(P / T) - 1 (years = T / P)
- max drawdown = min_t W_t / max(1, max_{s<=t} W_s) - 1 (negative; the start value 1 counts as a peak)
- Calmar = CAGR / |max drawdown|

with P = ``periods_per_year`` and T the number of returns. Inputs are [T] (result: float) or [T, N]
(result: [N] array, one value per column). Undefined cases give NaN or +-inf as empyrical does and as each
docstring says; bad input (NaN, non-numeric, empty) raises :class:`qfin.errors.DataValidationError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import QfinError
from qfin.risk._backend import NUMPY, as_samples, check_positive
from qfin.risk._returns import _drawdowns

__all__ = ["sharpe_ratio", "sortino_ratio", "annual_volatility", "cagr", "max_drawdown", "calmar_ratio",
           "probabilistic_sharpe_ratio"]


def _returns(returns: Any) -> np.ndarray:
    return as_samples(returns, "returns", allow_tensor=False)


def _per_period(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value):
        raise QfinError(f"{name} must be a finite per-period rate (a float, e.g. 0.0001 per day); got {value!r}")
    return float(value)


def _sample_std(x: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof=1) along axis 0; exactly 0 for a constant column.

    A constant column's std can come out as ~1e-18 from rounding in the mean, which would turn an undefined
    ratio into a huge finite number; empyrical applies the same correction (``_zero_dispersion_std``).
    """
    std = np.std(x, axis=0, ddof=1)
    return np.where(np.max(x, axis=0) == np.min(x, axis=0), 0.0, std)


def sharpe_ratio(returns: Any, periods_per_year: float = 252, risk_free: float = 0.0) -> Any:
    """Annualised Sharpe ratio: mean excess return over its sample standard deviation, times sqrt(P).

    Parameters
    ----------
    returns : [T] or [T, N] per-period simple returns.
    periods_per_year : P, the number of returns per year (252 daily, 52 weekly, 12 monthly).
    risk_free : risk-free return *per period* (not annual), subtracted from every return.

    Returns
    -------
    float, or [N] array for 2-D input. NaN when T < 2; +-inf (or NaN for zero mean) when the excess
    returns are constant, as empyrical's ``sharpe_ratio``.
    """
    r = _returns(returns)
    ann = check_positive(periods_per_year, "periods_per_year")
    excess = r - _per_period(risk_free, "risk_free")
    if r.shape[0] < 2:
        return NUMPY.result(np.full(r.shape[1:], np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.mean(excess, axis=0) / _sample_std(excess) * np.sqrt(ann)
    return NUMPY.result(out)


def sortino_ratio(returns: Any, periods_per_year: float = 252, required_return: float = 0.0) -> Any:
    """Annualised Sortino ratio: mean excess return over the downside deviation (Sortino & Price 1994).

    The downside deviation is sqrt(mean(min(r - req, 0)^2)) over *all* T periods (the target semi-deviation,
    as empyrical's ``downside_risk`` and quantstats), not the std of the negative returns.

    Parameters
    ----------
    returns : [T] or [T, N] per-period simple returns.
    periods_per_year : P, the number of returns per year.
    required_return : minimum acceptable return per period.

    Returns
    -------
    float, or [N] array for 2-D input. NaN when T < 2; +inf when no return falls below ``required_return``
    and the mean excess is positive (NaN if it is zero), as empyrical.
    """
    r = _returns(returns)
    ann = check_positive(periods_per_year, "periods_per_year")
    excess = r - _per_period(required_return, "required_return")
    if r.shape[0] < 2:
        return NUMPY.result(np.full(r.shape[1:], np.nan))
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2, axis=0)) * np.sqrt(ann)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.mean(excess, axis=0) * ann / downside
    return NUMPY.result(out)


def annual_volatility(returns: Any, periods_per_year: float = 252) -> Any:
    """Annualised volatility std(r, ddof=1) * sqrt(P); float, or [N] array for [T, N]; NaN when T < 2."""
    r = _returns(returns)
    ann = check_positive(periods_per_year, "periods_per_year")
    if r.shape[0] < 2:
        return NUMPY.result(np.full(r.shape[1:], np.nan))
    return NUMPY.result(np.std(r, axis=0, ddof=1) * np.sqrt(ann))


def _cagr(r: np.ndarray, ann: float) -> np.ndarray:
    wealth = np.prod(1.0 + r, axis=0)
    years = r.shape[0] / ann
    with np.errstate(invalid="ignore"):
        # a negative terminal value (returns below -100%) has no real growth rate: NaN, as quantstats
        return np.where(wealth < 0.0, np.nan, np.abs(wealth) ** (1.0 / years) - 1.0)


def cagr(returns: Any, periods_per_year: float = 252) -> Any:
    """Compound annual growth rate prod(1 + r)^(1 / years) - 1 with years = T / P (empyrical's
    ``annual_return``). Float, or [N] array for [T, N]; -1 after a total loss, NaN if the value went negative.
    """
    r = _returns(returns)
    return NUMPY.result(_cagr(r, check_positive(periods_per_year, "periods_per_year")))


def max_drawdown(returns: Any) -> Any:
    """Largest fall of the compounded value from a running peak, as a NEGATIVE fraction (-0.25 = 25% down).

    The start value 1.0 before the first return counts as a peak, as in empyrical and quantstats, so a
    series that opens with losses has that loss as a drawdown. 0.0 when the value never falls below a peak.
    Float, or [N] array for [T, N].
    """
    return NUMPY.result(np.min(_drawdowns(_returns(returns)), axis=0))


def calmar_ratio(returns: Any, periods_per_year: float = 252) -> Any:
    """Calmar ratio CAGR / |max drawdown| over the whole series (empyrical's ``calmar_ratio``).

    Float, or [N] array for [T, N]. NaN when there is no drawdown (max drawdown 0), as empyrical.
    """
    r = _returns(returns)
    ann = check_positive(periods_per_year, "periods_per_year")
    mdd = np.min(_drawdowns(r), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mdd < 0.0, _cagr(r, ann) / np.abs(mdd), np.nan)
    return NUMPY.result(out)


def probabilistic_sharpe_ratio(returns: Any, benchmark_sharpe: float = 0.0) -> Any:
    """Probabilistic Sharpe ratio: the probability that the true Sharpe ratio exceeds ``benchmark_sharpe``.

    Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk 15(2):

        PSR(SR*) = Phi( (SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) )

    with SR the *per-period* (not annualised) Sharpe ratio mean(r) / std(r, ddof=1), g3 the skewness and g4
    the (non-excess) kurtosis of the returns, both the plain moment estimators m3 / m2^1.5 and m4 / m2^2
    (scipy.stats.skew / kurtosis(fisher=False) defaults).

    Parameters
    ----------
    returns : [T] or [T, N] per-period returns, T >= 3.
    benchmark_sharpe : SR*, per period (divide an annual figure by sqrt(P)).

    Returns
    -------
    float in [0, 1], or [N] array for 2-D input. NaN for a constant column.
    """
    from scipy.special import ndtr

    r = as_samples(returns, "returns", min_rows=3, allow_tensor=False)
    sr_star = _per_period(benchmark_sharpe, "benchmark_sharpe")
    n = r.shape[0]
    centred = r - np.mean(r, axis=0)
    m2 = np.mean(centred ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.mean(r, axis=0) / _sample_std(r)
        skew = np.mean(centred ** 3, axis=0) / m2 ** 1.5
        kurt = np.mean(centred ** 4, axis=0) / m2 ** 2
        z = (sr - sr_star) * np.sqrt(n - 1) / np.sqrt(1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr ** 2)
    return NUMPY.result(np.where(m2 > 0, ndtr(z), np.nan))
