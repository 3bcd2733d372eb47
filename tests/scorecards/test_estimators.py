"""StumpBinner, WoEEncoder, Scorecard: scikit-learn contract, XGBoost routing, encodings, points, bad inputs."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from qfin.data import load_dataset
from qfin.scorecards import Scorecard, StumpBinner, WoEEncoder, information_value, points_scaling, synthetic_credit
from qfin.scorecards._binning import stump_thresholds

FAST = StumpBinner(method="quantile", max_bins=4)


# The full scikit-learn battery, on the quantile binner so that it stays fast (the stump path is exercised
# by every other test here). No check is skipped; one fails by design: check_classifiers_classes fits on
# text labels ("one"/"two"), which sorting would turn into an event class nobody chose, so qfin refuses them
# unless bad_label= names the event (test_text_labels_* below).
_TEXT_LABELS = {"check_classifiers_classes": "text labels need bad_label= (which one is bad?)"}


def _expected_failures(estimator):
    return _TEXT_LABELS if isinstance(estimator, Scorecard) else {}


@parametrize_with_checks([FAST, WoEEncoder(FAST), Scorecard(FAST), Scorecard(FAST, encoding="onehot")],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([StumpBinner(n_estimators=5), Scorecard(StumpBinner(n_estimators=5), encoding="stumps",
                                                                 n_estimators=10)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks_stumps(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def synth():
    df = synthetic_credit(20_000, seed=0)
    X, y = df.drop("target", "protected"), df["target"]
    return X[:10_000], y[:10_000], X[10_000:], y[10_000:]


@pytest.fixture(scope="module")
def german():
    df = load_dataset("german_credit")
    return df.drop("target"), df["target"]


def test_thresholds_route_exactly_as_xgboost():
    import xgboost as xgb
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(0, 1, 3000), 3)
    y = (rng.random(3000) < 1 / (1 + np.exp(-2 * x))).astype(int)
    [(t, _)] = stump_thresholds(x[:, None], y, n_estimators=1)
    assert t.size == 1 and t.dtype == np.float32
    # values on and around the cut, in float64, some of which round onto it in float32
    probe = np.array([t[0], np.nextafter(t[0], -np.inf), np.nextafter(t[0], np.inf), float(t[0]) + 1e-12,
                      float(t[0]) - 1e-12, float(np.nextafter(t[0], np.float32(-np.inf))), -5.0, 5.0])
    model = xgb.XGBClassifier(n_estimators=1, max_depth=1, tree_method="hist", base_score=float(y.mean()))
    model.fit(x[:, None].astype(np.float32), y)
    leaf = model.get_booster().predict(xgb.DMatrix(probe[:, None].astype(np.float32)), pred_leaf=True).ravel()
    ours = np.searchsorted(t, probe.astype(np.float32), side="right")
    left_leaf = leaf[probe.argmin()]
    assert np.array_equal(leaf != left_leaf, ours == 1)


def test_binner_bins_respect_share_and_count_and_monotone(synth):
    X, y, _, _ = synth
    b = StumpBinner(max_bins=5, min_bin_share=0.08, monotonic_trend="auto").fit(X, y)
    idx = b.transform(X).to_numpy()
    yy = y.to_numpy()
    for j, f in enumerate(b.bins_):
        counts = np.bincount(idx[:, j], minlength=f.n_bins)[: f.n_regular]
        assert f.n_regular <= 5
        assert counts.min() >= 0.08 * len(yy) - 1e-9
        rate = np.bincount(idx[:, j], weights=yy, minlength=f.n_bins)[: f.n_regular] / counts
        assert np.all(np.diff(rate) >= 0) or np.all(np.diff(rate) <= 0), f.name


def test_missing_special_and_categorical_bins():
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.normal(size=n)
    x[:300] = np.nan
    x[300:500] = -999.0
    cat = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.29, 0.01]).astype(object)
    logit = -1 + x * 0.8 + np.where(cat == "a", 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(logit, nan=0.5)))).astype(int)
    X = pd.DataFrame({"x": x, "cat": cat})
    b = StumpBinner(special_values={"x": [-999.0]}, rare_share=0.02).fit(X, y)
    fx, fc = b.bins_
    assert fx.labels[-2:] == ["Missing", "Special=-999"]
    out = b.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert (out["x"].to_numpy()[:300] == fx.missing_bin).all()
    assert (out["x"].to_numpy()[300:500] == fx.missing_bin + 1).all()
    # "d" is rare, pooled with "__other__"; an unseen level goes to that pooled bin (documented)
    new = pd.DataFrame({"x": [0.0, np.nan], "cat": ["zzz", None]})
    got = b.transform(new)
    assert got["cat"].iloc[0] == fc.assign(np.array(["d"], dtype=object))[0]
    assert got["cat"].iloc[1] == fc.missing_bin


def test_polars_and_pandas_in_same_type_out(german):
    X, y = german
    joint = StumpBinner(per_feature=False)
    enc = WoEEncoder(joint).fit(X, y)
    out_pl = enc.transform(X)
    assert isinstance(out_pl, pl.DataFrame) and out_pl.columns == X.columns
    out_pd = WoEEncoder(joint).fit(X.to_pandas(), y.to_pandas()).transform(X.to_pandas())
    assert isinstance(out_pd, pd.DataFrame)
    assert np.allclose(out_pd.to_numpy(), out_pl.to_numpy())
    oh = WoEEncoder(joint, encoding="onehot").fit(X, y)
    assert list(oh.get_feature_names_out()) == oh.transform(X).columns
    assert oh.transform(X).to_numpy().sum(axis=1).tolist() == [X.width] * X.height


def test_woe_and_iv_of_encoder_match_information_value(german):
    X, y = german
    enc = WoEEncoder(smoothing=0.5).fit(X, y)
    bins = enc.binner_.transform(X)
    for j, name in enumerate(X.columns[:5]):
        ref = information_value(bins[name].to_numpy(), y.to_numpy(), smoothing=0.5)
        assert enc.iv_[j].value == pytest.approx(ref.value, abs=1e-12)
        woe_by_bin = dict(zip(ref.table["bin"].to_list(), ref.table["woe"].to_list(), strict=True))
        got = enc.transform(X)[name].to_numpy()
        assert np.allclose(got, [woe_by_bin[str(b)] for b in bins[name].to_numpy()])
    table = enc.iv_table()
    assert table["feature"][0] == "status_of_existing_checking_account"
    assert (table["ci_low"] <= table["iv"]).all() and (table["iv"] <= table["ci_high"]).all()


@pytest.mark.parametrize("encoding", ["woe", "onehot", "stumps"])
def test_three_encodings_reach_the_papers_auc_band(synth, encoding):
    X, y, Xt, yt = synth
    sc = Scorecard(encoding=encoding).fit(X, y)
    auc = sc.score(Xt, yt)
    assert 0.80 <= auc <= 0.85, auc


@pytest.mark.parametrize("encoding", ["woe", "onehot", "stumps"])
def test_points_table_adds_up_to_the_score(german, encoding):
    X, y = german
    sc = Scorecard(encoding=encoding, pdo=20, base_score=600, base_odds=50).fit(X, y)
    table = sc.points_table()
    factor, offset = points_scaling(20, 600, 50)
    assert factor == pytest.approx(20 / np.log(2)) and offset == pytest.approx(600 - factor * np.log(50))
    points = sc.points(X)
    # rebuild each applicant's score from the table: intercept + the row of each feature's bin
    intercept = table.filter(pl.col("feature") == "(intercept)")["points"][0]
    if encoding == "stumps":
        total = np.full(X.height, intercept)
        Z = sc._ranked(X)
        for j, name in enumerate(X.columns):
            rows = table.filter((pl.col("feature") == name) & (pl.col("bin") != "Missing"))["points"].to_numpy()
            k = np.searchsorted(sc._steps[j]["thresholds"], Z[:, j].astype(np.float32), side="right")
            total += rows[k]
        assert np.allclose(total, points, atol=1e-3)  # XGBoost sums leaves in float32
    else:
        bins = sc.binner_.transform(X).to_numpy()
        total = np.full(X.height, intercept)
        for j, name in enumerate(X.columns):
            rows = table.filter(pl.col("feature") == name)["points"].to_numpy()
            total += rows[bins[:, j]]
        assert np.allclose(total, points, atol=1e-8)
    # odds doubling: pdo points more means half the odds of bad
    lo = sc.decision_function(X)
    assert np.allclose(points, offset - factor * lo)


def test_pipeline_grid_search_and_clone(german):
    X, y = german
    joint = StumpBinner(n_estimators=10, per_feature=False)
    pipe = Pipeline([("woe", WoEEncoder(joint)), ("lr", LogisticRegression())])
    grid = GridSearchCV(Scorecard(joint), {"C": [0.1, 1.0], "binner__max_bins": [3, 5]},
                        cv=3).fit(X.to_pandas(), y.to_numpy())
    assert 0.7 < grid.best_score_ < 0.85
    pipe.fit(X.to_pandas(), y.to_numpy())
    assert pipe.predict_proba(X.to_pandas()).shape == (1000, 2)
    c = clone(Scorecard(StumpBinner(max_bins=3), encoding="onehot"))
    assert c.binner.max_bins == 3 and not hasattr(c, "model_")


def test_bad_inputs_have_clear_errors(german):
    X, y = german
    Xp = X.to_pandas()
    with pytest.raises(ValueError, match="binary"):
        StumpBinner().fit(Xp, np.arange(1000) % 3)
    with pytest.raises(ValueError, match="one class"):
        StumpBinner().fit(Xp, np.zeros(1000))
    bad = Xp.copy()
    bad["duration_in_month"] = np.nan
    with pytest.raises(ValueError, match="'duration_in_month' has no usable values"):
        StumpBinner().fit(bad, y.to_numpy())
    bad = Xp.copy()
    bad["credit_amount"] = 7
    with pytest.raises(ValueError, match="'credit_amount' is constant"):
        StumpBinner().fit(bad, y.to_numpy())
    enc = WoEEncoder(StumpBinner(n_estimators=5)).fit(Xp, y.to_numpy())
    with pytest.raises(ValueError, match="feature names"):
        enc.transform(Xp.rename(columns={"purpose": "goal"}))
    with pytest.raises(ValueError, match="X has 19 features"):
        enc.transform(Xp.iloc[:, :-1].to_numpy())
    wrong = Xp.copy()
    wrong["duration_in_month"] = "long"
    with pytest.raises(ValueError, match="'duration_in_month' was numeric"):
        enc.transform(wrong)
    with pytest.raises(ValueError, match="encoding"):
        Scorecard(encoding="probit").fit(Xp, y.to_numpy())
    with pytest.raises(ValueError, match="max_bins"):
        StumpBinner(max_bins=1).fit(Xp, y.to_numpy())


def test_tree_and_quantile_methods_reproduce_their_references():
    from sklearn.tree import DecisionTreeClassifier
    rng = np.random.default_rng(5)
    x = np.round(rng.gamma(2.0, 2.0, 3000), 2)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(x - 4) * 0.6))).astype(int)
    b = StumpBinner(method="tree", max_bins=4, min_bin_share=0.05).fit(x[:, None], y)
    bins = b.transform(x[:, None])[:, 0]
    leaves = DecisionTreeClassifier(max_leaf_nodes=4, min_samples_leaf=150, random_state=0).fit(x[:, None], y) \
        .apply(x[:, None])
    pairs = set(zip(bins.tolist(), leaves.tolist(), strict=True))
    assert len(pairs) == len(set(bins.tolist())) == len(set(leaves.tolist())) == 4  # the same partition
    q = StumpBinner(method="quantile", max_bins=4, min_bin_share=0.0).fit(x[:, None], y)
    shares = np.bincount(q.transform(x[:, None])[:, 0]) / x.size
    assert np.allclose(shares[:4], 0.25, atol=0.02)


def test_all_missing_categorical_and_unseen_level_without_pooling():
    X = pl.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 50, "c": [None] * 200}, schema={"a": pl.Float64, "c": pl.Utf8})
    y = np.array([0, 1] * 100)
    with pytest.raises(ValueError, match="'c' has no usable values"):
        StumpBinner(method="quantile").fit(X, y)
    X2 = pl.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 50, "c": ["u", "v"] * 100})
    b = StumpBinner(method="quantile", rare_share=0.0).fit(X2, y)
    got = b.transform(pl.DataFrame({"a": [1.0], "c": ["never seen"]}))
    assert got["c"][0] == b.bins_[1].missing_bin  # nothing pooled: unseen levels go to the missing bin


def _text_labels(y):
    return np.where(np.asarray(y) == 1, "bad", "good")


@pytest.mark.parametrize("make", [lambda: StumpBinner(n_estimators=5), lambda: WoEEncoder(StumpBinner(n_estimators=5)),
                                  lambda: Scorecard(StumpBinner(n_estimators=5))])
@pytest.mark.parametrize("container", ["numpy", "polars", "pandas_category"])
def test_text_labels_are_refused_naming_them(german, make, container):
    # Sorted, "good" > "bad": scikit-learn's classes_[1] rule would make "good" the event and score the
    # bad applicants higher. qfin refuses instead of guessing.
    X, y = german
    labels = _text_labels(y.to_numpy())
    yy = {"numpy": labels, "polars": pl.Series("target", labels),
          "pandas_category": pd.Series(labels, dtype="category")}[container]
    with pytest.raises(ValueError, match=r"y holds the labels \['bad', 'good'\].*pass 0/1 \(1 = bad/event\) or name "
                                         r"the event with bad_label="):
        make().fit(X.to_pandas(), yy)
    with pytest.raises(ValueError, match=r"y holds the labels \['bad', 'good'\]"):
        information_value(np.zeros(1000, int), yy)


def test_bad_label_names_the_event_and_matches_the_0_1_fit(german):
    X, y = german
    Xp, y01 = X.to_pandas(), y.to_numpy()
    labels = _text_labels(y01)
    ref = Scorecard(StumpBinner(n_estimators=5)).fit(Xp, y01)
    card = Scorecard(StumpBinner(n_estimators=5), bad_label="bad").fit(Xp, labels)
    np.testing.assert_array_equal(card.points(Xp), ref.points(Xp))
    assert card.classes_.tolist() == ["good", "bad"]  # predict_proba's column 1 is P(bad)
    np.testing.assert_array_equal(card.predict(Xp) == "bad", ref.predict(Xp) == 1)
    assert card.points(Xp)[y01 == 1].mean() < card.points(Xp)[y01 == 0].mean()  # bad applicants score lower
    assert card.score(Xp, labels) == pytest.approx(ref.score(Xp, y01))
    enc = WoEEncoder(StumpBinner(n_estimators=5), bad_label="bad").fit(Xp, labels)
    np.testing.assert_array_equal(enc.transform(Xp), WoEEncoder(StumpBinner(n_estimators=5)).fit(Xp, y01).transform(Xp))
    binner = StumpBinner(n_estimators=5, bad_label="bad").fit(Xp, labels)
    assert [f.labels for f in binner.bins_] == [f.labels for f in StumpBinner(n_estimators=5).fit(Xp, y01).bins_]
    # the binner's own bad_label does not get in the way when a scorecard hands it the 0/1 target
    Scorecard(StumpBinner(n_estimators=5, bad_label="bad"), bad_label="bad").fit(Xp, labels)
    with pytest.raises(ValueError, match=r"bad_label='BAD' is not among the labels of y \['bad', 'good'\]"):
        Scorecard(bad_label="BAD").fit(Xp, labels)
    with pytest.raises(ValueError, match="two labels, the bad_label 'bad' and one other; got 3"):
        StumpBinner(bad_label="bad").fit(Xp, np.where(y01 == 1, "bad", np.where(np.arange(1000) % 2, "good", "ok")))
