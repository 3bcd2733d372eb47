"""The p-n criterion: E[KL(p* || p_hat)] = p / 2n against simulated logistic fits where the truth is known; the
scorecard's report of it; the one-line refusals."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from qfin.data import load_dataset
from qfin.errors import DataValidationError
from qfin.scorecards import Scorecard, StumpBinner
from qfin.scorecards._sample_size import sample_size_criterion


def _bernoulli_kl(p, q):
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


@pytest.mark.parametrize("n_params, n", [(3, 1000), pytest.param(6, 600, marks=pytest.mark.slow)])
def test_expected_kl_matches_a_simulation_of_logistic_fits(n_params, n):
    rng = np.random.default_rng(5)
    beta = np.r_[-1.0, np.linspace(0.8, -0.4, n_params - 1)]
    x_eval = np.column_stack([np.ones(4000), rng.normal(size=(4000, n_params - 1))])
    p_true = 1 / (1 + np.exp(-x_eval @ beta))
    kls = []
    for _ in range(120):
        X = rng.normal(size=(n, n_params - 1))
        y = (rng.random(n) < 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))).astype(int)
        m = LogisticRegression(C=np.inf, max_iter=1000).fit(X, y)
        p_hat = 1 / (1 + np.exp(-(m.intercept_[0] + x_eval[:, 1:] @ m.coef_[0])))
        kls.append(np.mean(_bernoulli_kl(p_true, p_hat)))
    c = sample_size_criterion(n_params, n, tolerance=0.01)
    se = np.std(kls) / np.sqrt(len(kls))
    # 2n KL -> chi2(p): the mean is p / 2n to within the Monte Carlo error and the O(1/n^2) term
    assert abs(np.mean(kls) - c.expected_kl) < 3 * se + 0.1 * c.expected_kl
    assert c.expected_kl == n_params / (2 * n) and c.ok


def test_limits_and_refusals():
    c = sample_size_criterion(21, 700, 210, tolerance=0.01)
    assert (c.expected_kl, c.max_params, c.min_rows, c.ok) == (21 / 1400, 14, 1050, False)
    with pytest.raises(DataValidationError, match="too small for the p-n criterion: 40 rows of the smaller class "
                                                  "for 10 parameters") as e:
        sample_size_criterion(10, 1000, 40)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="tolerance must be"):
        sample_size_criterion(3, 1000, tolerance=0)


def test_scorecard_reports_it():
    df = load_dataset("german_credit")
    X, y = df.drop("target"), df["target"]
    card = Scorecard(StumpBinner(method="quantile", max_bins=4)).fit(X, y)
    c = card.sample_size()
    assert c.n_params == X.width + 1 and c.n_rows == 1000
    with pytest.raises(ValueError, match="needs a maximum-likelihood fit"):
        Scorecard(StumpBinner(method="quantile", max_bins=4), encoding="stumps", n_estimators=5).fit(X, y).sample_size()
