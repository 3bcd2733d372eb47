"""Reason codes, SQL and JSON export of fitted scorecards, checked against the scorecard's own points: the SQL run
in SQLite (standard library) and DuckDB, the JSON scored by an interpreter written here from its spec, the reason
codes against the points table directly; with missing values, a special value and an unseen category."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import polars as pl
import pytest

from qfin.data import load_dataset
from qfin.scorecards import Scorecard, StumpBinner

ENCODINGS = ["woe", "onehot", "stumps"]
TOLERANCE = {"woe": 1e-9, "onehot": 1e-9, "stumps": 1e-4}  # stumps: XGBoost sums its margins in float32


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    df = load_dataset("german_credit")
    X, y = df.drop("target"), df["target"].to_numpy()
    train, test = X.head(700), X.tail(300)
    # test rows with what production brings: missing values, a special value, a category never seen in training
    test = test.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("credit_amount"))
        .alias("credit_amount"),
        pl.when(pl.int_range(pl.len()) % 11 == 0).then(-1).otherwise(pl.col("age_in_years")).alias("age_in_years"),
        pl.when(pl.int_range(pl.len()) % 13 == 0).then(pl.lit("brand new purpose")).otherwise(pl.col("purpose"))
        .alias("purpose"),
        pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise(pl.col("housing")).alias("housing"))
    return train, y[:700], test


@pytest.fixture(scope="module", params=ENCODINGS)
def card(request, data) -> Scorecard:
    train, y, _ = data
    binner = StumpBinner(monotonic_trend="auto", special_values={"age_in_years": [-1]})
    return Scorecard(binner=binner, encoding=request.param).fit(train, y)


def _score_in(connection, sql: str) -> np.ndarray:
    return np.array([row[0] for row in connection.execute(f"SELECT score FROM ({sql}) AS s").fetchall()])


def test_the_sql_scores_every_row_exactly_in_sqlite_and_duckdb(card, data):
    import duckdb

    test = data[2]
    expected = card.points(test)
    sql = card.to_sql("applicants")
    with sqlite3.connect(":memory:") as lite:
        test.to_pandas().to_sql("applicants", lite, index=False)
        np.testing.assert_allclose(_score_in(lite, sql), expected, rtol=0, atol=TOLERANCE[card.encoding])
        p = np.array([r[0] for r in lite.execute(f"SELECT probability_bad FROM ({sql}) AS s").fetchall()])
        np.testing.assert_allclose(p, card.predict_proba(test)[:, 1], rtol=1e-9 if card.encoding != "stumps" else 1e-5)
    duck = duckdb.connect()
    duck.register("applicants_frame", test.to_pandas())
    duck.execute("CREATE TABLE applicants AS SELECT * FROM applicants_frame")
    np.testing.assert_allclose(_score_in(duck, sql), expected, rtol=0, atol=TOLERANCE[card.encoding])


def _json_score(spec: dict, frame: pl.DataFrame) -> np.ndarray:
    """Score rows from the JSON spec alone, following its stated routing."""
    total = np.full(frame.height, spec["intercept"])
    for feature in spec["features"]:
        values = frame[feature["name"]].to_list()
        thresholds = np.array(feature["thresholds"], dtype=np.float32)
        specials = {s["value"]: s["points"] for s in feature["specials"]}
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                total[i] += feature["missing"]["points"]
            elif feature["kind"] == "categorical":
                b = feature["levels"].get(v, feature["unseen_bin"])
                total[i] += feature["missing"]["points"] if b is None else feature["bins"][b]["points"]
            elif float(v) in specials:
                total[i] += specials[float(v)]
            else:
                total[i] += feature["bins"][int((thresholds <= np.float32(v)).sum())]["points"]
    return total


def test_the_json_spec_alone_scores_like_the_scorecard(card, data):
    spec = json.loads(card.to_json())
    assert spec["format"] == "qfin-scorecard/1" and len(spec["features"]) == card.n_features_in_
    np.testing.assert_allclose(_json_score(spec, data[2]), card.points(data[2]), rtol=0,
                               atol=TOLERANCE[card.encoding])


def test_reason_codes_are_the_largest_points_below_maximum(card, data):
    test = data[2].head(40)
    codes = card.reason_codes(test, n=4)
    assert isinstance(codes, pl.DataFrame)
    table = card.points_table().filter(pl.col("feature") != "(intercept)")
    best = dict(table.group_by("feature").agg(pl.col("points").max()).iter_rows())
    for row in range(test.height):
        mine = codes.filter(pl.col("row") == row)
        assert mine["rank"].to_list() == list(range(1, mine.height + 1)) and mine.height <= 4
        lost = mine["points_lost"].to_numpy()
        assert np.all(np.diff(lost) <= 1e-12) and np.all(lost > 0)
        for r in mine.iter_rows(named=True):  # each attribute's points as the points table has them
            assert r["best_points"] == pytest.approx(best[r["feature"]], abs=1e-12)
            assert r["points"] == pytest.approx(table.filter((pl.col("feature") == r["feature"])
                                                             & (pl.col("bin") == r["attribute"]))["points"][0])
    every = card.reason_codes(test, n=100)  # every feature that costs points
    missing_rows = set(np.flatnonzero(test["credit_amount"].is_null().to_numpy()))
    amount = every.filter(pl.col("feature") == "credit_amount")
    assert all((r in missing_rows) == (a == "Missing") for r, a in zip(amount["row"], amount["attribute"],
                                                                        strict=True))
    as_pandas = card.reason_codes(test.to_pandas().set_index(pd.Index(range(100, 140))), n=2)
    assert isinstance(as_pandas, pd.DataFrame) and as_pandas["row"].min() >= 100


def test_ties_keep_the_scorecards_feature_order(data):
    train, y, _ = data
    twin = train.select("duration_in_month").to_series().alias("duration_copy")
    card = Scorecard(encoding="woe", C=1e6).fit(train.with_columns(twin), y)
    codes = card.reason_codes(train.with_columns(twin).head(200), n=30)
    both = codes.filter(pl.col("feature").is_in(["duration_in_month", "duration_copy"]))
    for _, group in both.group_by("row"):
        if group.height == 2 and abs(group["points_lost"][0] - group["points_lost"][1]) < 1e-12:
            assert group.sort("rank")["feature"].to_list() == ["duration_in_month", "duration_copy"]


def test_bad_arguments(card):
    with pytest.raises(ValueError, match="dialect must be one of"):
        card.to_sql("t", "oracle")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        card.reason_codes(pl.DataFrame(), n=0)
