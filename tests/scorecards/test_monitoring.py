"""AUC/KS against scikit-learn and scipy; PSI/CSI stability table and its thresholds."""

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from qfin.scorecards import discrimination, psi, stability_report


def test_discrimination_matches_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    s = np.round(rng.normal(0.6 * y, 1.0), 1)  # ties on purpose
    d = {r["metric"]: r for r in discrimination(y, s, n_boot=200, seed=1).iter_rows(named=True)}
    assert d["auc"]["value"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert d["gini"]["value"] == pytest.approx(2 * roc_auc_score(y, s) - 1, abs=1e-12)
    assert d["ks"]["value"] == pytest.approx(ks_2samp(s[y == 1], s[y == 0]).statistic, abs=1e-12)
    for r in d.values():
        assert r["ci_low"] < r["value"] < r["ci_high"]
    with pytest.raises(ValueError, match="finite"):
        discrimination(y, np.r_[s[:-1], np.nan])


def test_stability_report_statuses_and_values():
    rng = np.random.default_rng(2)
    e = np.column_stack([rng.integers(0, 4, 5000), rng.integers(0, 4, 5000)])
    a = np.column_stack([rng.integers(0, 4, 3000), rng.choice(4, 3000, p=[0.55, 0.25, 0.1, 0.1])])
    rep = stability_report(e, a)
    assert rep["status"].to_list() == ["stable", "shifted"]
    ref = psi(np.bincount(e[:, 1]), np.bincount(a[:, 1]))
    assert rep["psi"][1] == pytest.approx(ref.value, abs=1e-12) and rep["p_value"][1] < 1e-10
    assert rep["p_value"][0] > 0.001
    strict = stability_report(e, a, thresholds="paper")
    assert strict["status"][1] == "shifted"
    with pytest.raises(ValueError, match="thresholds"):
        stability_report(e, a, thresholds="lenient")
