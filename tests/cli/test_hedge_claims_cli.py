"""`qfin hedge train` with a [payoff] table and --threads: runs end to end; bad input is one line, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


@pytest.mark.slow
def test_a_lookback_comparison_runs_with_threads(tmp_path):
    (tmp_path / "look.toml").write_text("maturity_days = 5\nn_train = 256\nn_test = 128\nseeds = [0, 1]\n"
                                        '[payoff]\nkind = "lookback"\nstrike = 101.0\n'
                                        "[hedger]\niterations = 3\nbatch_size = 64\nhidden = 4\n")
    trained = run("hedge", "train", "look.toml", "--out", "run", "--threads", "2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "LSTM (kfac)" in trained.stdout and "{" not in trained.stdout  # a table, never raw JSON
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["claim"].startswith("LookbackOption(strike=101.0")


@pytest.mark.parametrize("text, extra, match", [
    ('[payoff]\nkind = "barrier"\nbarrier = 95.0\ndirection = "up"\n', (), "an up barrier must lie above"),
    ("maturity_days = 5\n", ("--threads", "0"), "--threads"),
])
def test_bad_input_is_one_line(tmp_path, text, extra, match):
    (tmp_path / "bad.toml").write_text(text)
    result = run("hedge", "train", "bad.toml", "--out", "run", *extra, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr and match in result.stderr
    assert not (tmp_path / "run").exists()
