"""Divergences between two discrete distributions over the same bins: KL, reverse KL, Jeffreys, JS, f.

``p`` and ``q`` are 1-D probability vectors or counts over the same K bins; each is normalised to sum 1, so
counts can be passed directly. Natural logarithms (nats) throughout, except ``js_divergence``'s ``base``.

Zero mass: a bin with p_i = 0 contributes 0 (0 log 0 = 0). Where q_i = 0 < p_i, KL(p || q) is +inf — p puts
mass where q has none — and the functions here return ``inf`` (as ``scipy.special.rel_entr``) rather than
raise, since "infinitely different" is the correct answer; smooth the counts first (add a pseudo-count) if a
finite number is needed. Jensen–Shannon is always finite. Negative entries, NaN/inf, mismatched shapes and
all-zero vectors raise :class:`qfin.errors.DataValidationError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from qfin.errors import DataValidationError, QfinError
from qfin.risk._backend import as_samples

__all__ = ["kl_divergence", "reverse_kl_divergence", "jeffreys_divergence", "js_divergence", "f_divergence"]


def _distribution(x: Any, name: str) -> np.ndarray:
    v = as_samples(x, name, ndims=(1,), allow_tensor=False)
    negative = np.flatnonzero(v < 0)
    if negative.size:
        raise DataValidationError(f"{name} has negative entries at bins {negative[:5].tolist()}; a probability "
                                  f"vector or count vector must be >= 0", rule="negative", column=name,
                                  rows=negative[:5].tolist())
    total = v.sum()
    if not total > 0:
        raise DataValidationError(f"{name} sums to 0; it needs positive mass in at least one bin",
                                  rule="zero_mass", column=name)
    return v / total


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p_, q_ = _distribution(p, "p"), _distribution(q, "q")
    if p_.shape != q_.shape:
        raise DataValidationError(f"p and q must have the same bins; got {p_.shape[0]} and {q_.shape[0]} bins",
                                  rule="shape", column="q")
    return p_, q_


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """sum_i p_i log(p_i / q_i) of normalised vectors: 0 where p_i = 0, +inf where q_i = 0 < p_i."""
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def kl_divergence(p: Any, q: Any) -> float:
    """Kullback–Leibler divergence KL(p || q) = sum_i p_i log(p_i / q_i), in nats.

    >= 0, zero only for p = q; +inf when some bin has q_i = 0 < p_i (see the module notes).

    Parameters
    ----------
    p, q : [K] probabilities or counts over the same bins (normalised here).
    """
    return _kl(*_pair(p, q))


def reverse_kl_divergence(p: Any, q: Any) -> float:
    """Reverse KL divergence KL(q || p) = sum_i q_i log(q_i / p_i) (mode-seeking when p is fitted); nats."""
    p_, q_ = _pair(p, q)
    return _kl(q_, p_)


def jeffreys_divergence(p: Any, q: Any) -> float:
    """Jeffreys divergence J(p, q) = KL(p || q) + KL(q || p) = sum_i (p_i - q_i) log(p_i / q_i), symmetric.

    Jeffreys (1946), "An invariant form for the prior probability in estimation problems". With p and q the
    bin shares of two samples this is the population stability index (PSI). +inf when the supports differ.
    """
    p_, q_ = _pair(p, q)
    return _kl(p_, q_) + _kl(q_, p_)


def js_divergence(p: Any, q: Any, base: float = math.e) -> float:
    """Jensen–Shannon divergence JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2.

    Lin (1991), "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37(1). The
    divergence, not the distance: ``scipy.spatial.distance.jensenshannon`` returns its square root.
    Symmetric, finite, and at most log(2) (1 with ``base=2``).

    Parameters
    ----------
    p, q : [K] probabilities or counts over the same bins.
    base : logarithm base (> 0, != 1); the default e gives nats.
    """
    if isinstance(base, bool) or not isinstance(base, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(base) and base > 0 and base != 1):
        raise QfinError(f"base must be a positive number other than 1 (e.g. math.e or 2); got {base!r}")
    p_, q_ = _pair(p, q)
    m = 0.5 * (p_ + q_)
    return (0.5 * _kl(p_, m) + 0.5 * _kl(q_, m)) / math.log(base)


def f_divergence(p: Any, q: Any, f: Callable[[np.ndarray], Any]) -> float:
    """f-divergence D_f(p || q) = sum_i q_i f(p_i / q_i) for a convex f with f(1) = 0 (Csiszár 1967).

    f(t) = t log t gives KL(p || q), f(t) = -log t gives KL(q || p), f(t) = (t - 1) log t gives Jeffreys,
    f(t) = |t - 1| / 2 total variation. ``f`` is called once with the [K'] array of ratios p_i / q_i over the
    bins where q_i > 0 and must return an array of the same length; ratios can be 0, so f must be defined
    there (use ``scipy.special.xlogy(t, t)`` for t log t). Bins with q_i = 0 need lim f(t) / t as t -> inf,
    which a callable cannot reveal, so p must put no mass where q has none.

    Parameters
    ----------
    p, q : [K] probabilities or counts over the same bins.
    f : the generator, vectorised over a numpy array.
    """
    if not callable(f):
        raise QfinError(f"f must be a function of a numpy array of ratios; got {f!r}")
    p_, q_ = _pair(p, q)
    outside = np.flatnonzero((q_ == 0) & (p_ > 0))
    if outside.size:
        raise DataValidationError(f"q is zero at bins {outside[:5].tolist()} where p is positive; the "
                                  f"f-divergence term there depends on f's growth at infinity, so pass q with "
                                  f"mass wherever p has some (or use kl_divergence, which returns inf)",
                                  rule="support", column="q", rows=outside[:5].tolist())
    support = q_ > 0
    with np.errstate(all="ignore"):  # a non-finite f value is reported below, with what to do about it
        values = np.asarray(f(p_[support] / q_[support]), dtype=np.float64)
    if values.shape != (int(support.sum()),) or not np.all(np.isfinite(values)):
        raise QfinError(f"f must return one finite number per ratio (shape ({int(support.sum())},)); got shape "
                        f"{values.shape}{' with non-finite values' if values.shape == (int(support.sum()),) else ''}"
                        f" — if f(0) is the problem, define it by its limit (e.g. scipy.special.xlogy(t, t))")
    return float(np.sum(q_[support] * values))
