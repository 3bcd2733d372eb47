"""Finite return laws (atoms with probabilities) and the risk functionals qfin.dp evaluates on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qfin.errors import QfinError

__all__ = ["ReturnDistribution", "lower_tail_mean_weighted"]


def lower_tail_mean_weighted(atoms: np.ndarray, probs: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of a finite law (higher is better): the mean of X over its worst ``alpha`` probability mass.

    (1/alpha) * integral_0^alpha q_X(u) du, with the atom straddling the alpha-quantile counted with the part of
    its mass below alpha (Acerbi & Tasche 2002). This is the weighted-atom form of
    :func:`qfin.risk.lower_tail_mean`, which takes equally weighted samples.
    """
    if not 0.0 < alpha <= 1.0:
        raise QfinError(f"alpha must be in (0, 1]; got {alpha!r}")
    order = np.argsort(atoms, kind="stable")
    x, p = np.asarray(atoms, float)[order], np.asarray(probs, float)[order]
    before = np.concatenate(([0.0], np.cumsum(p)[:-1]))
    take = np.clip(alpha - before, 0.0, p)
    return float(np.dot(take, x) / alpha)


@dataclass(frozen=True)
class ReturnDistribution:
    """The law of the return G as sorted distinct atoms [n] with probabilities [n] (summing to 1)."""

    atoms: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def from_atoms(cls, atoms: np.ndarray, probs: np.ndarray) -> ReturnDistribution:
        """Merge equal atoms (callers snap them to a grid first) and sort."""
        uniq, inv = np.unique(np.asarray(atoms, float), return_inverse=True)
        w = np.bincount(inv.ravel(), weights=np.asarray(probs, float).ravel(), minlength=uniq.size)
        keep = w > 0.0
        return cls(uniq[keep], w[keep])

    def mean(self) -> float:
        return float(np.dot(self.atoms, self.probabilities))

    def cvar(self, alpha: float) -> float:
        """Mean of G over its worst alpha fraction (lower tail)."""
        return lower_tail_mean_weighted(self.atoms, self.probabilities, alpha)

    def prob_at_least(self, target: float, atol: float = 1e-9) -> float:
        """P(G >= target), counting atoms within ``atol`` below the target as reaching it (float round-off)."""
        return float(self.probabilities[self.atoms >= target - atol].sum())

    def expect(self, fn) -> float:
        """E[fn(G)] for a vectorised fn."""
        return float(np.dot(np.asarray(fn(self.atoms), float), self.probabilities))

    def __len__(self) -> int:
        return int(self.atoms.size)
