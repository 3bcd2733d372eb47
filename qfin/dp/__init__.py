"""Distributional dynamic programming with stock augmentation (Pires, Rowland, Borsa et al. 2025,
"Optimizing Return Distributions with Distributional Dynamic Programming", arXiv 2501.13028).

``FiniteMDP`` is the model, ``solve(mdp, objective)`` optimises CVaR, target probabilities, expected utilities
and other objectives of the return distribution exactly over stock-augmented states, and ``evaluate_policy``
gives the exact law of the return of any policy. For large problems ``solve(..., method="quantile")`` or
``method="categorical"`` approximate the return laws (``categorical_projection`` is the latter's Cramér
projection onto a grid) and report the exact value of the policy they find. Finance problems ship in
:mod:`qfin.dp.problems`; ``solve_spec`` runs a PROBLEM.toml. The deep variant (QR-DQN on the stock-augmented
environment) is :func:`qfin.agents.train_qrdqn`; ``policy_result`` is how it reports its policy's exact value.
"""

from qfin.dp import problems
from qfin.dp._categorical import categorical_projection, return_to_come_range
from qfin.dp._distribution import ReturnDistribution
from qfin.dp._exact import DPResult, achievable_returns, evaluate_policy, policy_result
from qfin.dp._mdp import FiniteMDP
from qfin.dp._objectives import (
    CVaR,
    ExpectedUtility,
    Homeostatic,
    MeanCVaR,
    Objective,
    ProbabilityOfTarget,
    Satisficing,
)
from qfin.dp._report import plot_return_distributions, return_distributions_png, write_solve_report
from qfin.dp._solve import solve
from qfin.dp._spec import DPSpec, load_spec, solve_spec

__all__ = [
    "CVaR",
    "DPResult",
    "DPSpec",
    "ExpectedUtility",
    "FiniteMDP",
    "Homeostatic",
    "MeanCVaR",
    "Objective",
    "ProbabilityOfTarget",
    "ReturnDistribution",
    "Satisficing",
    "achievable_returns",
    "categorical_projection",
    "evaluate_policy",
    "load_spec",
    "plot_return_distributions",
    "policy_result",
    "problems",
    "return_distributions_png",
    "return_to_come_range",
    "solve",
    "solve_spec",
    "write_solve_report",
]
