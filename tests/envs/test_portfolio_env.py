"""PortfolioEnv against the backtest engine, closed forms, a no-look-ahead check and the env checkers."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import polars as pl
import pytest

from qfin.backtests._engine import Fees, run_weights
from qfin.data import load_dataset
from qfin.envs import PortfolioEnv, logits_to_weights, simulate_portfolio
from qfin.errors import QfinError

ASSETS = ["AAPL", "BAC", "XOM", "WMT", "UNH"]


@pytest.fixture(scope="module")
def prices():
    return load_dataset("sp500_stocks").select("timestamp", *ASSETS)


def _equal_weight_run(env, n_assets):
    """Step ``env`` over its whole span with equal risky weights (long/short mapping, leverage 1, no cash)."""
    action = np.concatenate(([0.0], np.ones(n_assets)))
    obs, info = env.reset()
    values, costs, turnover, dates, done = [info["value"]], [], [], [info["date"]], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        values.append(info["value"])
        costs.append(info["costs"])
        turnover.append(info["turnover"])
        dates.append(info["date"])
        np.testing.assert_allclose(info["target_weights"], np.r_[0.0, np.full(n_assets, 1 / n_assets)], atol=1e-15)
    return np.array(values), np.array(costs), np.array(turnover), np.array(dates)


@pytest.mark.parametrize("method", ["exact", "l1"])
def test_equal_weight_matches_backtest_engine(prices, method):
    env = PortfolioEnv(prices, start="2004-01-01", end="2006-12-31", window=20, buy_cost=0.001, sell_cost=0.002,
                       cost_method=method, long_only=False, leverage=1.0, initial_value=1000.0)
    values, costs, turnover, dates = _equal_weight_run(env, len(ASSETS))
    frame = prices.filter((pl.col("timestamp") >= dates[0]) & (pl.col("timestamp") <= dates[-1]))
    np.testing.assert_array_equal(frame["timestamp"].to_numpy(), dates)
    close = frame.select(ASSETS).to_numpy()
    n_steps = len(values) - 1
    targets = np.tile(np.r_[0.0, np.full(len(ASSETS), 1 / len(ASSETS))], (n_steps, 1))
    run = run_weights(close, np.arange(n_steps), targets, fees=Fees(buy=0.001, sell=0.002, method=method),
                      initial_cash=1000.0)
    # the engine marks bar k after its trade at k's close: V_k - costs_k; the last bar has no trade
    np.testing.assert_allclose(values[:-1] - costs, run.equity[:-1], rtol=1e-10)
    assert math.isclose(values[-1], run.equity[-1], rel_tol=1e-10)
    np.testing.assert_allclose(costs, run.costs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(turnover, run.turnover, rtol=1e-10)
    assert costs[0] > 0.0  # the initial buy from cash is charged


def test_zero_cost_equals_frictionless_closed_form(prices):
    env = PortfolioEnv(prices, start="2010-01-01", end="2011-06-30", window=5, long_only=False)
    values, costs, _, dates = _equal_weight_run(env, len(ASSETS))
    close = prices.filter((pl.col("timestamp") >= dates[0]) & (pl.col("timestamp") <= dates[-1])) \
        .select(ASSETS).to_numpy()
    closed_form = np.cumprod(np.r_[1.0, (close[1:] / close[:-1]).mean(axis=1)])  # V_T = prod_t mean_i y_t,i
    np.testing.assert_allclose(values, closed_form, rtol=1e-12)
    assert np.all(costs == 0.0)


def test_batched_simulator_matches_env(prices):
    env = PortfolioEnv(prices, start="2008-01-01", end="2008-03-31", window=3, buy_cost=0.0025)
    rng = np.random.default_rng(0)
    obs, info = env.reset()
    actions, values, done = [], [1.0], False
    while not done:
        actions.append(rng.normal(size=len(ASSETS) + 1))
        obs, _, terminated, truncated, info = env.step(actions[-1])
        done = terminated or truncated
        values.append(info["value"])
    weights = np.stack([logits_to_weights(a, softmax_scale=5.0) for a in actions])
    close = env._close[env._start: env._stop + 1]
    batch = simulate_portfolio(close, np.stack([weights, weights]), buy_cost=0.0025)
    np.testing.assert_allclose(batch, np.stack([values, values]), rtol=1e-12)


def test_observation_shape_and_normalisation(prices):
    env = PortfolioEnv(prices, window=7, episode_length=30)
    obs, info = env.reset(seed=3)
    assert obs.shape == (1, len(ASSETS), 7) and obs.dtype == np.float32
    t = env._t
    expected = prices.select(ASSETS).to_numpy()[t - 6: t + 1].T / prices.select(ASSETS).to_numpy()[t][:, None]
    np.testing.assert_allclose(obs[0], expected, rtol=1e-6)
    assert np.all(obs[0, :, -1] == 1.0)


def test_price_observation_of_a_panel_is_the_envs_observation():
    from qfin.data import price_panel
    from qfin.envs import price_observation

    bars = pl.concat([load_dataset("sp500_index"), load_dataset("nasdaq_index")])
    env = PortfolioEnv(bars, features=("close", "high", "low"), window=12, episode_length=5)
    panel = price_panel(bars)
    for start in (11, 300, 4000):
        obs, _ = env.reset(options={"start": start})
        np.testing.assert_array_equal(price_observation(panel.window(start), env.features, 12), obs)


def test_no_look_ahead(prices):
    frame = prices.slice(0, 400)
    t_check = 250
    perturbed = frame.with_columns(
        [pl.when(pl.int_range(pl.len()) > t_check).then(pl.col(a) * 1.7).otherwise(pl.col(a)).alias(a)
         for a in ASSETS])
    rng = np.random.default_rng(5)
    actions = rng.normal(size=(t_check, len(ASSETS) + 1))
    observations = []
    for data in (frame, perturbed):
        env = PortfolioEnv(data, window=30, buy_cost=0.001, include_weights=True)
        obs, info = env.reset(options={"start": 29})
        seen = [obs]
        for a in actions[: t_check - 29]:
            obs, reward, *_ = env.step(a)
            seen.append(obs)
        assert env._t == t_check
        observations.append(seen)
    for a, b in zip(*observations, strict=True):
        np.testing.assert_array_equal(a["prices"], b["prices"])
        np.testing.assert_array_equal(a["weights"], b["weights"])
    # and one step later the perturbation shows up, so the check can fail
    assert not np.array_equal(frame.row(t_check + 1)[1:], perturbed.row(t_check + 1)[1:])


def test_random_starts_are_seeded(prices):
    env = PortfolioEnv(prices, window=10, episode_length=20)
    starts = []
    for seed in (1, 1, 2):
        obs, info = env.reset(seed=seed)
        starts.append(info["date"])
    assert starts[0] == starts[1] != starts[2]
    steps, done = 0, False
    while not done:
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
        steps += 1
    assert steps == 20 and truncated and not terminated  # the window's length is a time limit


def test_rewards_sum_to_their_episode_objective(prices):
    kwargs = dict(data=prices, start="2015-01-01", end="2015-12-31", window=5, buy_cost=0.001)
    rng = np.random.default_rng(2)
    actions = rng.normal(size=(300, len(ASSETS) + 1))
    results = {}
    for name, params in [("log_return", None), ("sharpe", None), ("cvar", {"level": 0.9, "risk_aversion": 2.0}),
                         ("differential_sharpe", {"eta": 0.1}), ("mixed_var", None)]:
        env = PortfolioEnv(reward=name, reward_params=params, **kwargs)
        env.reset()
        rewards, returns, done, k = [], [], False, 0
        while not done:
            _, reward, terminated, truncated, info = env.step(actions[k])
            done = terminated or truncated
            rewards.append(reward)
            returns.append(info["return"])
            k += 1
        results[name] = (np.array(rewards), np.array(returns), info["value"])
    rewards, returns, value = results["log_return"]
    assert math.isclose(rewards.sum(), math.log(value), rel_tol=1e-12)
    rewards, r, _ = results["sharpe"]
    length = len(r)
    assert math.isclose(rewards.sum(), r.mean() / r.std(ddof=1) * math.sqrt(length), rel_tol=1e-10)
    rewards, r, _ = results["cvar"]
    k = int((len(r) - 1) * (1.0 - 0.9)) + 1  # empyrical's cutoff rule (floor in float) for the 90 % ES
    assert np.all(rewards[:-1] == 0.0)
    assert math.isclose(rewards[-1], r.mean() - 2.0 * -np.sort(r)[:k].mean(), rel_tol=1e-12)
    rewards, r, _ = results["differential_sharpe"]
    a = b = 0.0
    expected = []
    for x in r:  # Moody & Saffell (2001) eq. for D_t, written out
        var = b - a * a
        expected.append((b * (x - a) - 0.5 * a * (x * x - b)) / var ** 1.5 if var > 0 else 0.0)
        a, b = a + 0.1 * (x - a), b + 0.1 * (x * x - b)
    np.testing.assert_allclose(rewards, expected, rtol=1e-10)
    rewards, r, _ = results["mixed_var"]
    assert np.all(rewards[:-1] == 0.0) and np.isfinite(rewards[-1])


def test_action_mappings():
    w = logits_to_weights(np.array([0.0, 3.0, 0.0, 0.0]), softmax_scale=2.0, max_weight=0.4)
    assert math.isclose(w.sum(), 1.0) and w[1] == pytest.approx(0.4) and np.all(w >= 0)
    w = logits_to_weights(np.array([1.0, 2.0, -3.0]), long_only=False, leverage=2.0, max_weight=0.9)
    # u = leverage * a_i / sum|a| = 2 * (2, -3) / 6 = (2/3, -1), then the -1 is capped at -0.9
    np.testing.assert_allclose(w, [1.0 - 2 / 3 + 0.9, 2 / 3, -0.9], rtol=1e-15)
    big = logits_to_weights(np.array([0.0, 500.0, 499.0]), softmax_scale=1.0)  # unclipped, no overflow
    assert math.isclose(big[1] / big[2], math.e, rel_tol=1e-9)


def test_env_checkers_and_registration(prices):
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for include_weights in (False, True):
            env = PortfolioEnv(prices, window=10, episode_length=15, buy_cost=0.001, include_weights=include_weights)
            gym_check(env, skip_render_check=True)
            sb3_check(env)
        env = gymnasium.make("qfin/Portfolio-v0", data=prices, window=10, episode_length=15)
        obs, info = env.reset(seed=0)
        assert obs.shape == (1, len(ASSETS), 10)


def _bad_prices(prices):
    return prices.slice(0, 100).with_columns(pl.when(pl.int_range(pl.len()) == 40).then(None)
                                             .otherwise(pl.col("BAC")).cast(pl.Float64).fill_null(float("nan"))
                                             .alias("BAC"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=500), "window=500"),
    (dict(reward="sortino"), "not a known reward"),
    (dict(reward="cvar", reward_params={"alpha": 0.1}), "not parameters"),
    (dict(reward="cvar", reward_params={"level": 1.5}), "level"),
    (dict(buy_cost=-0.001), "buy_cost"),
    (dict(sell_cost=-0.01), "sell_cost"),
    (dict(episode_length=1000), "episode_length"),
    (dict(assets=["ZZZ"]), "ZZZ"),
])
def test_bad_construction_arguments(prices, kwargs, message):
    with pytest.raises(QfinError, match=message):
        PortfolioEnv(prices.slice(0, 300), **kwargs)


def test_nan_prices_rejected_at_construction(prices):
    with pytest.raises(QfinError, match="BAC"):
        PortfolioEnv(_bad_prices(prices), window=10)


def test_vector_env_autoresets(prices):
    vec = gymnasium.vector.SyncVectorEnv(
        [lambda: PortfolioEnv(prices, window=5, episode_length=4, buy_cost=0.001) for _ in range(3)])
    obs, info = vec.reset(seed=0)
    assert obs.shape == (3, 1, len(ASSETS), 5)
    done_count = 0
    for _ in range(10):
        obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
        assert np.all(np.isfinite(reward)) and not terminated.any()  # random windows end by their length
        done_count += int(truncated.sum())
    assert done_count == 6  # episodes of 4 steps end at calls 4 and 9 (call 5 is the autoreset)
    vec.close()


def test_step_after_the_end_needs_reset(prices):
    env = PortfolioEnv(prices, window=5, episode_length=1)
    with pytest.raises(QfinError, match="reset"):
        env.step(np.zeros(len(ASSETS) + 1))
    env.reset(seed=0)
    env.step(np.zeros(len(ASSETS) + 1))
    with pytest.raises(QfinError, match="reset"):
        env.step(np.zeros(len(ASSETS) + 1))


# FinRL 0.3.7, finrl.meta.env_portfolio_optimization.PortfolioOptimizationEnv(df of the 5 assets' closes, first 400
# days of sp500_stocks, initial_amount=1, comission_fee_pct=0, features=["close"], normalize_df=None,
# time_window=20), stepped with the weights below for 300 steps: final portfolio value (FinRL casts weights to
# float32, hence the 1e-6 tolerance). Recorded with bench/bench_envs.py's loader in a scratch venv.
FINRL_037_ZERO_COST_VALUE = 1.505960464477539


def test_zero_cost_value_matches_recorded_finrl(prices):
    frame = prices.select("timestamp", *sorted(ASSETS)).slice(0, 400)
    logits = np.random.default_rng(7).normal(size=(300, len(ASSETS) + 1))
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    env = PortfolioEnv(frame, window=20, softmax_scale=1.0)
    env.reset()
    for w in weights:
        *_, info = env.step(np.log(w))
    assert math.isclose(info["value"], FINRL_037_ZERO_COST_VALUE, rel_tol=1e-6)


def test_multi_symbol_bars_give_price_features():
    bars = pl.concat([load_dataset("sp500_index"), load_dataset("nasdaq_index")])
    env = PortfolioEnv(bars, features=("close", "high", "low"), window=10, episode_length=5)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 2, 10) and env.assets == ["SPX", "IXIC"]
    np.testing.assert_array_equal(obs[0, :, -1], 1.0)
    assert np.all(obs[1] >= obs[0] * (1 - 1e-6)) and np.all(obs[2] <= obs[0] * (1 + 1e-6))
    with pytest.raises(QfinError, match="features"):
        PortfolioEnv(bars, features=("volume",))
