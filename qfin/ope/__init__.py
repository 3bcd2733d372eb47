"""Off-policy evaluation: logged data, estimators, and the top-k metrics of Kiyohara et al. (2024), SharpeRatio@k
among them.

- Logged data: :class:`LoggedData` (episodes of a behavior policy with every candidate's propensities),
  :func:`save_logged` / :func:`load_logged` (Parquet, validated), :func:`check_support`.
- Estimators: :func:`tis`, :func:`pdis`, :func:`dr`, :func:`dm` and the self-normalised :func:`sntis`,
  :func:`snpdis`, :func:`sndr`, each returning an :class:`OPEEstimate` (value, standard error);
  :func:`fitted_q_evaluation` for DM/DR; :func:`gaussian_density` for continuous actions; :func:`estimate_all`.
- Metrics: :func:`sharpe_ratio_at_k`, :func:`best_at_k`, :func:`worst_at_k`, :func:`mean_at_k`, :func:`std_at_k`,
  :func:`kth_at_k`, :func:`safety_violation_rate`, :func:`regret_at_k`, :func:`rank_correlation`, :func:`mse`,
  :func:`normalized_mse`, :func:`type_i_error_rate`, :func:`type_ii_error_rate`.
- Estimators as selectors across logged datasets: :func:`assess_estimators` (every metric, mean and bootstrap
  interval over datasets), :func:`plot_topk` (SharpeRatio@k and best/worst@k against k), :func:`write_report`.
- Experiments on qfin environments: menu policies (:class:`DeltaHedge`, :class:`BandHedge`,
  :class:`ConstantHedge`, :class:`UniformPolicy`, :class:`AgentPolicy`) on a :class:`qfin.envs.DiscreteActions`
  env, :func:`log_episodes` / :func:`policy_values` (logged datasets, on-policy truth), and
  :func:`run_ope_experiment` for a TOML spec (``qfin ope run``), :func:`summary_at_k`.
- Return distributions: :func:`return_cdf` (methods ``tis``, ``sntis``, ``dm``, ``dr``) -> :class:`ReturnCDF`
  (mean, variance, VaR, CVaR, entropic risk); :func:`fit_cdf_model` (FQE on indicator targets), :func:`dm_cdf`,
  :func:`dr_cdf`; :func:`confidence_interval` (t, bootstrap, BCa, Hoeffding, empirical Bernstein);
  :func:`risk_estimates` (mean and CVaR with bootstrap bounds per estimator), :func:`bound_coverage` (coverage by
  simulation); :func:`assess_risk_selection` (top-k metrics when selecting by CVaR or by lower bounds).
- Portfolio candidates: :class:`AllocatorMenu` (the classical allocators of :data:`ALLOCATORS` as PortfolioEnv's
  action menu), :class:`PreferPolicy`, :class:`MixPolicy`; specs with ``[menu]`` and ``[risk]``
  (``models/ope/portfolio.toml``).
- A testbed with exact values: :class:`TabularMDP`, :func:`random_tabular_mdp`, :func:`softmax_policy`,
  :func:`epsilon_greedy_policy`, :func:`rollout`.
"""

from qfin.ope._allocators import ALLOCATORS, AllocatorMenu, MixPolicy, PreferPolicy, allocate
from qfin.ope._bounds import BOUND_METHODS, confidence_interval
from qfin.ope._cdf_models import CDFModel, FittedCDFModel, cdf_thresholds, dm_cdf, dr_cdf, fit_cdf_model, project_cdf
from qfin.ope._distributional import CDF_METHODS, ReturnCDF, kolmogorov_distance, return_cdf, weighted_cdf
from qfin.ope._estimators import (
                                  ESTIMATORS,
                                  OPEEstimate,
                                  dm,
                                  dr,
                                  estimate_all,
                                  fitted_q_evaluation,
                                  gaussian_density,
                                  pdis,
                                  sndr,
                                  snpdis,
                                  sntis,
                                  tis,
)
from qfin.ope._experiment import OPERun, OPESpec, load_ope_spec, run_ope_experiment
from qfin.ope._logged import LoggedData, OPESupportWarning, check_support, load_logged, save_logged
from qfin.ope._metrics import (
                                  best_at_k,
                                  kth_at_k,
                                  mean_at_k,
                                  mse,
                                  normalized_mse,
                                  rank_correlation,
                                  regret_at_k,
                                  safety_violation_rate,
                                  sharpe_ratio_at_k,
                                  std_at_k,
                                  top_k_indices,
                                  type_i_error_rate,
                                  type_ii_error_rate,
                                  worst_at_k,
)
from qfin.ope._policies import (
                                  AgentPolicy,
                                  BandHedge,
                                  ConstantHedge,
                                  DeltaHedge,
                                  MenuPolicy,
                                  TargetPolicy,
                                  UniformPolicy,
)
from qfin.ope._risk import RISK_COLUMNS, bound_coverage, cdf_terms, risk_estimates
from qfin.ope._risk_selection import CRITERIA, assess_risk_selection
from qfin.ope._rollout import Episodes, log_episodes, policy_returns, policy_values, run_episodes, truth_table
from qfin.ope._selection import GLOBAL_METRICS, TOPK_METRICS, assess_estimators, plot_topk, summary_at_k, write_report
from qfin.ope._tabular import TabularMDP, epsilon_greedy_policy, random_tabular_mdp, rollout, softmax_policy

__all__ = [
    "LoggedData", "OPESupportWarning", "save_logged", "load_logged", "check_support",
    "OPEEstimate", "ESTIMATORS", "tis", "pdis", "sntis", "snpdis", "dm", "dr", "sndr", "fitted_q_evaluation",
    "gaussian_density", "estimate_all",
    "sharpe_ratio_at_k", "best_at_k", "worst_at_k", "mean_at_k", "std_at_k", "kth_at_k", "safety_violation_rate",
    "regret_at_k", "rank_correlation", "mse", "normalized_mse", "type_i_error_rate", "type_ii_error_rate",
    "top_k_indices", "assess_estimators", "plot_topk", "write_report", "TOPK_METRICS", "GLOBAL_METRICS",
    "summary_at_k", "OPESpec", "OPERun", "load_ope_spec", "run_ope_experiment",
    "MenuPolicy", "TargetPolicy", "DeltaHedge", "BandHedge", "ConstantHedge", "UniformPolicy", "AgentPolicy",
    "Episodes", "run_episodes", "log_episodes", "policy_returns", "policy_values", "truth_table",
    "TabularMDP", "random_tabular_mdp", "softmax_policy", "epsilon_greedy_policy", "rollout",
    "ReturnCDF", "return_cdf", "weighted_cdf", "kolmogorov_distance", "confidence_interval", "BOUND_METHODS",
    "ALLOCATORS", "AllocatorMenu", "PreferPolicy", "MixPolicy", "allocate",
    "RISK_COLUMNS", "bound_coverage", "cdf_terms", "risk_estimates", "CRITERIA", "assess_risk_selection",
    "CDF_METHODS", "CDFModel", "FittedCDFModel", "cdf_thresholds", "dm_cdf", "dr_cdf", "fit_cdf_model", "project_cdf",
]
