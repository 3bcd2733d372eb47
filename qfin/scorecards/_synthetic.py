"""A seeded synthetic credit portfolio in the shape of Sudjianto & Burakov (2025), section 5.

Seven predictors, a protected attribute held by 30% of applicants, about 15% defaults, and one feature
(``tenure_at_address``) that partly proxies the protected attribute. The true log-odds of default is additive
with non-linear (but monotone) shapes, so binning has something to find; the Bayes AUC is about 0.84.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["synthetic_credit"]


def synthetic_credit(n: int = 20_000, seed: int = 0) -> pl.DataFrame:
    """n applicants: 7 predictors, ``protected`` (0/1, 30% ones), ``target`` (1 = default, about 15%).

    Columns: income (thousands), debt_to_income, utilization, delinquencies, history_years, inquiries,
    tenure_at_address (years; lower on average when protected = 1), protected, target.
    """
    if n < 10:
        raise ValueError(f"n must be at least 10 applicants; got {n!r}")
    rng = np.random.default_rng(seed)
    protected = (rng.random(n) < 0.3).astype(np.int64)
    income = np.round(np.exp(rng.normal(3.9, 0.5, n)), 1)
    dti = np.clip(rng.beta(2.0, 5.0, n) * 0.9, 0, 0.9)
    utilization = rng.beta(1.5, 2.5, n)
    delinquencies = rng.poisson(0.4, n)
    history = np.round(rng.gamma(3.0, 3.0, n), 1)
    inquiries = rng.poisson(1.2, n)
    tenure = np.round(rng.gamma(2.0, 2.5, n) * np.where(protected == 1, 0.5, 1.0), 1)
    core = (-0.9 * (np.log(income) - 3.9) + 2.8 * (dti - 0.26) + 8.0 * (utilization - 0.37) ** 2
            + 2.2 * (utilization - 0.37) + 0.75 * np.minimum(delinquencies, 3) - 0.07 * (history - 9)
            + 0.22 * np.minimum(inquiries, 5) - 0.07 * np.minimum(tenure, 15))
    logit = -3.2 + 1.3 * core
    target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame({"income": income, "debt_to_income": dti, "utilization": utilization,
                         "delinquencies": delinquencies, "history_years": history, "inquiries": inquiries,
                         "tenure_at_address": tenure, "protected": protected, "target": target})
