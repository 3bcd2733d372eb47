"""A trained agent as a backtest strategy: its row beside equal_weight, on the same dates, trading what the env
would trade on the same closes."""

import numpy as np
import pytest

from qfin.agents import agent_strategy, rollout, train_agent
from qfin.backtests import STRATEGIES, run_backtest
from qfin.errors import SpecError

from .conftest import PPO_SMALL

CLOSES = {"id": "qfin/Portfolio-v0",
          "params": {"data": "sp500_stocks", "assets": ["AAPL", "MSFT", "XOM"], "start": "2005-01-01",
                     "end": "2006-12-31", "window": 10, "episode_length": 64}}


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bt_agent")
    train_agent(CLOSES, "ppo", 512, seed=0, out_dir=out, algo_kwargs=PPO_SMALL)
    return out


def _spec(path, assets=("AAPL", "MSFT", "XOM"), **extra):
    return {"name": "agent vs baselines",
            "data": {"dataset": "sp500_stocks", "assets": list(assets), "start": "2019-01-02", "end": "2019-06-28"},
            "rebalance": "daily", "costs": {"fee": 0.0}, "report": {"plots": False},
            "strategies": [{"kind": "equal_weight"}, {"kind": "agent", "name": "ppo", "path": str(path)}], **extra}


def test_agent_row_beside_equal_weight_on_same_dates(agent_dir):
    assert STRATEGIES["agent"].kind == "agent"  # registered by importing qfin.agents
    result = run_backtest(_spec(agent_dir), progress=False)
    assert list(result.runs) == ["equal_weight", "ppo"]
    assert set(result.metrics["ppo"]) == set(result.metrics["equal_weight"])
    ew, ppo = result.runs["equal_weight"].equity, result.runs["ppo"].equity
    assert ew.shape == ppo.shape == result.timestamps.shape
    assert not np.allclose(ew, ppo)
    # Independent path: step the agent's own env over the same span; with no costs the backtest engine and the
    # env must agree on the value path, which also checks the observation rebuilt from past returns.
    path = rollout(agent_strategy(agent_dir).agent, start="2019-01-02", end="2019-06-28", buy_cost=0.0)
    np.testing.assert_array_equal(path.dates.astype("M8[D]"), result.timestamps.astype("M8[D]"))
    np.testing.assert_allclose(ppo / ppo[0], path.values / path.values[0], rtol=1e-6)
    assert result.runs["ppo"].weights[5:, 1:].std(axis=0).max() > 0  # weights move with the market


def test_agent_strategy_errors(agent_dir, tmp_path):
    with pytest.raises(SpecError, match="trained on 3 assets .*AAPL, MSFT, XOM.*the backtest has 2"):
        run_backtest(_spec(agent_dir, assets=("AAPL", "MSFT")), progress=False)
    with pytest.raises(SpecError, match="set path"):
        agent_strategy("")
    with pytest.raises(SpecError, match="lookback is fixed by the agent's window"):
        STRATEGIES["agent"](name="x", path=str(agent_dir), lookback=3)


def test_evaluate_two_seeds(agent_dir):
    from qfin.agents import evaluate

    spec = _spec(agent_dir)
    spec["strategies"] = [{"kind": "equal_weight"}]
    result, summary = evaluate({"a": agent_dir, "b": agent_dir / "last"}, spec)
    assert list(result.runs) == ["equal_weight", "a", "b"]
    assert summary["sharpe"]["n_seeds"] == 2 and summary["sharpe"]["spread"] == 0.0  # the same agent twice
    assert summary["sharpe"]["mean"] == pytest.approx(result.metrics["a"]["sharpe"], rel=1e-9)
    assert 0.0 <= summary["psr_vs_benchmark"]["mean"] <= 1.0
    with pytest.raises(SpecError, match="benchmark 'hrp' is not a strategy"):
        evaluate({"a": agent_dir}, spec, benchmark="hrp")
