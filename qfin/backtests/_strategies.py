"""Weight strategies: the classical portfolio baselines (fitted with skfolio) and a wrapper for any policy.

Each derives from :class:`qfin.strategy.WeightStrategy` (the contract: target weights with cash at index 0 from
the returns up to the decision bar) and is registered under its kind when this module is imported.

The optimising baselines are skfolio estimators refitted on each window, with skfolio's default prior (the
EmpiricalPrior: sample mean, sample covariance with ddof = 1) and the CLARABEL solver run to tight tolerances on
an objective scaled to O(1) (a window where those are not met is solved again at skfolio's default tolerances):

- ``inverse_volatility``: w_i ∝ 1 / sigma_i (skfolio ``InverseVolatility``).
- ``min_variance``: min w' Σ w, sum w = 1, 0 <= w <= max_weight (``MeanRisk``, ``MINIMIZE_RISK``, variance);
  Markowitz (1952).
- ``max_sharpe``: max (mu' w - r_f) / sqrt(w' Σ w) on the same set (``MeanRisk``, ``MAXIMIZE_RATIO``, standard
  deviation), made convex by the Charnes & Cooper (1962) change of variables (see Cornuejols & Tutuncu,
  "Optimization Methods in Finance", 2007, ch. 8). Infeasible when no asset's mean beats r_f.
- ``risk_parity``: equal risk contributions w_i (Σ w)_i (``RiskBudgeting``, variance); Maillard, Roncalli &
  Teiletche (2010), "The properties of equally weighted risk contribution portfolios".
- ``hrp``: hierarchical risk parity (``HierarchicalRiskParity``, variance); Lopez de Prado (2016), "Building
  diversified portfolios that outperform out of sample".

A fit that fails on a window (skfolio raises, the solver is infeasible, weights come back NaN) raises
:class:`StrategyFitError` naming the strategy and the decision bar; with ``fallback="previous"`` the strategy
instead keeps its previous target for that decision and emits a :class:`StrategyFallbackWarning` saying so.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from qfin.errors import SpecError
from qfin.strategy import (
    STRATEGIES,
    StrategyFallbackWarning,
    StrategyFitError,
    StrategyOutputError,
    WeightStrategy,
    is_real,
    register_strategy,
)

__all__ = [
    "STRATEGIES", "BuyAndHold", "EqualWeight", "HierarchicalRiskParity", "InverseVolatility", "MaximumSharpe",
    "MinimumVariance", "PolicyStrategy", "RiskParity", "StrategyFallbackWarning", "StrategyFitError",
    "StrategyOutputError", "WeightStrategy",
]

_SUM_TOL = 1e-6  # allowed |sum(w) - 1| of a target before it is renormalised
_NEGATIVE_TOL = 1e-8  # long-only solver round-off below zero that is clipped to zero
# CLARABEL stopping tolerances for the convex fits. With the objective scaled to O(1) and the constraints by 10
# (see _convex_options), tolerances 100 times tighter than CLARABEL's defaults give weights within ~1e-6 of the
# optimum and risk contributions within ~1e-5 of each other on 20 stocks (skfolio's defaults leave weights ~1e-5
# off and risk contributions ~1e-4 apart) at the same ~8 ms per fit. A window on which CLARABEL cannot reach
# them ("almost solved", iteration limit, insufficient progress) is solved again at skfolio's default solver
# settings; only if that also fails is the fit a failure (StrategyFitError). skfolio's "Solution may be
# inaccurate" warning is silenced for the first attempt only, since that case is re-solved.
_CLARABEL_PARAMS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
_INACCURATE_MESSAGE = "Solution may be inaccurate"
_ACCEPTED_STATUS = ("optimal", "optimal_inaccurate")  # cvxpy's names for CLARABEL's Solved / AlmostSolved


def _with_cash(risky: np.ndarray, n_assets: int) -> np.ndarray:
    """Validate [N] (cash 0 prepended) or [N + 1] weights and return [N + 1] float64 summing exactly to one."""
    try:
        weights = np.asarray(risky, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyOutputError(f"weights must be an array of numbers, got {type(risky).__name__}") from None
    if weights.ndim != 1:
        raise StrategyOutputError(f"weights must be 1-D ([N + 1] cash first or [N]), got shape {weights.shape}")
    if len(weights) == n_assets:
        weights = np.concatenate(([0.0], weights))
    if len(weights) != n_assets + 1:
        raise StrategyOutputError(f"weights have length {len(weights)}; expected {n_assets + 1} (cash first) "
                                  f"or {n_assets} (risky assets only, cash 0)")
    if not np.all(np.isfinite(weights)):
        raise StrategyOutputError(f"weights are not all finite: {np.round(weights, 6).tolist()}")
    total = weights.sum()
    if abs(total - 1.0) > _SUM_TOL:
        raise StrategyOutputError(f"weights sum to {total:.9g}, not 1 (tolerance {_SUM_TOL:g})")
    return weights / total


@dataclass(frozen=True, kw_only=True)
class EqualWeight(WeightStrategy):
    """1/N in every asset, rebalanced at every decision; no history used (DeMiguel, Garlappi & Uppal, 2009)."""

    kind: ClassVar[str] = "equal_weight"
    uses_history: ClassVar[bool] = False
    name: str = "equal_weight"

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        n_assets = np.shape(returns)[1]
        return np.concatenate(([0.0], np.full(n_assets, 1.0 / n_assets)))


@dataclass(frozen=True, kw_only=True)
class BuyAndHold(EqualWeight):
    """1/N bought at the first decision and then held (weights drift); ``rebalances = False``.

    ``decide`` returns 1/N at every bar it is given; pass only the first decision bar to the engine.
    """

    kind: ClassVar[str] = "buy_and_hold"
    rebalances: ClassVar[bool] = False
    name: str = "buy_and_hold"


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _fit(estimator: Any, returns: np.ndarray, silence_inaccurate: bool) -> tuple[np.ndarray, str | None]:
    """Fit a skfolio estimator; its weights [N] and the cvxpy status of its problem (None if it solves none).

    scikit-learn's input checks are skipped (``assume_finite``, ``skip_parameter_validation``): the window was
    checked finite by the caller and the estimator's parameters are qfin's own. HRP builds ~60 skfolio Portfolios
    per fit, each re-checking the returns, so its fits are ~9% faster; the weights are the same to the bit."""
    from sklearn import config_context

    with np.errstate(all="ignore"), warnings.catch_warnings(), \
            config_context(assume_finite=True, skip_parameter_validation=True):
        warnings.simplefilter("ignore", RuntimeWarning)
        if silence_inaccurate:
            warnings.filterwarnings("ignore", message=_INACCURATE_MESSAGE, category=UserWarning)
        weights = np.asarray(estimator.fit(returns).weights_, dtype=np.float64)
    problem = getattr(estimator, "problem_", None)  # kept by the convex estimators (save_problem=True)
    return weights, None if problem is None else str(problem.status)


@dataclass(frozen=True, kw_only=True)
class _SkfolioStrategy(WeightStrategy):
    """A long-only, fully invested strategy refitted with a skfolio estimator on each window."""

    min_lookback: ClassVar[int] = 2  # a sample covariance needs two observations
    lookback: int = 252

    @abstractmethod
    def _estimator(self, returns: np.ndarray) -> Any:
        """A fresh, unfitted skfolio estimator for the window ``returns`` [lookback, N]."""

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        """Fit the estimator on ``returns`` [lookback, N]; weights [N + 1] with cash 0 first."""
        returns = np.asarray(returns, dtype=np.float64)
        if returns.ndim != 2 or len(returns) < 2 or not np.all(np.isfinite(returns)):
            raise StrategyOutputError(f"{self.kind} needs a finite [lookback >= 2, N] window of returns, "
                                      f"got shape {returns.shape}")
        estimator = self._estimator(returns)
        estimator_name = type(estimator).__name__
        convex = "solver_params" in estimator.get_params()
        try:
            weights, status = _fit(estimator, returns, silence_inaccurate=True)
        except Exception as err:  # any skfolio / cvxpy / solver failure on this window
            if not convex:
                raise StrategyFitError(f"skfolio {estimator_name} failed: {_first_line(err)}") from err
            status = "error"
        if convex and status != "optimal":
            # The tight tolerances were not met: solve again at skfolio's default ones (see _CLARABEL_PARAMS).
            from sklearn.base import clone

            try:
                weights, status = _fit(clone(estimator).set_params(solver_params=None), returns,
                                       silence_inaccurate=False)
            except Exception as err:
                raise StrategyFitError(f"skfolio {estimator_name} failed: {_first_line(err)}") from err
            if status not in _ACCEPTED_STATUS:
                raise StrategyFitError(f"skfolio {estimator_name}: solver CLARABEL stopped with status "
                                       f"{status!r} before reaching its tolerances")
        if weights.shape != (returns.shape[1],) or not np.all(np.isfinite(weights)):
            raise StrategyFitError(f"skfolio {estimator_name} returned non-finite or misshaped weights "
                                   f"{np.round(weights, 6).tolist()}")
        if weights.min() < -_NEGATIVE_TOL or abs(weights.sum() - 1.0) > _SUM_TOL:
            raise StrategyFitError(f"skfolio {estimator_name} returned weights outside the long-only budget "
                                   f"(min {weights.min():.3g}, sum {weights.sum():.9g})")
        weights = np.clip(weights, 0.0, None)  # solver round-off just below zero
        return np.concatenate(([0.0], weights / weights.sum()))


@dataclass(frozen=True, kw_only=True)
class InverseVolatility(_SkfolioStrategy):
    """w_i ∝ 1 / sigma_i with sigma_i the sample standard deviation of asset i over the window."""

    kind: ClassVar[str] = "inverse_volatility"
    name: str = "inverse_volatility"

    def _estimator(self, returns: np.ndarray) -> Any:
        from skfolio.optimization import InverseVolatility as SkInverseVolatility

        return SkInverseVolatility()


def _convex_options(returns: np.ndarray) -> dict[str, Any]:
    """Solver settings for skfolio's convex estimators on this window.

    The objective is scaled by 1 / (mean sample variance of the assets) so that it is O(1) whatever the bar
    frequency; the solver's absolute tolerances then mean the same thing on daily and on monthly returns.
    """
    mean_variance = float(np.mean(np.var(returns, axis=0, ddof=1)))
    scale = 1.0 / mean_variance if mean_variance > 0.0 else None  # zero variance: skfolio rejects the window
    return {"scale_objective": scale, "scale_constraints": 10.0, "solver": "CLARABEL",
            "solver_params": dict(_CLARABEL_PARAMS), "save_problem": True}


def _check_max_weight(where: str, max_weight: Any) -> None:
    if not is_real(max_weight) or not 0.0 < max_weight <= 1.0:
        raise SpecError(f"{where}: max_weight must be a number in (0, 1], got {max_weight!r}")


def _check_budget_reachable(where: str, max_weight: float, n_assets: int) -> None:
    if max_weight * n_assets < 1.0 - 1e-12:
        raise SpecError(f"{where}: max_weight {max_weight:g} on {n_assets} assets cannot add up to a fully "
                        f"invested portfolio; use max_weight >= 1/{n_assets} = {1.0 / n_assets:.6g}")


@dataclass(frozen=True, kw_only=True)
class MinimumVariance(_SkfolioStrategy):
    """Minimum variance: min w' Σ w, sum w = 1, 0 <= w_i <= max_weight (needs max_weight * N >= 1)."""

    kind: ClassVar[str] = "min_variance"
    name: str = "min_variance"
    max_weight: float = 1.0

    def _check_params(self, where: str) -> None:  # noqa: B027 (optional hook)
        _check_max_weight(where, self.max_weight)

    def _check_assets(self, n_assets: int, where: str) -> None:  # noqa: B027 (optional hook)
        _check_budget_reachable(where, self.max_weight, n_assets)

    def _estimator(self, returns: np.ndarray) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MINIMIZE_RISK, risk_measure=RiskMeasure.VARIANCE,
                        min_weights=0.0, max_weights=float(self.max_weight), **_convex_options(returns))


@dataclass(frozen=True, kw_only=True)
class MaximumSharpe(_SkfolioStrategy):
    """Maximum Sharpe ratio: max (mu' w - r_f) / sqrt(w' Σ w), sum w = 1, 0 <= w_i <= max_weight.

    ``risk_free_rate`` is per bar, in the units of the returns (e.g. 0.02 / 252 for 2 % a year on daily bars).
    """

    kind: ClassVar[str] = "max_sharpe"
    name: str = "max_sharpe"
    max_weight: float = 1.0
    risk_free_rate: float = 0.0

    def _check_params(self, where: str) -> None:  # noqa: B027 (optional hook)
        _check_max_weight(where, self.max_weight)
        if not is_real(self.risk_free_rate) or not np.isfinite(self.risk_free_rate):
            raise SpecError(f"{where}: risk_free_rate must be a finite number (per bar), got {self.risk_free_rate!r}")

    def _check_assets(self, n_assets: int, where: str) -> None:  # noqa: B027 (optional hook)
        _check_budget_reachable(where, self.max_weight, n_assets)

    def _estimator(self, returns: np.ndarray) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
                        risk_measure=RiskMeasure.STANDARD_DEVIATION, min_weights=0.0,
                        max_weights=float(self.max_weight), risk_free_rate=float(self.risk_free_rate),
                        **_convex_options(returns))


@dataclass(frozen=True, kw_only=True)
class RiskParity(_SkfolioStrategy):
    """Equal risk contribution: w_i (Σ w)_i equal for all i, long-only, fully invested."""

    kind: ClassVar[str] = "risk_parity"
    name: str = "risk_parity"

    def _estimator(self, returns: np.ndarray) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import RiskBudgeting

        return RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, **_convex_options(returns))


@dataclass(frozen=True, kw_only=True)
class HierarchicalRiskParity(_SkfolioStrategy):
    """Hierarchical risk parity with skfolio's defaults (variance, Pearson distance, Ward linkage)."""

    kind: ClassVar[str] = "hrp"
    name: str = "hrp"

    def _estimator(self, returns: np.ndarray) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import HierarchicalRiskParity as SkHierarchicalRiskParity

        return SkHierarchicalRiskParity(risk_measure=RiskMeasure.VARIANCE)


@dataclass(frozen=True, kw_only=True)
class PolicyStrategy(WeightStrategy):
    """Wrap any callable ``policy(returns_window) -> weights`` as a strategy.

    ``returns_window`` is the [lookback, N] window of simple returns ending at the decision bar. The policy
    returns [N + 1] weights (cash first) or [N] risky weights (cash 0 is prepended). Each output is checked
    (right length, finite, sum 1 within 1e-6) and a bad one raises :class:`StrategyOutputError` naming the
    decision index and bar. Exceptions raised by the policy itself propagate unchanged.
    """

    kind: ClassVar[str] = "policy"
    policy: Callable[[np.ndarray], Any] = field(kw_only=False)
    name: str = "policy"
    lookback: int = 1

    def _check_params(self, where: str) -> None:  # noqa: B027 (optional hook)
        if not callable(self.policy):
            raise SpecError(f"{where}: policy must be callable as policy(returns_window) -> weights, "
                            f"got {type(self.policy).__name__}")

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        returns = np.asarray(returns, dtype=np.float64)
        return _with_cash(self.policy(returns), returns.shape[1])


for _cls in (EqualWeight, BuyAndHold, InverseVolatility, MinimumVariance, MaximumSharpe, RiskParity,
             HierarchicalRiskParity):
    register_strategy(_cls.kind, _cls)

from qfin.backtests import _python, _signal_rules  # noqa: E402, F401 (register kinds "python" and "signal")
