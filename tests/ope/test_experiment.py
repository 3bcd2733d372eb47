"""`run_ope_experiment` / `qfin ope run`: the shipped hedging spec end to end (12 candidates, 5 logged datasets,
scaled down), the output folder, and spec errors named by key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qfin.errors import SpecError
from qfin.ope import OPESpec, load_logged, load_ope_spec, run_ope_experiment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "ope" / "hedging.toml"

SMALL = """
gamma = 1.0
[env]
id = "qfin/Hedging-v0"
actions = [0.0, 0.5, 1.0]
[env.params]
n_steps = 3
maturity = 0.05
premium_paths = 2000
objective = "mean_variance"
[behavior]
kind = "delta"
temperature = 0.3
[[candidates]]
name = "delta"
kind = "delta"
epsilon = 0.1
[[candidates]]
name = "flat"
kind = "constant"
hedge = 0.0
epsilon = 0.2
[[candidates]]
name = "band"
kind = "band"
band = 0.2
temperature = 0.2
[logging]
n_datasets = 2
n_episodes = 100
[truth]
n_episodes = 500
[assessment]
n_bootstrap = 50
"""


def _spec(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_shipped_spec_end_to_end_scaled_down(tmp_path):
    raw = tomllib.loads(SHIPPED.read_text())
    assert len(raw["candidates"]) >= 10 and raw["logging"]["n_datasets"] >= 5
    raw["truth"]["n_episodes"], raw["logging"]["n_episodes"], raw["assessment"]["n_bootstrap"] = 1500, 300, 100
    result = run_ope_experiment(OPESpec.model_validate(raw), tmp_path / "run", base=SHIPPED.parent, progress=False)
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} == {"truth.parquet", "estimates.parquet", "metrics.parquet", "topk.png",
                                               "report.html", "ope.json", "logged", ".qfin-manifest.json"}
    assert len(list((out / "logged").iterdir())) == 5
    assert result.estimates.height == 5 * 12 * 7  # datasets x candidates x estimators
    truth = result.truth.sort("value", descending=True)["candidate"].to_list()
    assert truth[-1] == "unhedged" and truth[0].startswith("delta")  # hedging beats not hedging under mean-variance
    assert "True policy values" in (out / "report.html").read_text()
    logged = load_logged(out / "logged" / "dataset_0.parquet")
    assert logged.n_episodes == 300 and len(logged.candidates) == 12
    stored = {r["candidate"]: r for r in json.loads((out / "ope.json").read_text())["truth"]}
    assert stored["behavior"]["value"] == pytest.approx(
        result.truth.filter(pl.col("candidate") == "behavior")["value"][0])
    # paired gaps: each policy's gap to the next-ranked one is the difference of their values
    values = result.truth["value"].to_numpy()
    np.testing.assert_allclose(result.truth["gap_to_next"].to_numpy()[:-1], values[:-1] - values[1:], rtol=1e-9)
    assert result.truth["gap_stderr"].drop_nulls().min() > 0
    assert "paired s.e." in (out / "report.html").read_text()


def test_same_spec_same_numbers(tmp_path):
    a = run_ope_experiment(_spec(tmp_path), progress=False)
    b = run_ope_experiment(_spec(tmp_path), progress=False)
    assert a.estimates.equals(b.estimates) and a.truth.equals(b.truth)


@pytest.mark.parametrize("edit, match", [
    (lambda s: "surprise = 1\n" + s, "unknown key 'surprise'; accepted: title, gamma, env"),
    (lambda s: s + "\nsurprise = 1\n", "unknown key 'assessment.surprise'; accepted: ks, n_bootstrap"),
    (lambda s: s.replace("hedge = 0.0\n", "hedge = 0.0\nband = 0.1\n"),
     r"unknown key 'candidates\.\d\.band'; accepted: name, temperature, epsilon, kind, hedge"),
    (lambda s: s.replace('name = "flat"', 'name = "delta"'), "unique; repeated: \\['delta'\\]"),
    (lambda s: s.replace("actions = [0.0, 0.5, 1.0]\n", ""), "finite action menu"),
    (lambda s: s.replace("[assessment]", '[estimators]\nnames = ["ips"]\n[assessment]'), "unknown \\['ips'\\]"),
    (lambda s: s.replace("n_datasets = 2", "n_datasets = 0"), "logging.n_datasets"),
    (lambda s: s.replace("[assessment]", "[assessment]\nks = [1, 4]"),
     r"assessment\.ks: \[4\] outside 1\.\.3, the number of candidates"),
    (lambda s: s.replace('kind = "constant"', 'kind = "agent"').replace("hedge = 0.0\n", ""),
     r"missing key 'candidates\.\d\.path'"),
    (lambda s: s.replace('kind = "constant"', 'kind = "martingale"'),
     r"candidates\.\d: kind 'martingale' is unknown; accepted kinds: 'delta', 'band', 'constant', 'uniform', 'agent'"),
])
def test_spec_errors_name_the_key(tmp_path, edit, match):
    with pytest.raises(SpecError, match=match):
        run_ope_experiment(_spec(tmp_path, edit(SMALL)), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_hedging_rules_refuse_a_portfolio_env(tmp_path):
    text = SMALL.replace('id = "qfin/Hedging-v0"\nactions = [0.0, 0.5, 1.0]\n[env.params]\nn_steps = 3\n'
                         'maturity = 0.05\npremium_paths = 2000\nobjective = "mean_variance"',
                         'id = "qfin/Portfolio-v0"\nactions = [[1.0, 0.0], [0.0, 1.0]]\n[env.params]\n'
                         'data = "sp500_index"')
    with pytest.raises(SpecError, match="reads HedgingEnv observations"):
        run_ope_experiment(_spec(tmp_path, text), progress=False)


def test_env_may_be_a_preset_file(tmp_path):
    (tmp_path / "menu.toml").write_text('id = "qfin/Hedging-v0"\nactions = [0.0, 1.0]\n[params]\nn_steps = 2\n'
                                        'premium_paths = 1000\n')
    text = SMALL.split("[behavior]")[1]
    spec, base = load_ope_spec(_spec(tmp_path, '[env]\npreset = "menu.toml"\n[behavior]' + text))
    assert spec.env == "menu.toml" and base == tmp_path
    result = run_ope_experiment(spec, base=base, progress=False)
    assert result.truth.height == 4


def test_cli_prints_truth_and_table_and_fails_cleanly(tmp_path):
    env = dict(os.environ, COLUMNS="200")
    ok = subprocess.run([sys.executable, "-m", "qfin", "ope", "run", str(_spec(tmp_path)), "--out",
                         str(tmp_path / "run"), "--k", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "Ground truth" in ok.stdout and "SharpeRatio@k" in ok.stdout and "report:" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "qfin", "ope", "run", str(_spec(tmp_path, SMALL + "x = 1\n")),
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and "unknown key 'assessment.x'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_a_trained_agent_on_the_menu_is_a_candidate(tmp_path):
    pytest.importorskip("stable_baselines3")
    from qfin.agents import load_agent, train_agent
    from qfin.envs import DiscreteActions, EnvPreset

    preset = EnvPreset(id="qfin/Hedging-v0", actions=[0.0, 0.5, 1.0],
                       params={"n_steps": 3, "maturity": 0.05, "premium_paths": 2000, "objective": "mean_variance"})
    train_agent(preset, "ppo", total_timesteps=64, out_dir=tmp_path / "agent", extractor=None,
                algo_kwargs={"n_steps": 32, "batch_size": 32})
    agent = load_agent(tmp_path / "agent" / "last")
    assert isinstance(agent.make_env(), DiscreteActions) and agent.preset.actions == [0.0, 0.5, 1.0]
    text = SMALL.replace('name = "flat"\nkind = "constant"\nhedge = 0.0\nepsilon = 0.2',
                         'name = "ppo"\nkind = "agent"\npath = "agent/last"\nepsilon = 0.2')
    result = run_ope_experiment(_spec(tmp_path, text), progress=False)
    assert "ppo" in result.truth["candidate"].to_list()
    assert result.estimates.filter(pl.col("candidate") == "ppo").height == 2 * 7
