"""Credit scorecards as a library: stump binning, WoE/IV/PSI with standard errors, scorecards, fairness.

y is 1 = bad/event, 0 = good throughout; WoE is ln(good share / bad share) (optbinning's sign). Formulas and
sources are in each private module's docstring (DESIGN.md section 3).
"""

from qfin.scorecards._binning import FeatureBins, StumpBinner
from qfin.scorecards._card_spec import CardSpec, load_card
from qfin.scorecards._encoding import WoEEncoder
from qfin.scorecards._fairness import BinningSolution, adverse_impact_ratio, binning_mip, fairness_frontier, fairness_iv
from qfin.scorecards._measures import (
                                       DivergenceResult,
                                       information_value,
                                       information_value_from_counts,
                                       psi,
                                       psi_from_samples,
                                       woe_table,
)
from qfin.scorecards._monitor_report import write_monitoring
from qfin.scorecards._monitoring import THRESHOLDS, MonitoringReport, discrimination, monitor, stability_report
from qfin.scorecards._report import build_scorecard
from qfin.scorecards._scorecard import Scorecard, points_scaling
from qfin.scorecards._selection import FeatureSelector
from qfin.scorecards._synthetic import synthetic_credit

__all__ = [
    "information_value", "information_value_from_counts", "woe_table", "psi", "psi_from_samples",
    "DivergenceResult", "StumpBinner", "FeatureBins", "WoEEncoder", "Scorecard", "points_scaling",
    "fairness_frontier", "fairness_iv", "adverse_impact_ratio", "binning_mip", "BinningSolution",
    "FeatureSelector", "discrimination", "stability_report", "monitor", "MonitoringReport",
    "write_monitoring", "load_card", "CardSpec", "THRESHOLDS", "synthetic_credit", "build_scorecard",
]
