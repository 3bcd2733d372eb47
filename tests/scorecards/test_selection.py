"""FeatureSelector: IV lower confidence bound against german_credit plus pure-noise columns, redundancy by
correlation and VIF of the WoE columns, the reasons frame, the scikit-learn contract and bad parameters."""

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from qfin.data import load_dataset
from qfin.scorecards import FeatureSelector, StumpBinner
from qfin.scorecards._selection import vif


@pytest.fixture(scope="module")
def german():
    df = load_dataset("german_credit")
    return df.drop("target"), df["target"].to_numpy()


def _with_noise(X0, seed):
    rng = np.random.default_rng(seed)
    noise = pl.DataFrame({f"noise{j}": rng.normal(size=X0.height) for j in range(20)})
    return pl.concat([X0, noise], how="horizontal")


def _seeds_with_noise_kept(german, seeds):
    X0, y = german
    dirty, dropped_real = 0, []
    for s in seeds:
        r = FeatureSelector().fit(_with_noise(X0, s), y).report_
        noise = r.filter(pl.col("feature").str.starts_with("noise"))
        dirty += int(noise["kept"].any())
        real = r.filter(~pl.col("feature").str.starts_with("noise") & (pl.col("iv") > 0.1))
        dropped_real += real.filter(~pl.col("kept"))["feature"].to_list()
    return dirty, dropped_real


def test_noise_dropped_and_informative_features_kept_20_seeds(german):
    dirty, dropped_real = _seeds_with_noise_kept(german, range(20))
    assert dirty <= 1  # 95% of seeds clean
    assert dropped_real == []


@pytest.mark.slow
def test_noise_dropped_and_informative_features_kept_100_seeds(german):
    dirty, dropped_real = _seeds_with_noise_kept(german, range(100))
    assert dirty <= 5
    assert dropped_real == []


def test_report_reasons_and_transform(german):
    X0, y = german
    X = X0.with_columns((pl.col("duration_in_month") * 2.0 + 1.0).alias("duration_twice"))
    sel = FeatureSelector().fit(X, y)
    r = {row["feature"]: row for row in sel.report_.iter_rows(named=True)}
    assert r["status_of_existing_checking_account"]["reason"] == "kept"
    # the same bins, so the WoE columns correlate exactly: the second of the two in IV order goes
    pair = sorted(["duration_in_month", "duration_twice"], key=lambda f: (-r[f]["iv"], X.columns.index(f)))
    assert r[pair[1]]["reason"].startswith(f"WoE correlates with {pair[0]!r} (r = 1.000")
    weak = [f for f, row in r.items() if row["ci_low"] <= 0.02]
    assert weak and all(r[f]["reason"].startswith("IV lower bound") and not r[f]["kept"] for f in weak)
    W = sel.transform(X)
    assert isinstance(W, pl.DataFrame) and W.columns == list(sel.get_feature_names_out())
    assert W.width == int(sel.get_support().sum()) == sel.report_["kept"].sum()
    assert np.array_equal(sel.get_support(indices=True), np.flatnonzero(sel.get_support()))
    pipe = Pipeline([("select", clone(sel)), ("lr", LogisticRegression(max_iter=500))]).fit(X, y)
    assert pipe.score(X, y) > 0.7


def test_vif_drops_a_near_combination():
    rng = np.random.default_rng(3)
    n = 4000
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = a + b + 0.05 * rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a + b)))).astype(int)
    X = pl.DataFrame({"a": a, "b": b, "c": c})
    W = np.column_stack([a, b, c])
    inv = np.linalg.inv(np.corrcoef(W, rowvar=False))
    r2 = [1 - np.var(W[:, j] - np.delete(W, j, 1) @ np.linalg.lstsq(np.delete(W, j, 1), W[:, j], rcond=None)[0])
          / np.var(W[:, j]) for j in range(3)]
    assert vif(W) == pytest.approx(np.diag(inv), rel=1e-10)
    assert vif(W - W.mean(0)) == pytest.approx(1 / (1 - np.array(r2)), rel=1e-6)  # VIF = 1 / (1 - R^2)
    sel = FeatureSelector(max_correlation=None, max_vif=5).fit(X, y)
    assert sel.get_support().sum() == 2
    dropped = sel.report_.filter(~pl.col("kept"))
    assert dropped.height == 1 and dropped["reason"][0].startswith("VIF ")


def test_bad_parameters_are_one_line(german):
    X0, y = german
    for kw, msg in [({"min_iv": -1}, "min_iv must be"), ({"level": 1.5}, "level must lie in"),
                    ({"max_correlation": 2}, "max_correlation must be"), ({"max_vif": 0.5}, "max_vif must be")]:
        with pytest.raises(ValueError, match=msg) as e:
            FeatureSelector(**kw).fit(X0, y)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="X has 19 features"):
        FeatureSelector(StumpBinner(method="quantile")).fit(X0, y).transform(X0.drop("purpose").to_numpy())
