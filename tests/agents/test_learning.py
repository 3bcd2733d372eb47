"""The training plumbing learns: on a synthetic market where one asset has positive drift and two have none,
the trained agent's out-of-sample Sharpe beats equal weight (seed fixed). Not a claim about real markets."""

import datetime as dt

import numpy as np
import polars as pl

from qfin.agents import rollout, train_agent
from qfin.data.simulate import gbm
from qfin.risk import sharpe_ratio

N_BARS, SPLIT = 2000, 1500


def _market() -> pl.DataFrame:
    drifts = [0.8, 0.0, 0.0]  # per year; all with 20% volatility
    paths = np.vstack([gbm(100.0, mu, 0.2, N_BARS / 252, N_BARS, 1, seed=10 + i)[0] for i, mu in enumerate(drifts)])
    start = dt.datetime(2000, 1, 1)
    stamps = [start + dt.timedelta(days=k) for k in range(N_BARS + 1)]
    return pl.DataFrame({"timestamp": stamps, "A": paths[0], "B": paths[1], "C": paths[2]})


def test_agent_beats_equal_weight_on_a_known_edge(tmp_path):
    frame = _market()
    split = frame["timestamp"][SPLIT].date().isoformat()
    config = {"id": "qfin/Portfolio-v0", "params": {"data": frame, "end": split, "window": 5, "episode_length": 64}}
    result = train_agent(config, "ppo", 4096, seed=0, out_dir=tmp_path, extractor="mlp",
                         policy_kwargs={"log_std_init": -1.0},
                         algo_kwargs={"n_steps": 512, "batch_size": 128, "learning_rate": 3e-3})
    test = rollout(result.agent, start=split, end=None)
    close = frame.select("A", "B", "C").to_numpy()[SPLIT:]
    equal_weight = (close[1:] / close[:-1] - 1.0).mean(axis=1)  # daily rebalanced 1/N, no costs
    assert len(test.returns) == len(equal_weight)
    agent_sharpe, ew_sharpe = sharpe_ratio(test.returns), sharpe_ratio(equal_weight)
    assert agent_sharpe > ew_sharpe + 0.3, (agent_sharpe, ew_sharpe)
    assert test.weights[:, 1].mean() > test.weights[:, 2:].mean(axis=0).max()  # it favours the drifting asset
