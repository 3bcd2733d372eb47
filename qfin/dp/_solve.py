"""The one entry point: :func:`solve`."""

from __future__ import annotations

from qfin.dp._exact import DPResult, solve_exact
from qfin.dp._mdp import FiniteMDP
from qfin.dp._objectives import Objective
from qfin.errors import QfinError

__all__ = ["solve"]


def solve(mdp: FiniteMDP, objective: Objective, *, method: str = "exact", algorithm: str = "value_iteration",
          atom_tol: float = 1e-9, truncation_tol: float = 1e-6, n_quantiles: int = 64, n_atoms: int = 51,
          v_min: float | None = None, v_max: float | None = None, n_stocks: int = 201, evaluation: str = "exact",
          n_eval_paths: int = 100_000, seed: int | None = 0) -> DPResult:
    """Optimise an objective of the return distribution over stock-augmented policies.

    Parameters
    ----------
    mdp : :class:`FiniteMDP`.
    objective : one of :class:`ExpectedUtility`, :class:`CVaR`, :class:`MeanCVaR`, :class:`ProbabilityOfTarget`,
        :class:`Homeostatic`, :class:`Satisficing` (all of the form max_c0 score(c0, E[f(c0 + G)])).
    method : ``"exact"`` (finite-support return laws, atoms merged within ``atom_tol``), ``"quantile"``
        (``n_quantiles`` quantiles per state on a grid of ``n_stocks`` stocks, for large problems) or
        ``"categorical"`` (probabilities on a fixed grid of ``n_atoms`` atoms per state on the same stock grid,
        backed up with the Cramér projection of Rowland et al. 2018). For the last two the greedy policy is
        re-evaluated exactly or by Monte Carlo, and ``value`` is that re-evaluation.
    n_atoms, v_min, v_max : the categorical grid: ``n_atoms`` >= 2 evenly spaced atoms from ``v_min`` <= 0 to
        ``v_max`` >= 0 at every step (returns still to come outside it are clipped to its ends), or, with neither
        bound given, spanning at each step the range the return still to come can reach (nothing is then
        clipped, so every backup keeps the mean).
    algorithm : ``"value_iteration"`` (backward induction) or ``"policy_iteration"`` (exact method only).
    atom_tol : stocks and atoms closer than about this are merged (snapped to a power-of-two grid).
    truncation_tol : for an infinite-horizon MDP, the bound on the ignored discounted tail of G.
    evaluation : ``"exact"`` or ``"monte_carlo"`` (quantile and categorical methods): how the found policy is
        valued.
    n_eval_paths, seed : Monte Carlo re-evaluation size and seed.

    Returns
    -------
    :class:`DPResult` with ``value``, ``policy(t, state, stock)``, ``distribution`` (``atoms``,
    ``probabilities``) and ``initial_stock``.

    Raises
    ------
    QfinError for an objective outside the class stock-augmented DP optimises (a general functional of the
    return law, or on an infinite horizon a utility without f(gamma x) = a f(x) + b), or bad arguments.
    """
    if not isinstance(mdp, FiniteMDP):
        raise QfinError(f"solve needs a qfin.dp.FiniteMDP; got {type(mdp).__name__}")
    if not isinstance(objective, Objective):
        raise QfinError(
            f"solve cannot optimise {objective!r}: stock-augmented DP optimises objectives of the form "
            "max over c0 of E[f(c0 + G)] (Pires et al. 2025), which qfin.dp provides as ExpectedUtility(f), "
            "CVaR, MeanCVaR, ProbabilityOfTarget, Homeostatic and Satisficing. A general functional of the "
            "return law (variance, median, a callable on the distribution) is not in that class and is not "
            "approximated silently; wrap a utility of the final return in ExpectedUtility(f) instead")
    if mdp.horizon is None:
        objective.check_infinite_horizon(mdp.gamma)
    if method == "exact":
        return solve_exact(mdp, objective, algorithm=algorithm, atom_tol=atom_tol, truncation_tol=truncation_tol)
    if method == "quantile":
        from qfin.dp._quantile import solve_quantile

        return solve_quantile(mdp, objective, n_quantiles=n_quantiles, n_stocks=n_stocks, evaluation=evaluation,
                              n_eval_paths=n_eval_paths, seed=seed, atom_tol=atom_tol,
                              truncation_tol=truncation_tol)
    if method == "categorical":
        from qfin.dp._categorical import solve_categorical

        return solve_categorical(mdp, objective, n_atoms=n_atoms, v_min=v_min, v_max=v_max, n_stocks=n_stocks,
                                 evaluation=evaluation, n_eval_paths=n_eval_paths, seed=seed, atom_tol=atom_tol,
                                 truncation_tol=truncation_tol)
    raise QfinError(f"method must be 'exact', 'quantile' or 'categorical'; got {method!r}")
