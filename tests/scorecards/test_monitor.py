"""Monitoring: the JSON card's bins and points equal the fitted estimator's; PSI per feature and for the score
equal psi() of counts made by hand; characteristic analysis adds up to the mean score change; Gini/KS drift and
alerts; frame, JSON, HTML (staged); `qfin scorecard monitor`; bad input in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qfin.data import load_dataset
from qfin.errors import DataValidationError, QfinError
from qfin.scorecards import (
    Scorecard,
    StumpBinner,
    discrimination,
    load_card,
    monitor,
    psi,
    synthetic_credit,
    write_monitoring,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def german():
    df = load_dataset("german_credit")
    idx = np.random.default_rng(0).permutation(df.height)
    ref, new = df[idx[:600]], df[idx[600:]]
    card = Scorecard(StumpBinner(max_bins=5, monotonic_trend="auto")).fit(ref.drop("target"), ref["target"])
    return card, ref, new


def test_card_spec_routes_as_the_estimator(german):
    card, ref, new = german
    spec = load_card(card)
    bins = spec.assign(new)
    assert np.array_equal(bins, card.binner_.transform(new.drop("target")).to_numpy())
    score = spec.intercept + spec.points(bins).sum(axis=1)
    assert score == pytest.approx(card.points(new.drop("target")), abs=1e-9)


def test_psi_characteristic_analysis_and_drift(german):
    card, ref, new = german
    shifted = new.with_columns((pl.col("duration_in_month") * 2).alias("duration_in_month"))
    rep = monitor(card, ref, shifted, target="target", n_boot=50)
    b_ref = card.binner_.transform(ref.drop("target")).to_numpy()
    b_new = card.binner_.transform(shifted.drop("target")).to_numpy()
    j = ref.drop("target").columns.index("duration_in_month")
    k = card.binner_.bins_[j].n_bins
    ce, ca = np.bincount(b_ref[:, j], minlength=k), np.bincount(b_new[:, j], minlength=k)
    keep = ce + ca > 0
    row = rep.features.filter(pl.col("feature") == "duration_in_month").row(0, named=True)
    assert row["psi"] == pytest.approx(psi(ce[keep], ca[keep]).value, abs=1e-12) and row["status"] == "shifted"
    assert rep.alerts.filter(pl.col("column") == "duration_in_month")["level"].to_list() == ["alert"]
    # characteristic analysis: the features' shifts add up to the change in the mean score, exactly
    s_ref, s_new = card.points(ref.drop("target")), card.points(shifted.drop("target"))
    assert rep.features["points_shift"].sum() == pytest.approx(s_new.mean() - s_ref.mean(), abs=1e-9)
    assert rep.characteristic.group_by("feature").agg(pl.col("points_shift").sum()).sort("feature")[
        "points_shift"].to_numpy() == pytest.approx(rep.features.sort("feature")["points_shift"].to_numpy(), abs=1e-12)
    edges = np.unique(np.quantile(s_ref, np.linspace(0.1, 0.9, 9)))
    e, a = np.searchsorted(edges, s_ref, side="right"), np.searchsorted(edges, s_new, side="right")
    ref_psi = psi(np.bincount(e, minlength=edges.size + 1), np.bincount(a, minlength=edges.size + 1))
    assert rep.score["psi"] == pytest.approx(ref_psi.value, abs=1e-12)
    assert rep.score["p_value"] == pytest.approx(ref_psi.p_value, rel=1e-9)
    d_ref = discrimination(ref["target"], -s_ref, n_boot=50)
    d_new = discrimination(shifted["target"], -s_new, n_boot=50)
    gini = rep.discrimination.filter(pl.col("metric") == "gini").row(0, named=True)
    assert gini["drift"] == pytest.approx(d_new["value"][1] - d_ref["value"][1], abs=1e-12)
    frame = rep.to_frame()
    assert frame["feature"].to_list()[-1] == "(score)" and frame.height == ref.width
    assert json.loads(rep.to_json())["score"]["psi"] == pytest.approx(rep.score["psi"])


def test_a_stable_sample_raises_nothing_and_a_lost_signal_alerts():
    df = synthetic_credit(20_000, seed=3).drop("protected")
    ref, new = df[:10_000], df[10_000:]
    card = Scorecard(StumpBinner(max_bins=5)).fit(ref.drop("target"), ref["target"])
    quiet = monitor(card, ref, new, target="target", n_boot=50)
    assert quiet.alerts.height == 0 and quiet.score["status"] == "stable"
    noise = new.with_columns(pl.Series("target", np.random.default_rng(0).permutation(new["target"].to_numpy())))
    lost = monitor(card, ref, noise, target="target", n_boot=50)
    assert set(lost.alerts["check"].to_list()) == {"gini_drop", "ks_drop"}


def test_bad_input_is_one_line(german):
    card, ref, new = german
    with pytest.raises(DataValidationError, match="the new sample lacks the scorecard's feature\\(s\\) 'purpose'") as e:
        monitor(card, ref, new.drop("purpose"))
    assert "\n" not in str(e.value)
    X = ref.drop("target")
    strict = Scorecard(StumpBinner(method="quantile", rare_share=0.0)).fit(X, ref["target"])
    odd = new.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("A999")).otherwise(pl.col("purpose"))
                           .alias("purpose"))
    with pytest.raises(DataValidationError, match="feature 'purpose' of the new sample has the level 'A999' "
                                                  "\\(row 2\\), unseen when the card was fitted, and the card names "
                                                  "no bin for unseen levels"):
        monitor(strict, ref, odd)
    monitor(card, ref, odd)  # this card pooled rare levels: unseen ones go to that bin
    with pytest.raises(DataValidationError, match="is numeric in the card but holds String"):
        monitor(card, ref, new.with_columns(pl.col("duration_in_month").cast(pl.Utf8)))
    with pytest.raises(DataValidationError, match="target column 'bad' is not in the reference sample"):
        monitor(card, ref, new, target="bad")
    with pytest.raises(ValueError, match="thresholds must be"):
        monitor(card, ref, new, thresholds="lenient")


def test_written_report(german, tmp_path):
    card, ref, new = german
    rep = monitor(card, ref, new, target="target", n_boot=50)
    out = tmp_path / "mon"
    write_monitoring(rep, out)
    names = {p.name for p in out.iterdir()}
    assert names == {"monitoring.json", "features.csv", "characteristic.csv", "alerts.csv", "discrimination.csv",
                     "psi.png", "report.html", ".qfin-manifest.json"}
    html = (out / "report.html").read_text()
    assert "Characteristic analysis" in html and "Discrimination drift" in html
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(QfinError):
        write_monitoring(rep, other)
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.slow  # two fresh interpreters
def test_cli_monitor(german, tmp_path):
    card, ref, new = german
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "scorecard.json").write_text(card.to_json())
    ref.write_csv(tmp_path / "ref.csv")
    new.write_csv(tmp_path / "new.csv")
    new.drop("purpose").write_csv(tmp_path / "bad.csv")
    env = dict(os.environ, COLUMNS="1000")
    cmd = [sys.executable, "-m", "qfin", "scorecard", "monitor", str(tmp_path / "ref.csv"), str(tmp_path / "new.csv"),
           "--card", str(folder), "--target", "target", "--out", str(tmp_path / "cli")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(score)" in done.stdout and "GINI" in done.stdout and (tmp_path / "cli" / "report.html").is_file()
    cmd[5] = str(tmp_path / "bad.csv")
    bad = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert bad.returncode != 0 and "Traceback" not in bad.stdout + bad.stderr
    assert "lacks the scorecard's feature(s) 'purpose'" in bad.stdout + bad.stderr
