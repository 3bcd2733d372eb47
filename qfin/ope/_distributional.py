"""Distributional off-policy evaluation: the CDF of a candidate's trajectory return from logged data, and risk
functionals of it (mean, variance, VaR, CVaR, entropic risk) through :mod:`qfin.risk`'s definitions.

Estimators (Huang, Leqi, Lipton & Azizzadenesheli, "Off-policy risk assessment in contextual bandits", NeurIPS
2021, and "... in Markov decision processes", AISTATS 2022), with G_i the logged discounted return and w_i the
trajectory's importance weight prod_t pi_e(a_t|s_t) / pi_b(a_t|s_t):

- ``"tis"``: F(t) = (1/n) sum_i w_i 1{G_i <= t}, unbiased at every t; projected to a CDF (clipped at 1, the
  missing mass put on the largest return).
- ``"sntis"``: F(t) = sum_i w_i 1{G_i <= t} / sum_i w_i, the weighted empirical law: biased, consistent, always a
  CDF and far less variable when weights are heavy.
- ``"dm"`` and ``"dr"``: from a distributional Q model (the direct method, and the doubly robust form with the
  per-threshold control variate), in :mod:`qfin.ope._cdf_models`.

A :class:`ReturnCDF` is a finite law (atoms = the logged returns, masses from the weights), so every functional is
exact on it: ``cdf.value_at(t)``, ``cdf.mean()``, ``cdf.variance()``, ``cdf.var(alpha)`` (the alpha-quantile of
G), ``cdf.cvar(alpha)`` (mean of G over its worst alpha fraction, :func:`qfin.risk.lower_tail_mean`) and
``cdf.entropic(lam)`` (:func:`qfin.risk.entropic_risk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from qfin.errors import QfinError
from qfin.risk import entropic_risk, lower_tail_mean

from ._estimators import _cumulative_weights, _discount
from ._logged import LoggedData

__all__ = ["CDF_METHODS", "ReturnCDF", "kolmogorov_distance", "return_cdf", "weighted_cdf"]


@dataclass(frozen=True)
class ReturnCDF:
    """A return distribution as sorted distinct ``atoms`` with ``masses`` summing to one."""

    atoms: np.ndarray
    masses: np.ndarray

    def value_at(self, t: float | np.ndarray) -> np.ndarray:
        """F(t) = P(G <= t)."""
        cumulative = np.concatenate(([0.0], np.cumsum(self.masses)))
        return cumulative[np.searchsorted(self.atoms, t, side="right")]

    def mean(self) -> float:
        return float(self.masses @ self.atoms)

    def variance(self) -> float:
        return float(self.masses @ (self.atoms - self.mean()) ** 2)

    def var(self, alpha: float) -> float:
        """The lower alpha-quantile of G: the smallest return t with F(t) >= alpha (value at risk, as a return)."""
        _level(alpha)
        k = int(np.searchsorted(np.cumsum(self.masses), alpha - 1e-12, side="left"))
        return float(self.atoms[min(k, self.atoms.size - 1)])

    def cvar(self, alpha: float) -> float:
        """Mean of G over its worst ``alpha`` probability mass (higher is better)."""
        _level(alpha)
        return float(lower_tail_mean(self.atoms, alpha, probabilities=self.masses))

    def entropic(self, risk_aversion: float) -> float:
        """(1 / lambda) log E[exp(-lambda G)], a risk (positive = loss-like)."""
        return float(entropic_risk(self.atoms, risk_aversion, probabilities=self.masses))


def _level(alpha: float) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0.0 < alpha < 1.0:
        raise QfinError(f"a risk level must lie in (0, 1), e.g. 0.05 for the worst 5 %; got {alpha!r}")


def weighted_cdf(returns: np.ndarray, weights: np.ndarray, method: Literal["tis", "sntis"] = "sntis") -> ReturnCDF:
    """The return CDF from returns [n] and importance weights [n] (non-negative, finite)."""
    g, w = np.asarray(returns, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if g.ndim != 1 or g.shape != w.shape or g.size == 0:
        raise QfinError(f"returns and weights must be 1-D of one length >= 1; got {g.shape} and {w.shape}")
    if not np.all(np.isfinite(g)):
        bad = int(np.argmax(~np.isfinite(g)))
        raise QfinError(f"logged returns must be finite; trajectory {bad} has return {g[bad]} (NaN rewards?)")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise QfinError("importance weights must be finite and >= 0 (a behavior probability of 0 on a logged action?)")
    atoms, inverse = np.unique(g, return_inverse=True)
    mass = np.bincount(inverse.ravel(), weights=w, minlength=atoms.size)
    if method == "sntis":
        if not mass.sum() > 0:
            raise QfinError("every logged trajectory has weight 0 for this candidate: its return law is unknown")
        return ReturnCDF(atoms, mass / mass.sum())
    if method != "tis":
        raise QfinError(f"method must be 'tis' or 'sntis', got {method!r}")
    cumulative = np.minimum(np.cumsum(mass) / g.size, 1.0)
    cumulative[-1] = 1.0  # F(t) = 1 at and beyond the largest logged return
    return ReturnCDF(atoms, np.diff(np.concatenate(([0.0], cumulative))))


CDF_METHODS = ("tis", "sntis", "dm", "dr")


def return_cdf(data: LoggedData, candidate: str, method: Literal["tis", "sntis", "dm", "dr"] = "sntis", *,
               model=None, thresholds=None) -> ReturnCDF:
    """The CDF of ``candidate``'s discounted trajectory return estimated from ``data`` by ``method``: ``"tis"``,
    ``"sntis"`` (above), or the model-based ``"dm"`` and ``"dr"`` (:mod:`qfin.ope._cdf_models`; ``model``, a
    distributional Q model, is fitted by FQE on indicator targets when not given; ``thresholds``: their grid)."""
    if candidate not in data.candidate_pscores:
        raise QfinError(f"no candidate {candidate!r} in the logged data; it has {', '.join(data.candidate_pscores)}")
    if method in ("dm", "dr"):
        from ._cdf_models import dm_cdf, dr_cdf

        return (dm_cdf if method == "dm" else dr_cdf)(data, candidate, model, thresholds=thresholds)
    if method not in CDF_METHODS:
        raise QfinError(f"method must be one of {', '.join(CDF_METHODS)}; got {method!r}")
    returns = data.reward @ _discount(data)
    return weighted_cdf(returns, _cumulative_weights(data, candidate)[:, -1], method)


def kolmogorov_distance(estimate: ReturnCDF, truth: ReturnCDF) -> float:
    """sup_t |F_estimate(t) - F_truth(t)| over both laws' atoms (where the step functions jump), each read just
    above the atom (1e-9 of the returns' scale) so that two atoms equal up to rounding count as one."""
    points = np.union1d(estimate.atoms, truth.atoms)
    points = points + 1e-9 * max(1.0, float(np.abs(points).max()))
    return float(np.max(np.abs(estimate.value_at(points) - truth.value_at(points))))
