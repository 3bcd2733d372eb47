"""build_scorecard: the report folder, its self-contained HTML, sane German credit figures, errors at entry and
an all-or-nothing output folder."""

from __future__ import annotations

import base64
import json
import re

import polars as pl
import pytest

from qfin.data import load_dataset
from qfin.errors import DataValidationError, QfinError
from qfin.scorecards import _report, build_scorecard

FEATURES = ["status_of_existing_checking_account", "duration_in_month", "credit_history", "purpose",
            "savings_account_and_bonds", "credit_amount", "age_in_years", "personal_status_and_sex"]
PROTECTED = ["age_in_years<25", "personal_status_and_sex~female"]


@pytest.fixture(scope="module")
def german():
    return load_dataset("german_credit").select(*FEATURES, "target")


@pytest.fixture(scope="module")
def built(german, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "card"
    return out, build_scorecard(german, "target", out, protected=PROTECTED, seed=0, n_boot=100)


@pytest.mark.solver  # the CBC fairness frontier and lbfgs logistic regressions
def test_outputs_and_figures(built, german):
    out, result = built
    names = {p.name for p in out.iterdir()}
    expected = {"metrics.json", "iv_table.csv", "points_table.csv", "frontier.csv", "stability.csv", "roc.png",
                "frontier.png", "stability.png", "report.html", ".qfin-manifest.json", "reason_codes.csv",
                "scorecard.json"}
    expected |= {f"woe_{c}.png" for c in FEATURES}
    assert names == expected
    codes = pl.read_csv(out / "reason_codes.csv")
    assert codes["row"].max() < result["n_test"] and codes["points_lost"].min() > 0
    assert "Reason codes of the five lowest-scoring test applicants" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(result))
    woe_size = result["sample_size"]["woe"]  # the p-n criterion: 8 features + intercept on 700 training rows
    assert (woe_size["n_params"], woe_size["n_rows"], woe_size["ok"]) == (len(FEATURES) + 1, 700, True)
    assert woe_size["expected_kl"] == pytest.approx((len(FEATURES) + 1) / 1400, abs=1e-15)
    assert "Is the sample big enough?" in (out / "report.html").read_text()
    assert result["n_train"] + result["n_test"] == german.height and result["n_test"] == 300
    for enc in ("woe", "onehot", "stumps"):
        m = result["test_metrics"][enc]
        assert 0.70 < m["auc"]["value"] < 0.90, enc  # German credit: published AUCs are about 0.75-0.80
        assert m["auc"]["ci_low"] < m["auc"]["value"] < m["auc"]["ci_high"]
        assert m["gini"]["value"] == pytest.approx(2 * m["auc"]["value"] - 1, abs=1e-12)
    iv = pl.read_csv(out / "iv_table.csv")
    assert {"feature", "iv", "std_error"} <= set(iv.columns) and set(iv["feature"]) == set(FEATURES)
    assert (iv["std_error"] > 0).all()
    assert [r["feature"] for r in result["top_iv"]] == iv.sort("iv", descending=True)["feature"].to_list()
    assert result["top_iv"][0]["feature"] == "status_of_existing_checking_account"
    points = pl.read_csv(out / "points_table.csv")
    assert set(points["feature"]) == set(FEATURES) | {"(intercept)"}
    assert set(pl.read_csv(out / "stability.csv")["column"]) == set(FEATURES)
    # the frontier is drawn for the most informative numeric non-protected feature, against age < 25
    assert result["frontier_feature"] == "duration_in_month"
    assert result["protected"] == {"age_in_years": "age_in_years < 25",
                                   "personal_status_and_sex": "personal_status_and_sex contains 'female'"}
    frontier = pl.read_csv(out / "frontier.csv")
    ok = frontier.filter(pl.col("status") == "Optimal")
    assert ok.height >= 5 and (ok["iv_fair"].drop_nans() <= ok["epsilon"] + 1e-9).all()
    # tighter epsilon, no more IV (each epsilon a separate CBC solve, optimal to its tolerances: 1e-9 as in
    # tests/scorecards/test_fairness.py)
    assert (ok["iv"].diff().drop_nulls() <= 1e-9).all()


def test_report_is_self_contained(built):
    out, _ = built
    html = (out / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'src="([^"]*)"', html)
    pngs = [p for p in out.iterdir() if p.suffix == ".png"]
    assert len(sources) == len(pngs) == len(FEATURES) + 3
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in html and "href" not in html and "<link" not in html and "<script" not in html
    for heading in ("Test discrimination", "Information value", "Points table", "Fairness", "Stability",
                    "WoE by feature"):
        assert heading in html


def test_without_protected_columns_no_frontier(german, tmp_path):
    small = german.select("status_of_existing_checking_account", "duration_in_month", "target")
    result = build_scorecard(small, "target", tmp_path / "card", n_boot=20)
    names = {p.name for p in (tmp_path / "card").iterdir()}
    assert "frontier.csv" not in names and "frontier.png" not in names and "report.html" in names
    assert result["iv_fair_score"] == {} and result["frontier_feature"] is None


@pytest.mark.parametrize("change, target, protected, column, words", [
    (None, "nope", (), "nope", "not found"),
    (None, "credit_amount", (), "credit_amount", "binary 0/1"),
    (pl.col("target") * 2, "target", (), "target", "binary 0/1"),
    (pl.lit(0), "target", (), "target", "only the value 0"),
    (pl.when(pl.col("duration_in_month") > 40).then(None).otherwise(pl.col("target")), "target", (), "target",
     "missing values"),
    (None, "target", ("sex",), "sex", "not found"),
    (None, "target", ("target",), "target", "is the target"),
    (None, "target", ("purpose<3",), "purpose", "numeric"),
    (None, "target", ("purpose", "purpose~car"), "purpose", "named twice"),
    (None, "target", ("age_in_years<10",), "age_in_years", "split the rows"),
])
def test_bad_inputs_fail_at_entry(german, tmp_path, change, target, protected, column, words):
    frame = german if change is None else german.with_columns(change.alias("target"))
    with pytest.raises(DataValidationError, match=words) as err:
        build_scorecard(frame, target, tmp_path / "card", protected=protected)
    assert err.value.column == column and repr(column) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # validated before anything is written


def test_nothing_left_behind_on_failure(german, tmp_path, monkeypatch):
    small = german.select("duration_in_month", "credit_amount", "target")
    out = tmp_path / "card"
    build_scorecard(small, "target", out, n_boot=20)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_report, "woe_chart", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_scorecard(small, "target", out, seed=1, n_boot=20)
    assert [p.name for p in tmp_path.iterdir()] == ["card"]  # no staging folder left
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier report is intact


def test_refuses_to_replace_a_foreign_folder(german, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(QfinError, match="holds no qfin manifest"):
        build_scorecard(german.select("duration_in_month", "target"), "target", out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]



def test_default_protected_groups(german):
    groups, names = _report._validate(german, "target", ["age_in_years", "personal_status_and_sex"], 0.3, 10)
    age = german["age_in_years"].to_numpy()
    assert names["age_in_years"] == "age_in_years < 33 (median)"
    assert (groups["age_in_years"] == (age < 33)).all()
    # the modal level (548 single men) against the rest, counted independently
    sex = german["personal_status_and_sex"].to_list()
    modal = max(set(sex), key=sex.count)
    assert names["personal_status_and_sex"] == f"personal_status_and_sex other than {modal!r} (modal level)"
    assert groups["personal_status_and_sex"].sum() == sum(s != modal for s in sex) == 452
