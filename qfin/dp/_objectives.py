"""Objectives of the return G that stock-augmented DP optimises exactly.

Every objective here has the form  max over c0 in C of  score(c0, E[f(c0 + G)])  (Pires et al. 2025,
"Optimizing Return Distributions with Distributional Dynamic Programming", arXiv 2501.13028, Sec. 5):
a utility f of the final stock c0 + G, with an outer search over the start stock c0 where the objective
needs one (CVaR via Rockafellar & Uryasev 2000). For a fixed c0, E[f(c0 + G)] is optimised exactly by DP over
the augmented state (s, c); the outer maximum commutes with the maximum over policies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from qfin.dp._distribution import ReturnDistribution
from qfin.errors import QfinError

__all__ = [
    "CVaR",
    "ExpectedUtility",
    "Homeostatic",
    "MeanCVaR",
    "Objective",
    "ProbabilityOfTarget",
    "Satisficing",
]


class Objective(ABC):
    """Base of the optimisable objectives: a utility f of the final stock and the start stocks to search."""

    #: True when the start stocks depend on the set of achievable returns (outer search over c0).
    searches_start_stock = False

    def start_stocks(self, return_support: np.ndarray | None) -> np.ndarray:
        """Candidate start stocks c0 [k]; ``return_support`` is the set of achievable values of G."""
        return np.array([0.0])

    @abstractmethod
    def utility(self, x: np.ndarray) -> np.ndarray:
        """f(x) at final stocks x = c0 + G, vectorised."""

    def score(self, c0: float, expected_utility: float) -> float:
        """The objective's value for start stock c0 given E[f(c0 + G)]."""
        return float(expected_utility)

    @abstractmethod
    def evaluate(self, dist: ReturnDistribution) -> float:
        """The objective of a return law, computed directly (not through f): the independent check."""

    def check_infinite_horizon(self, gamma: float) -> None:  # noqa: B027 (optional hook)
        """Refuse objectives outside the class DP optimises without a time index (infinite horizon)."""


class ExpectedUtility(Objective):
    """E[fn(stock + G)] for a utility ``fn`` (vectorised over numpy arrays), start stock ``stock`` (default 0).

    On a finite horizon any fn is optimised exactly. On an infinite horizon a stationary stock-augmented
    policy is optimal only when fn(gamma x) = a fn(x) + b for constants a > 0, b (Pires et al. 2025, Sec. 5;
    e.g. linear, indicator of x >= 0, min(x, 0), power of |x|); other fn are refused there.
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], stock: float = 0.0) -> None:
        if not callable(fn):
            raise QfinError(f"ExpectedUtility needs a callable utility fn(x); got {type(fn).__name__}")
        self.fn, self.stock = fn, float(stock)

    def start_stocks(self, return_support):
        return np.array([self.stock])

    def utility(self, x):
        x = np.asarray(x, float)
        out = np.asarray(self.fn(x), dtype=float)
        if out.shape != x.shape:
            raise QfinError(f"ExpectedUtility's fn must map an array of shape {x.shape} to the same shape "
                            f"(vectorised); it returned shape {out.shape}")
        if not np.all(np.isfinite(out)):
            raise QfinError("ExpectedUtility's fn returned a non-finite value on a reachable stock")
        return out

    def evaluate(self, dist):
        return float(np.dot(self.utility(self.stock + dist.atoms), dist.probabilities))

    def check_infinite_horizon(self, gamma):
        x = np.linspace(-10.0, 10.0, 41)
        fx, fgx = self.utility(x), self.utility(gamma * x)
        # Least-squares fit of fn(gamma x) = a fn(x) + b; a residual means fn is outside the class.
        design = np.column_stack([fx, np.ones_like(fx)])
        coef, *_ = np.linalg.lstsq(design, fgx, rcond=None)
        resid = np.max(np.abs(design @ coef - fgx))
        if resid > 1e-8 * max(1.0, np.max(np.abs(fgx))) or coef[0] <= 0.0:
            raise QfinError(
                "this utility cannot be optimised on an infinite horizon by stock-augmented DP: it needs "
                f"fn(gamma x) = a fn(x) + b with a > 0 (Pires et al. 2025), and fn fails it at "
                f"gamma={gamma} (fit residual {resid:.3g}). Use a finite horizon, or a utility such as x, "
                "min(x, 0), 1[x >= 0] or -|x|^p")


class CVaR(Objective):
    """CVaR_alpha(G): the mean of G over its worst ``alpha`` fraction (lower tail; higher is better).

    Rockafellar–Uryasev: CVaR_alpha(G) = max over c0 of E[min(c0 + G, 0)] / alpha - c0 (c0 = -VaR). The maximiser
    is a quantile of the optimal G, which is an achievable return, so the outer search over c0 is exact when it
    runs over minus the achievable returns (no fixed-point iteration on c0, which can stall).
    """

    searches_start_stock = True

    def __init__(self, alpha: float) -> None:
        alpha = float(alpha)
        if not 0.0 < alpha <= 1.0:
            raise QfinError(f"CVaR alpha must be in (0, 1] (the tail fraction, e.g. 0.1); got {alpha!r}")
        self.alpha = alpha

    def start_stocks(self, return_support):
        return -np.asarray(return_support, float)

    def utility(self, x):
        return np.minimum(x, 0.0) / self.alpha

    def score(self, c0, expected_utility):
        return float(expected_utility - c0)

    def evaluate(self, dist):
        return dist.cvar(self.alpha)

    def check_infinite_horizon(self, gamma):
        return None  # min(gamma x, 0) = gamma min(x, 0)


class MeanCVaR(Objective):
    """E[G] + weight * CVaR_alpha(G): a mean–risk trade-off (weight >= 0), through the same outer search."""

    searches_start_stock = True

    def __init__(self, alpha: float, weight: float) -> None:
        self._cvar = CVaR(alpha)
        weight = float(weight)
        if not weight >= 0.0:
            raise QfinError(f"MeanCVaR weight must be >= 0; got {weight!r}")
        self.alpha, self.weight = self._cvar.alpha, weight

    def start_stocks(self, return_support):
        return -np.asarray(return_support, float)

    def utility(self, x):
        return x + self.weight * np.minimum(x, 0.0) / self.alpha

    def score(self, c0, expected_utility):
        # E[c0 + G] + w E[min(c0 + G, 0)]/alpha - (1 + w) c0 = E[G] + w (E[min(c0 + G, 0)]/alpha - c0)
        return float(expected_utility - (1.0 + self.weight) * c0)

    def evaluate(self, dist):
        return dist.mean() + self.weight * dist.cvar(self.alpha)

    def check_infinite_horizon(self, gamma):
        return None


class ProbabilityOfTarget(Objective):
    """P(G >= target): start stock c0 = -target and f(x) = 1[x >= -atol].

    Tolerance rule: a return G counts as reaching the target when G >= target - atol (default 1e-6), in the
    solvers' utility and in :meth:`evaluate` alike. A return that lands exactly on the target in exact
    arithmetic can miss it in floats (rewards 0.1 + 0.1 sum to 0.2 - 2.8e-17 after the stock -0.2 is added) and
    the solvers snap stocks to a power-of-two grid near ``atom_tol`` (2^-30 by default, at most half a step off
    per decision), so a strict 1[x >= 0] would score such a return 0. Keep atol above horizon x atom_tol / 2
    when atom_tol is raised, and well below the spacing of distinct returns; ``atol=0`` is the strict rule.
    """

    def __init__(self, target: float, atol: float = 1e-6) -> None:
        self.target = _finite(target, "ProbabilityOfTarget target")
        self.atol = _finite(atol, "ProbabilityOfTarget atol")
        if self.atol < 0.0:
            raise QfinError(f"ProbabilityOfTarget atol must be >= 0 (e.g. 1e-6); got {atol!r}")

    def start_stocks(self, return_support):
        return np.array([-self.target])

    def utility(self, x):
        return (np.asarray(x) >= -self.atol).astype(float)

    def evaluate(self, dist):
        return dist.prob_at_least(self.target, atol=self.atol)

    def check_infinite_horizon(self, gamma):
        return None


class Homeostatic(Objective):
    """Stay near a set point: -E[|G - set_point|^power] (power > 0; 2 is the squared deviation)."""

    def __init__(self, set_point: float, power: float = 2.0) -> None:
        self.set_point = _finite(set_point, "Homeostatic set_point")
        self.power = float(power)
        if not self.power > 0.0:
            raise QfinError(f"Homeostatic power must be > 0; got {power!r}")

    def start_stocks(self, return_support):
        return np.array([-self.set_point])

    def utility(self, x):
        return -np.abs(x) ** self.power

    def evaluate(self, dist):
        return -float(np.dot(np.abs(dist.atoms - self.set_point) ** self.power, dist.probabilities))

    def check_infinite_horizon(self, gamma):
        return None


class Satisficing(Objective):
    """E[min(G - target, 0)]: the expected shortfall below a target (0 when the target is always met)."""

    def __init__(self, target: float) -> None:
        self.target = _finite(target, "Satisficing target")

    def start_stocks(self, return_support):
        return np.array([-self.target])

    def utility(self, x):
        return np.minimum(x, 0.0)

    def evaluate(self, dist):
        return float(np.dot(np.minimum(dist.atoms - self.target, 0.0), dist.probabilities))

    def check_infinite_horizon(self, gamma):
        return None


def _finite(x, name):
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise QfinError(f"{name} must be a number; got {x!r}") from None
    if not np.isfinite(v):
        raise QfinError(f"{name} must be finite; got {x!r}")
    return v
