"""`qfin hedge train|report`: a tiny comparison runs end to end; bad configs are one line naming the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def test_tiny_comparison_writes_metrics_report_and_prints_every_strategy(tmp_path):
    (tmp_path / "tiny.toml").write_text("maturity_days = 10\nn_train = 512\nn_test = 512\nseeds = [0, 1]\n"
                                        "[hedger]\niterations = 3\nbatch_size = 128\nhidden = 8\n")
    trained = run("hedge", "train", "tiny.toml", "--out", "run", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"BS delta", "Whalley-Wilmott", "LSTM (adam)", "LSTM (kfac)"} <= set(summary["strategies"])
    assert (tmp_path / "run" / "report.html").read_text().count("data:image/png;base64") >= 3
    report = run("hedge", "report", "run", cwd=tmp_path)
    assert report.returncode == 0 and "LSTM (kfac)" in report.stdout


def test_unknown_key_names_it_and_the_accepted_ones(tmp_path):
    (tmp_path / "bad.toml").write_text("maturity_days = 10\n[hedger]\nlearning_rate = 0.1\n")
    result = run("hedge", "train", "bad.toml", "--out", "run", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "learning_rate" in result.stderr and "accepted" in result.stderr
    assert not (tmp_path / "run").exists()
