"""`qfin train portfolio CONFIG` trains and saves an agent that `qfin backtest` then runs beside a baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def test_trained_agent_gets_its_row_beside_equal_weight(tmp_path):
    (tmp_path / "train.toml").write_text(f"""
env = "{ROOT / 'envs' / 'portfolio_sp500_train.toml'}"
algo = "ppo"
total_timesteps = 256
seeds = [0]
out_dir = "agents"
extractor = "mlp"
eval_freq = 100000
checkpoint_freq = 100000
[env_overrides]
assets = ["AAPL", "KO", "XOM"]
start = "2010-01-01"
end = "2012-12-31"
window = 10
episode_length = 64
include_weights = false
[algo_kwargs]
n_steps = 128
batch_size = 64
""")
    trained = run("train", "portfolio", "train.toml", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "256" in trained.stdout

    (tmp_path / "spec.toml").write_text(f"""
name = "agent vs equal weight"
[data]
dataset = "sp500_stocks"
start = 2013-01-01
end = 2013-12-31
assets = ["AAPL", "KO", "XOM"]
[costs]
fee = 0.001
[report]
plots = false
[[strategies]]
kind = "equal_weight"
[[strategies]]
kind = "agent"
name = "ppo"
path = "{tmp_path / 'agents' / 'seed_0' / 'last'}"
""")
    backtest = run("backtest", "spec.toml", "--out", "bt", "--no-progress", cwd=tmp_path)
    assert backtest.returncode == 0, backtest.stderr
    metrics = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert set(metrics) == {"equal_weight", "ppo"}
    assert "ppo" in backtest.stdout


def test_unknown_training_key_is_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text('env = "x.toml"\nalgo = "ppo"\ntotal_timesteps = 10\ncolour = "red"\n')
    result = run("train", "portfolio", "bad.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert "colour" in result.stderr and "Traceback" not in result.stderr
