"""Seed summaries (closed-form checks), off-policy training on HedgingEnv, and the training scripts' --help."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qfin.agents import load_agent, summarize_seeds, train_agent
from qfin.risk import sharpe_ratio

ROOT = Path(__file__).resolve().parents[2]


def test_summarize_seeds_mean_spread_and_psr():
    rng = np.random.default_rng(0)
    bench = rng.normal(0.0005, 0.01, 500)
    runs = {0: bench.copy(), 1: bench + 0.001}
    out = summarize_seeds(runs, bench)
    sharpes = [sharpe_ratio(bench), sharpe_ratio(bench + 0.001)]
    assert out["sharpe"]["mean"] == pytest.approx(np.mean(sharpes), rel=1e-12)
    assert out["sharpe"]["spread"] == pytest.approx(abs(sharpes[1] - sharpes[0]) / np.sqrt(2), rel=1e-12)
    # PSR(SR* = own Sharpe) = Phi(0) = 0.5 for the benchmark itself; the better copy ~0.99, so the mean ~0.74
    assert out["psr_vs_benchmark"]["mean"] > 0.7
    single = summarize_seeds({0: bench}, bench)
    assert single["psr_vs_benchmark"]["mean"] == pytest.approx(0.5, abs=1e-12)
    assert np.isnan(single["sharpe"]["spread"])
    assert out["benchmark"]["sharpe"] == pytest.approx(sharpes[0])


def test_sac_on_hedging_env_reloads(tmp_path):
    result = train_agent(ROOT / "envs" / "hedging_gbm.toml", "sac", 120, seed=0, out_dir=tmp_path,
                         algo_kwargs={"learning_starts": 60, "batch_size": 32})
    agent = result.agent
    assert agent.config["extractor"] is None and agent.num_timesteps == 120
    obs = np.array([[0.0, 0.05, 0.5], [0.1, 0.02, 0.2]], dtype=np.float32)
    np.testing.assert_array_equal(load_agent(tmp_path).predict(obs), agent.predict(obs))


@pytest.mark.parametrize("script", ["train_portfolio.py", "train_hedging_rl.py"])
def test_scripts_have_help(script):
    done = subprocess.run([sys.executable, str(ROOT / "models" / script), "--help"], check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--quick" in done.stdout
