"""Policy selection on risk: the top-k metrics (SharpeRatio@k and the rest, :mod:`qfin.ope._metrics`) computed on
a chosen risk functional instead of the mean, and on lower confidence bounds ("safe selection").

A criterion pairs what ranks the candidates with what scores the shortlist (Kiyohara et al. 2024's protocol with
the policy value replaced by a functional of the return law):

- ``mean``: rank by the estimated mean, score by the true mean;
- ``cvar``: rank by the estimated CVaR (mean of the worst alpha of returns, higher is better), score by the
  true CVaR;
- ``safe_cvar``: rank by the lower bound of the CVaR, score by the true CVaR; ``safe_mean`` likewise for the mean.

The baseline J(pi_b) of SharpeRatio@k is the behavior policy's true value of the same functional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from qfin.errors import DataValidationError

from ._selection import assess_estimators

__all__ = ["CRITERIA", "assess_risk_selection"]

CRITERIA = {"mean": ("mean", "mean"), "cvar": ("cvar", "cvar"), "safe_cvar": ("cvar_low", "cvar"),
            "safe_mean": ("mean_low", "mean")}  # criterion -> (ranking column, true functional)


def assess_risk_selection(estimates: pl.DataFrame, true_values: Mapping[str, Mapping[str, float]],
                          behavior: Mapping[str, float], *, criteria: Sequence[str] = tuple(CRITERIA),
                          ks: Sequence[int] | None = None, n_bootstrap: int = 1000, level: float = 0.95,
                          seed: int = 0) -> pl.DataFrame:
    """Every top-k metric per estimator and criterion, summarised across logged datasets.

    Parameters
    ----------
    estimates : columns ``dataset``, ``candidate``, ``estimator`` and the ranking columns the criteria need
        (``mean``, ``cvar``, ``cvar_low``, ``mean_low``).
    true_values : functional (``"mean"``, ``"cvar"``) -> {candidate: true value}.
    behavior : functional -> the behavior policy's true value (SharpeRatio@k's baseline and the safety threshold).

    Returns
    -------
    :func:`~qfin.ope.assess_estimators`'s table with a ``criterion`` column first.
    """
    unknown = [c for c in criteria if c not in CRITERIA]
    if unknown:
        raise DataValidationError(f"unknown criteria {unknown}; known: {list(CRITERIA)}", rule="unknown_criterion",
                                  column="criteria")
    frames = []
    for criterion in criteria:
        rank_by, functional = CRITERIA[criterion]
        if rank_by not in estimates.columns or functional not in true_values or functional not in behavior:
            raise DataValidationError(f"criterion {criterion!r} needs estimates column {rank_by!r} and the true "
                                      f"{functional!r} of the candidates and of the behavior policy",
                                      rule="missing_columns", column=rank_by)
        table = assess_estimators(estimates.select("dataset", "candidate", "estimator", pl.col(rank_by).alias("value")),
                                  true_values[functional], behavior[functional], ks=ks, n_bootstrap=n_bootstrap,
                                  level=level, seed=seed)
        frames.append(table.select(pl.lit(criterion).alias("criterion"), pl.all()))
    return pl.concat(frames)
