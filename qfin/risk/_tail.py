"""Tail-risk measures: historical VaR and CVaR, entropic risk, the Rockafellar–Uryasev function, lower-tail
means, range VaR and RiskPO's mixed VaR.

Each formula is written once against :mod:`qfin.risk._backend`: numpy input gives floats (or a [N] array for
[T, N] input, one value per column), torch input gives tensors that carry gradients. Samples run along axis 0.

Sign conventions differ by measure, because each follows its source; every docstring says which it is:

- ``value_at_risk``, ``expected_shortfall``: input *returns* (higher is better), output a POSITIVE loss.
- ``entropic_risk``: input P&L (higher is better), output a risk in money units (positive = loss-like).
- ``rockafellar_uryasev``: input *losses* (higher is worse), output in loss units.
- ``lower_tail_mean``, ``range_value_at_risk``, ``mixed_var``: input *outcomes* (returns, rewards; higher is
  better), output in outcome units (higher is better) — the form used as an RL objective to maximise.

Quantile bands use the exact empirical distribution: the i-th smallest of n samples covers the probability
interval [i/n, (i+1)/n], and a band [a, b] takes each sample with the fraction of that interval inside the
band. The result is therefore continuous in a and b (no jump when a * n crosses an integer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import QfinError
from qfin.risk._backend import as_samples, check_fraction, check_positive, is_tensor, namespace

__all__ = ["value_at_risk", "expected_shortfall", "entropic_risk", "rockafellar_uryasev", "lower_tail_mean",
           "range_value_at_risk", "mixed_var"]


def _band_weights(n: int, low: float, high: float) -> np.ndarray:
    """[n] weights of the sorted samples in the mean over the probability band [low, high] (they sum to 1)."""
    edges = np.arange(n + 1) / n
    overlap = np.minimum(edges[1:], high) - np.maximum(edges[:-1], low)
    return np.maximum(overlap, 0.0) / (high - low)


def _weighted_sorted_mean(x: Any, weights: np.ndarray) -> Any:
    """sum_i w_i x_(i) along axis 0, where x_(i) is the i-th smallest sample; differentiable for tensors."""
    xp = namespace(x)
    ordered = xp.sort(x)
    w = xp.asarray(weights, like=ordered).reshape((weights.shape[0],) + (1,) * (ordered.ndim - 1))
    return xp.result(xp.sum(ordered * w))


def value_at_risk(returns: Any, level: float = 0.95) -> Any:
    """Historical value at risk as a POSITIVE loss: VaR = -quantile(returns, 1 - level).

    The quantile uses linear interpolation between order statistics (numpy's default ``percentile``), so
    this is empyrical's ``value_at_risk(returns, cutoff=1 - level)`` with the sign flipped.

    Parameters
    ----------
    returns : [T] or [T, N] per-period returns (numpy-like or a torch tensor).
    level : confidence level in (0, 1), e.g. 0.95 or 0.99.

    Returns
    -------
    float (or [N] array / tensor): a loss of 0.02 means "a 2% loss is exceeded with probability 1 - level".
    """
    r = as_samples(returns, "returns")
    level = check_fraction(level, "level")
    xp = namespace(r)
    return xp.result(-xp.quantile(r, 1.0 - level))


def expected_shortfall(returns: Any, level: float = 0.95) -> Any:
    """Historical expected shortfall (CVaR) as a POSITIVE loss: minus the mean of the worst returns.

    Averages the k + 1 smallest returns with k = floor((T - 1) * (1 - level)) — the exact cutoff rule of
    empyrical's ``conditional_value_at_risk(returns, cutoff=1 - level)`` — and flips the sign. It equals
    ``-lower_tail_mean(returns, (k + 1) / T)``; when T * (1 - level) is a whole number that is
    ``-lower_tail_mean(returns, 1 - level)``, the CVaR of Rockafellar & Uryasev (2002).

    Parameters
    ----------
    returns : [T] or [T, N] per-period returns (numpy-like or a torch tensor).
    level : confidence level in (0, 1).

    Returns
    -------
    float (or [N] array / tensor), >= ``value_at_risk`` at the same level.
    """
    r = as_samples(returns, "returns")
    level = check_fraction(level, "level")
    n = r.shape[0]
    tail = int((n - 1) * (1.0 - level)) + 1
    return -_weighted_sorted_mean(r, _band_weights(n, 0.0, tail / n))


def entropic_risk(pnl: Any, risk_aversion: Any, probabilities: Any = None) -> Any:
    """Entropic risk measure rho(X) = (1 / lambda) log E[exp(-lambda X)] of a P&L sample X.

    The exponential-utility certainty equivalent with the sign flipped (Föllmer & Schied 2002, "Convex
    measures of risk and trading constraints", Finance Stoch. 6; the deep-hedging loss of Buehler et al.
    2019). X is P&L (higher is better); the result is a risk in money units: positive means loss-like,
    -rho is the certainty equivalent. rho -> -E[X] as lambda -> 0 and rho -> -min X as lambda -> inf.
    Computed as a shifted log-mean-exp with expm1/log1p, so it stays finite for any lambda * X and keeps full
    precision for a tiny lambda.

    Parameters
    ----------
    pnl : [T] or [T, N] P&L samples (numpy-like or a torch tensor; gradients flow through a tensor).
    risk_aversion : lambda > 0 (a float, or a positive tensor broadcastable to [N]).
    probabilities : optional [T] masses of the atoms ``pnl`` of a finite law (1-D numpy only; see
        :func:`lower_tail_mean`); None: equally weighted samples.

    Returns
    -------
    float (or [N] array), or a tensor for tensor input.
    """
    if probabilities is not None:
        from scipy.special import logsumexp

        x, p = _finite_law(pnl, probabilities)
        lam = float(check_positive(risk_aversion, "risk_aversion"))
        keep = p > 0
        return float(logsumexp(-lam * x[keep], b=p[keep]) / lam)
    x = as_samples(pnl, "pnl")
    lam = check_positive(risk_aversion, "risk_aversion")
    xp = namespace(x, lam)
    if xp.is_torch and not is_tensor(x):
        x = xp.asarray(x, like=lam)
    return xp.result(xp.log_mean_exp(-lam * x) / lam)


def rockafellar_uryasev(losses: Any, threshold: Any, level: float) -> Any:
    """Rockafellar–Uryasev function F(t) = t + E[(L - t)^+] / (1 - level) of a LOSS sample L.

    Rockafellar & Uryasev (2000), "Optimization of conditional value-at-risk", J. of Risk 2(3):
    F is convex in t, its minimum over t is CVaR_level(L) (the mean of the worst 1 - level fraction of
    losses, exact with fractional atoms) and a minimiser is VaR_level(L). Minimising F jointly over t and a
    model's parameters minimises CVaR, which is why it is a training loss. L is a loss (higher is worse).

    Parameters
    ----------
    losses : [T] or [T, N] loss samples (numpy-like or a torch tensor).
    threshold : t, a float or a tensor (scalar or [N]); as a tensor it can be a learned parameter.
    level : confidence level in (0, 1).

    Returns
    -------
    float (or [N] array), or a tensor for tensor input, in loss units.
    """
    loss = as_samples(losses, "losses")
    level = check_fraction(level, "level")
    if is_tensor(threshold):
        t = as_samples(threshold.reshape(-1), "threshold", ndims=(1,)).reshape(threshold.shape)
    else:
        t = as_samples(np.reshape(threshold, -1), "threshold", ndims=(1,)).reshape(np.shape(threshold))
    xp = namespace(loss, t)
    if xp.is_torch:
        if not is_tensor(loss):
            loss = xp.asarray(loss, like=t)
        if not is_tensor(t):
            t = xp.asarray(t, like=loss)
    return xp.result(t + xp.mean(xp.relu(loss - t)) / (1.0 - level))


def _outcomes(x: Any) -> Any:
    return as_samples(x, "x")


def lower_tail_mean(x: Any, alpha: float, probabilities: Any = None) -> Any:
    """CVaR of an OUTCOME x (higher is better): the mean of x over its worst ``alpha`` fraction.

    CVaR_alpha(x) = (1 / alpha) * integral_0^alpha q_x(u) du over the empirical quantile function q_x, exact
    with fractional atom weighting: the sample straddling the alpha-quantile counts with the fraction of its
    1/T mass that lies below alpha (Acerbi & Tasche 2002, "On the coherence of expected shortfall"),
    so the value is continuous in alpha. ``lower_tail_mean(x, 1) = mean(x)``; ``-lower_tail_mean(r, 1 -
    level)`` is the expected shortfall of returns r as a positive loss. Differentiable for tensors (sort-based).

    Parameters
    ----------
    x : [T] or [T, N] outcomes (returns, P&L, rewards), numpy-like or a torch tensor.
    alpha : tail fraction in (0, 1].
    probabilities : optional [T] masses of the atoms x of a finite law (non-negative, summing to 1; 1-D numpy
        x only), for distributions such as the return laws of distributional DP; None: equally weighted samples.

    Returns
    -------
    float (or [N] array), or a tensor, in the units of x.
    """
    if probabilities is not None:
        return _lower_tail_mean_of_law(x, probabilities, alpha)
    x = _outcomes(x)
    alpha = check_fraction(alpha, "alpha", high_open=False)
    return _weighted_sorted_mean(x, _band_weights(x.shape[0], 0.0, alpha))


def _finite_law(atoms: Any, probabilities: Any) -> tuple[np.ndarray, np.ndarray]:
    """(atoms, probabilities) of a finite law as float64, checked: 1-D, one length, finite, masses >= 0 summing
    to 1."""
    x, p = np.asarray(atoms, dtype=float), np.asarray(probabilities, dtype=float)
    if x.ndim != 1 or p.shape != x.shape:
        raise QfinError(f"a finite law needs 1-D atoms and probabilities of one length; got shapes {x.shape} "
                        f"and {p.shape}")
    if not (np.all(np.isfinite(x)) and np.all(p >= 0.0) and abs(p.sum() - 1.0) <= 1e-6):
        raise QfinError("a finite law needs finite atoms and non-negative probabilities summing to 1; got a sum "
                        f"of {p.sum()!r}")
    return x, p


def _lower_tail_mean_of_law(atoms: Any, probabilities: Any, alpha: float) -> float:
    """:func:`lower_tail_mean` of the finite law with ``atoms`` and their ``probabilities``."""
    alpha = check_fraction(alpha, "alpha", high_open=False)
    x, p = _finite_law(atoms, probabilities)
    order = np.argsort(x, kind="stable")
    x, p = x[order], p[order]
    before = np.concatenate(([0.0], np.cumsum(p)[:-1]))
    take = np.clip(alpha - before, 0.0, p)
    return float(np.dot(take, x) / alpha)


def range_value_at_risk(x: Any, alpha: float, beta: float) -> Any:
    """Range value at risk of an OUTCOME x: the mean of x over its quantile band [alpha, beta].

    RVaR_{alpha,beta}(x) = (1 / (beta - alpha)) * integral_alpha^beta q_x(u) du (Cont, Deguest & Scandolo
    2010, "Robustness and sensitivity analysis of risk measurement procedures", Quant. Finance 10(6)), with
    the same fractional atom weighting as :func:`lower_tail_mean` (which is the band [0, alpha]).

    Parameters
    ----------
    x : [T] or [T, N] outcomes (higher is better), numpy-like or a torch tensor.
    alpha, beta : band ends with 0 <= alpha < beta <= 1.

    Returns
    -------
    float (or [N] array), or a tensor, in the units of x.
    """
    x = _outcomes(x)
    alpha, beta = _band(alpha, beta)
    return _weighted_sorted_mean(x, _band_weights(x.shape[0], alpha, beta))


def _band(alpha: Any, beta: Any) -> tuple[float, float]:
    alpha = check_fraction(alpha, "alpha", low_open=False)
    beta = check_fraction(beta, "beta", high_open=False)
    if not alpha < beta:
        raise QfinError(f"the quantile band needs alpha < beta; got alpha={alpha!r}, beta={beta!r}")
    return alpha, beta


def mixed_var(x: Any, alpha: float, beta: float, weight: float) -> Any:
    """RiskPO's mixed value at risk of an OUTCOME x (higher is better), an objective to maximise.

    MVaR = (RVaR_{alpha,beta}(x) + weight * CVaR_alpha(x)) / (1 + weight), where RVaR is
    :func:`range_value_at_risk` and CVaR_alpha is :func:`lower_tail_mean` (the mean of the worst alpha
    fraction). Ren et al. (2025), "RiskPO: Risk-based Policy Optimization via Verifiable Reward for LLM
    Post-Training", arXiv:2510.00911 (the MVaR objective; their advantage mixes the two parts as
    (w * cvar + rvar) / (w + 1)). ``weight = 0`` gives RVaR alone; a large weight approaches CVaR_alpha.

    Parameters
    ----------
    x : [T] or [T, N] outcomes (rewards, returns), numpy-like or a torch tensor.
    alpha : lower end of the band and CVaR's tail fraction, 0 < alpha < beta.
    beta : upper end of the band, <= 1.
    weight : weight of the CVaR part, >= 0.

    Returns
    -------
    float (or [N] array), or a tensor, in the units of x.
    """
    x = _outcomes(x)
    alpha, beta = _band(alpha, beta)
    if alpha == 0.0:
        raise QfinError("mixed_var needs alpha > 0: its CVaR part averages the worst alpha fraction")
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(weight) and weight >= 0):
        raise QfinError(f"weight must be a finite number >= 0; got {weight!r}")
    n = x.shape[0]
    w = (_band_weights(n, alpha, beta) + weight * _band_weights(n, 0.0, alpha)) / (1.0 + weight)
    return _weighted_sorted_mean(x, w)
