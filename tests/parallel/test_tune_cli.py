"""`qfin tune` end to end in a subprocess: a sweep search equals `run_sweep` on the same grid point for point,
and a search stopped by SIGINT resumes with --resume without running its finished trials again. Slow: each
command starts a local Ray (~10-20 s on 2 cores)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from qfin.backtests import load_spec, run_sweep
from qfin.backtests._sweep import parse_grid

pytestmark = pytest.mark.slow

IVOL = """name = "ivol"
[data]
dataset = "sp500_stocks"
start = 2012-01-01
end = 2013-12-31
assets = ["AAPL", "KO", "XOM", "JPM"]
[costs]
fee = 0.001
[[strategies]]
kind = "inverse_volatility"
lookback = 60
"""
LOOKBACKS = [20, 30, 40, 50, 60, 70]
TUNE = f"""job = "sweep"
metric = "sharpe"
mode = "max"
max_concurrent = 1
[config]
spec = "ivol.toml"
[space]
lookback = {{ type = "grid", values = {LOOKBACKS} }}
"""


def _start(cwd: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "qfin", "tune", "tune.toml", "--out", "out", "--no-progress",
                             *extra], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(cwd: Path) -> dict[str, str]:
    """Trial folder -> its result.json, for trials that reported (a sweep point reports once, at its end)."""
    out = {}
    for path in (cwd / "out" / "tune" / "search").glob("*/result.json"):
        text = path.read_text()
        if text.strip():
            out[path.parent.name] = text
    return out


def test_sigint_then_resume_finishes_the_search_and_keeps_finished_trials(tmp_path):
    (tmp_path / "ivol.toml").write_text(IVOL)
    (tmp_path / "tune.toml").write_text(TUNE)
    proc = _start(tmp_path)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and len(_finished(tmp_path)) < 2 and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    before = _finished(tmp_path)
    assert proc.returncode == 130, stderr
    assert "--resume" in stdout and "Traceback" not in stderr
    assert 2 <= len(before) < len(LOOKBACKS)
    assert not (tmp_path / "out" / "trials.parquet").exists()  # an interrupted search writes no results

    resumed = _start(tmp_path, "--resume")
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    after = _finished(tmp_path)
    assert {name: after[name] for name in before} == before  # finished trials were not run again
    trials = pl.read_parquet(tmp_path / "out" / "trials.parquet")
    assert sorted(trials["lookback"].to_list()) == LOOKBACKS and trials["iterations"].to_list() == [1] * 6

    reference = run_sweep(load_spec(tmp_path / "ivol.toml"), parse_grid([f"lookback={','.join(map(str, LOOKBACKS))}"]),
                          n_workers=1, progress=False)
    expected = {row["lookback"]: row["sharpe"] for row in reference.rows}
    assert dict(zip(trials["lookback"], trials["sharpe"], strict=True)) == expected
    assert trials["sharpe"].to_list() == sorted(expected.values(), reverse=True)  # best first
    report = (tmp_path / "out" / "report.html").read_text()
    assert report.count("data:image/png;base64") == 2
    saved = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert saved["best"]["lookback"] == max(expected, key=expected.get)
