"""`qfin dp solve`: prints the optimal value and policy, draws the return laws and writes the HTML report; a bad
spec is one red line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, COLUMNS="200"), timeout=300)


def test_dp_solve_prints_value_policy_and_writes_png(tmp_path):
    result = run("dp", "solve", "models/dp/betting.toml", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "optimal value 0.256" in result.stdout  # bold play's success probability at p = 0.4 (Dubins-Savage)
    assert (tmp_path / "betting.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "betting.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "0.256" in page and "data:image/png;base64," in page
    assert "betting.html" in result.stdout


def test_dp_solve_of_a_missing_spec_fails_cleanly(tmp_path):
    result = run("dp", "solve", str(tmp_path / "nope.toml"), "--out", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
