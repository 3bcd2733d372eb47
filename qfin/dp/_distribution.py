"""Finite return laws (atoms with probabilities) and the risk functionals qfin.dp evaluates on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qfin.risk import lower_tail_mean

__all__ = ["ReturnDistribution"]


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
        return float(lower_tail_mean(self.atoms, alpha, probabilities=self.probabilities))

    def prob_at_least(self, target: float, atol: float = 1e-9) -> float:
        """P(G >= target), counting atoms within ``atol`` below the target as reaching it (float round-off)."""
        return float(self.probabilities[self.atoms >= target - atol].sum())

    def expect(self, fn) -> float:
        """E[fn(G)] for a vectorised fn."""
        return float(np.dot(np.asarray(fn(self.atoms), float), self.probabilities))

    def __len__(self) -> int:
        return int(self.atoms.size)
