"""Is the sample big enough for the model? A p-n criterion from the MLE's convergence to the information projection.

For a maximum-likelihood fit in a p-parameter exponential family (the logistic regressions of a scorecard are
one: the Bernoulli family with natural parameter x'beta), the fitted model p_hat approaches the information
projection p* of the truth onto the family, and 2 n KL(p* || p_hat) converges in law to chi2(p) (the Wilks /
Akaike asymptotics; the seed paper, "MLE convergence speed to information projection of exponential family:
criterion for model dimension and sample size", studies this rate). Hence

    E[KL(p* || p_hat)] ~= p / (2 n)   nats per observation,

and the criterion used here: the model is small enough for the sample when p / (2 n) <= ``tolerance``, i.e.
n >= p / (2 tolerance), or p <= 2 n tolerance. The formula was derived from these asymptotics, not copied
from the paper; tests/scorecards check it against simulated logistic data where the truth is known. The
asymptotics need far more rows than parameters: fewer rows of the smaller class than 5 per parameter is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from qfin.errors import DataValidationError

__all__ = ["SampleSizeCriterion", "sample_size_criterion", "MIN_EVENTS_PER_PARAMETER"]

MIN_EVENTS_PER_PARAMETER = 5


@dataclass(frozen=True)
class SampleSizeCriterion:
    """n_params, n_rows, expected_kl (= p / 2n, nats), tolerance, max_params (= floor(2 n tolerance)),
    min_rows (= ceil(p / (2 tolerance))), ok (expected_kl <= tolerance)."""

    n_params: int
    n_rows: int
    expected_kl: float
    tolerance: float
    max_params: int
    min_rows: int
    ok: bool

    def as_dict(self) -> dict:
        return asdict(self)


def sample_size_criterion(n_params: int, n_rows: int, n_minority: int | None = None,
                          tolerance: float = 0.01) -> SampleSizeCriterion:
    """The p-n criterion (module notes) for a p-parameter logistic model fitted on n rows.

    n_minority : rows of the smaller class (defaults to n_rows); below ``MIN_EVENTS_PER_PARAMETER`` per parameter
        the asymptotics do not apply and a one-line ``DataValidationError`` says so.
    tolerance : the largest acceptable expected KL divergence from the information projection, nats per row.
    """
    if isinstance(n_params, bool) or not isinstance(n_params, int) or n_params < 1:
        raise ValueError(f"n_params must be an integer >= 1; got {n_params!r}")
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 1):
        raise ValueError(f"tolerance must be a KL divergence in (0, 1) nats per row, e.g. 0.01; got {tolerance!r}")
    minority = n_rows if n_minority is None else n_minority
    if minority < MIN_EVENTS_PER_PARAMETER * n_params:
        raise DataValidationError(
            f"the sample is too small for the p-n criterion: {minority} rows of the smaller class for {n_params} "
            f"parameters (the asymptotics need at least {MIN_EVENTS_PER_PARAMETER} per parameter, "
            f"{MIN_EVENTS_PER_PARAMETER * n_params}); use more rows or fewer features/bins",
            rule="sample_size", column="n_rows")
    expected = n_params / (2.0 * n_rows)
    return SampleSizeCriterion(n_params=n_params, n_rows=int(n_rows), expected_kl=expected, tolerance=float(tolerance),
                               max_params=int(math.floor(2.0 * n_rows * tolerance)),
                               min_rows=int(math.ceil(n_params / (2.0 * tolerance))), ok=expected <= tolerance)
