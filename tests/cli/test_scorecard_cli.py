"""`qfin scorecard build`: German credit by name; a bad --target (in a CSV file) or a missing file is one red line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, COLUMNS="1000"), timeout=300)


def test_build_german_credit_prints_metrics_and_writes_report(tmp_path):
    out = tmp_path / "card"
    result = run("scorecard", "build", "german_credit", "--target", "target", "--out", str(out),
                 "--protected", "age_in_years<25", "--seed", "0")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    auc = metrics["test_metrics"]["woe"]["auc"]["value"]
    assert 0.70 < auc < 0.90
    assert f"{auc:.3f}" in result.stdout  # the printed table shows the saved figure
    for word in ("woe", "onehot", "stumps", "AUC", "Gini", "KS", "status_of_existing_checking_account"):
        assert word in result.stdout
    assert (out / "frontier.csv").is_file() and (out / "report.html").is_file()
    assert metrics["protected"] == {"age_in_years": "age_in_years < 25"}


def test_bad_target_in_a_csv_file_is_one_line_without_traceback(tmp_path):
    csv = tmp_path / "loans.csv"
    pl.DataFrame({"amount": [1.0, 2.0, 3.0, 4.0], "bad": [0, 1, 2, 0]}).write_csv(csv)
    result = run("scorecard", "build", str(csv), "--target", "bad", "--out", str(tmp_path / "x"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'bad'" in lines[0] and "0/1" in lines[0], result.stderr
    assert not (tmp_path / "x").exists()


def test_missing_data_file_fails_cleanly(tmp_path):
    result = run("scorecard", "build", str(tmp_path / "missing.csv"), "--target", "target", "--out",
                 str(tmp_path / "x"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.csv not found" in lines[0], result.stderr
