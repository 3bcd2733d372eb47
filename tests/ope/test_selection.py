"""assess_estimators: per-dataset metrics averaged across datasets, bootstrap intervals, and an end-to-end run on
the tabular testbed (10 candidates, 5 logged datasets, exact true values)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

from qfin.errors import DataValidationError
from qfin.ope import (
    assess_estimators,
    best_at_k,
    epsilon_greedy_policy,
    estimate_all,
    plot_topk,
    random_tabular_mdp,
    rank_correlation,
    rollout,
    sharpe_ratio_at_k,
    softmax_policy,
    write_report,
)

TRUE = {"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}


def _frame(per_dataset: dict[str, list[list[float]]]) -> pl.DataFrame:
    rows = [{"dataset": d, "candidate": c, "estimator": e, "value": v}
            for e, sets in per_dataset.items() for d, values in enumerate(sets)
            for c, v in zip("abcd", values, strict=True)]
    return pl.DataFrame(rows)


def test_means_over_datasets_match_the_metrics():
    sets = {"x": [[0.9, 0.5, 0.7, 0.1], [0.1, 0.9, 0.2, 0.3], [0.4, 0.3, 0.2, 0.1]], "y": [[1, 2, 3, 4]] * 3}
    table = assess_estimators(_frame(sets), TRUE, 1.5, n_bootstrap=200, seed=1)
    true = np.array([TRUE[c] for c in "abcd"])

    def get(est, metric, k=None):
        row = table.filter((pl.col("estimator") == est) & (pl.col("metric") == metric) &
                           (pl.col("k").is_null() if k is None else pl.col("k") == k))
        return row.row(0, named=True)

    x2 = get("x", "sharpe_ratio_at_k", 2)
    expect = np.mean([sharpe_ratio_at_k(v, true, 1.5, 2) for v in sets["x"]])
    assert x2["mean"] == pytest.approx(expect) and x2["n_datasets"] == 3
    assert x2["low"] <= x2["mean"] <= x2["high"]
    assert get("x", "best_at_k", 3)["mean"] == pytest.approx(np.mean([best_at_k(v, true, 3) for v in sets["x"]]))
    assert get("x", "rank_correlation")["mean"] == pytest.approx(
        np.mean([rank_correlation(v, true) for v in sets["x"]]))
    y = get("y", "regret_at_k", 2)  # identical datasets: the interval collapses onto the value
    assert y["mean"] == y["low"] == y["high"] == 4.0 - 3.0
    assert set(table["k"].drop_nulls().unique().to_list()) == {2, 3, 4}


def test_bad_inputs():
    frame = _frame({"x": [[0.9, 0.5, 0.7, 0.1]]})
    with pytest.raises(DataValidationError, match=r"candidates \['d'\] have estimates but no true value"):
        assess_estimators(frame, {k: v for k, v in TRUE.items() if k != "d"}, 1.5)
    with pytest.raises(DataValidationError, match="k = 5 is larger than the number of candidate policies"):
        assess_estimators(frame, TRUE, 1.5, ks=[2, 5])
    with pytest.raises(DataValidationError, match="every candidate"):
        assess_estimators(frame.filter(pl.col("candidate") != "b"), TRUE, 1.5)


def test_end_to_end_on_the_tabular_testbed(tmp_path):
    """10 candidates (epsilon-greedy and softmax at several noise levels), 5 logged datasets, exact truth."""
    mdp = random_tabular_mdp(n_states=4, n_actions=3, horizon=5, gamma=0.95, terminal_prob=0.1, seed=3)
    rng = np.random.default_rng(0)
    behavior = softmax_policy(rng.normal(size=(5, 3)))
    greedy = np.argmax(mdp.q_values(behavior)[0], axis=1)
    cands = {f"eps{e}": epsilon_greedy_policy(greedy, 3, e) for e in (0.3, 0.5, 0.7, 0.9)}
    cands |= {f"soft{i}": softmax_policy(rng.normal(size=(5, 3)), 1.5) for i in range(6)}
    true = {name: mdp.policy_value(p) for name, p in cands.items()}
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # softmax behavior covers everything: no support warning may fire
        for d in range(5):
            data = rollout(mdp, behavior, cands, 400, seed=50 + d)
            frames.append(estimate_all(data, ["pdis", "dr", "snpdis", "dm"]).with_columns(dataset=pl.lit(d)))
    table = assess_estimators(pl.concat(frames), true, mdp.policy_value(behavior), n_bootstrap=200)
    assert table.height == 4 * (8 * 9 + 6)  # 4 estimators x (8 top-k metrics x k = 2..10, plus 6 global ones)
    dr_corr = table.filter((pl.col("estimator") == "dr") & (pl.col("metric") == "rank_correlation"))["mean"][0]
    assert dr_corr > 0.5  # the estimates carry real ranking information
    png = plot_topk(table)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert math.isfinite(table.filter(pl.col("metric") == "sharpe_ratio_at_k")["mean"].max())
    page = write_report(tmp_path / "rep", table, title="tabular testbed").read_text()
    assert "<h2>sharpe_ratio_at_k</h2>" in page and "data:image/png;base64," in page and "k=10" in page
    assert pl.read_parquet(tmp_path / "rep" / "metrics.parquet").equals(table)
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["metrics.parquet", "report.html", "topk.png"]


def test_an_unvalued_candidate_is_ranked_last_and_voids_the_accuracy_metrics():
    # dataset 0: the estimator cannot value b (the true best); dataset 1: every candidate valued
    sets = {"x": [[0.9, math.nan, 0.7, 0.1], [0.1, 0.9, 0.2, 0.3]]}
    table = assess_estimators(_frame(sets), TRUE, 1.5, n_bootstrap=50, seed=0)

    def mean(metric, k=None):
        return table.filter((pl.col("metric") == metric) & (pl.col("k").is_null() if k is None
                                                            else pl.col("k") == k))["mean"][0]

    # top-3 of dataset 0 is a, c, d (b ranked below every valued one): best 3; dataset 1: b, d, c -> best 4
    assert mean("best_at_k", 3) == pytest.approx((3.0 + 4.0) / 2)
    # k = 4 includes b again in both datasets
    assert mean("best_at_k", 4) == pytest.approx(4.0)
    assert math.isnan(mean("mse"))  # dataset 0 has no mse
    assert mean("undefined_rate") == pytest.approx((0.25 + 0.0) / 2)


def test_summary_at_k_is_the_table_at_that_k():
    from qfin.ope import summary_at_k

    sets = {"x": [[0.9, 0.5, 0.7, 0.1]], "y": [[1, 2, 3, 4]]}
    table = assess_estimators(_frame(sets), TRUE, 1.5, n_bootstrap=10, seed=0)
    summary = summary_at_k(table, 2)
    assert summary["estimator"].to_list() == ["x", "y"]
    assert summary.filter(pl.col("estimator") == "y")["best_at_k"][0] == 3.0  # y ranks d (true 3), c (2) top
    with pytest.raises(DataValidationError, match="k = 9 was not assessed"):
        summary_at_k(table, 9)
