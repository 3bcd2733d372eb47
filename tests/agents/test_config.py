"""Training runs from TOML (what `qfin train portfolio|hedging CONFIG.toml` calls)."""

import pytest

from qfin.agents import load_agent, train_from_config
from qfin.errors import SpecError

CONFIG = """
algo = "ppo"
total_timesteps = 256
seeds = [0, 1]
out_dir = "runs"
extractor = "mlp"
checkpoint_freq = 0
[env]
id = "qfin/Portfolio-v0"
params = { data = "sp500_stocks", assets = [
    "AAPL", "XOM"], start = "2005-01-01", end = "2005-12-31", window = 5, episode_length = 32 }
[env_overrides]
reward = "sharpe"
[eval_env]
start = "2006-01-01"
end = "2006-03-31"
[algo_kwargs]
n_steps = 128
batch_size = 64
"""


def test_train_from_toml(tmp_path):
    (tmp_path / "train.toml").write_text(CONFIG)
    results = train_from_config(tmp_path / "train.toml", kind="portfolio", progress=False)
    assert [r.out_dir for r in results] == [tmp_path / "runs" / "seed_0", tmp_path / "runs" / "seed_1"]
    agent = load_agent(tmp_path / "runs" / "seed_1")  # best/ exists: a validation span was given
    assert agent.path.name == "best" and agent.config["env"]["params"]["reward"] == "sharpe"
    assert agent.config["seed"] == 1 and agent.config["extractor"] == "mlp"


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace("algo = ", "algorithm = "))
    with pytest.raises(SpecError, match="unknown key 'algorithm'; accepted: env, algo"):
        train_from_config(bad)
    good = tmp_path / "good.toml"
    good.write_text(CONFIG)
    with pytest.raises(SpecError, match="`train hedging` needs a qfin/Hedging-v0 environment"):
        train_from_config(good, kind="hedging")
    with pytest.raises(SpecError, match="no such training config"):
        train_from_config(tmp_path / "missing.toml")
