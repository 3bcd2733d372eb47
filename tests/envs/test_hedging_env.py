"""HedgingEnv: Black–Scholes delta hedging under GBM, consistency with the shared simulator, env checkers."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from scipy.stats import kurtosis, norm

from qfin.data.simulate import HestonParams, hedging_pnl
from qfin.envs import HedgingEnv
from qfin.errors import QfinError

S0 = K = 100.0
T, SIGMA = 0.25, 0.2
HESTON = HestonParams(v0=0.04, kappa=2.0, theta=0.04, sigma=0.5, rho=-0.7)


def _bs_call(s, k, tau, vol):
    """Black–Scholes (1973) call price at zero rate, written out here with scipy's normal cdf."""
    d1 = (math.log(s / k) + 0.5 * vol * vol * tau) / (vol * math.sqrt(tau))
    return s * norm.cdf(d1) - k * norm.cdf(d1 - vol * math.sqrt(tau))


def _bs_delta(log_moneyness, tau, vol):
    return norm.cdf((log_moneyness + 0.5 * vol * vol * tau) / (vol * np.sqrt(tau)))


def _delta_hedged_pnl(n_steps, n_envs=100, n_batches=20):
    """P&L and payoffs of BS delta hedging through gymnasium's SyncVectorEnv (the delta computed from the obs)."""
    premium = _bs_call(S0, K, T, SIGMA)
    vec = gymnasium.vector.SyncVectorEnv(
        [lambda: HedgingEnv(s0=S0, strike=K, maturity=T, n_steps=n_steps, sigma=SIGMA, premium=premium)
         for _ in range(n_envs)])
    pnl, payoff, reward_sums = [], [], []
    for b in range(n_batches):
        obs, _ = vec.reset(seed=10_000 * n_steps + b * n_envs)
        total = np.zeros(n_envs)
        for _ in range(n_steps):
            delta = _bs_delta(obs[:, 0].astype(np.float64), obs[:, 1].astype(np.float64), SIGMA)
            obs, reward, terminated, truncated, info = vec.step(delta[:, None])
            total += reward
        assert terminated.all() and info["_pnl"].all()
        pnl.append(info["pnl"])
        payoff.append(info["payoff"])
        reward_sums.append(total)
    vec.close()
    return premium, np.concatenate(pnl), np.concatenate(payoff), np.concatenate(reward_sums)


def test_bs_delta_hedging_error_shrinks_like_one_over_sqrt_n():
    results = {n: _delta_hedged_pnl(n) for n in (16, 32)}
    log_std, se = {}, {}
    for n, (premium, pnl, payoff, reward_sums) in results.items():
        np.testing.assert_allclose(reward_sums, pnl, rtol=1e-12, atol=1e-12)
        m = pnl.size
        # mean P&L = premium received - E[payoff] (= 0 for the BS premium at zero drift), within 3 SE
        assert abs(pnl.mean() - (premium - payoff.mean())) < 3 * pnl.std(ddof=1) / math.sqrt(m) \
            + 3 * payoff.std(ddof=1) / math.sqrt(m)
        assert abs(pnl.mean()) < 3 * pnl.std(ddof=1) / math.sqrt(m)
        # the hedge removes most of the option's risk
        assert pnl.std() < 0.25 * payoff.std()
        log_std[n] = math.log(pnl.std(ddof=1))
        se[n] = math.sqrt((kurtosis(pnl, fisher=False) - 1.0) / (4.0 * m))  # SE of log(sample std)
    # discrete hedging error variance ~ 1/N (Boyle & Emanuel 1980; Bertsimas, Kogan & Lo 2000)
    slope = log_std[16] - log_std[32]
    assert abs(slope - 0.5 * math.log(2.0)) < 3.0 * math.hypot(se[16], se[32])


@pytest.mark.parametrize("model", ["gbm", "heston"])
def test_rewards_sum_to_shared_simulator_pnl(model):
    env = HedgingEnv(model, n_steps=12, cost=0.003, premium=2.5, heston=HESTON, kind="put")
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=4)
    assert obs.shape == ((4,) if model == "heston" else (3,))
    spots, hedges, rewards, done = [env._spot.copy()], [], [], False
    while not done:
        hedges.append(rng.uniform(-1.0, 0.2))
        obs, reward, done, _, info = env.step([hedges[-1]])
        rewards.append(reward)
        assert obs[-1] == np.float32(hedges[-1])  # the current hedge is in the observation
    spot = spots[0]
    want = hedging_pnl(spot[None], np.array(hedges)[None], np.maximum(K - spot[-1:], 0.0), premium=2.5, cost=0.003)
    assert math.isclose(sum(rewards), float(want.pnl[0]), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(info["pnl"], float(want.pnl[0]), rel_tol=1e-12, abs_tol=1e-12)


def test_heston_observation_holds_the_variance():
    env = HedgingEnv("heston", heston=HESTON, n_steps=5, premium=0.0)
    obs, _ = env.reset(seed=0)
    assert obs[2] == np.float32(HESTON.v0)
    obs, *_ = env.step([0.5])
    assert obs[2] == np.float32(env._var[1]) and obs[1] == pytest.approx(env.maturity * 4 / 5)


def test_risk_adjusted_terminal_rewards():
    path = np.array([100.0, 103.0, 98.0, 104.0])
    rewards = {}
    for objective in ("pnl", "entropic", "mean_variance"):
        env = HedgingEnv(n_steps=3, premium=1.5, objective=objective, risk_aversion=0.5)
        env.reset(options={"path": path})
        rewards[objective] = [env.step([h])[1] for h in (0.5, 0.6, 0.7)]
    pnl = 1.5 + 0.5 * 3 + 0.6 * -5 + 0.7 * 6 - 4.0
    assert math.isclose(sum(rewards["pnl"]), pnl, rel_tol=1e-12)
    assert rewards["entropic"][:2] == [0.0, 0.0] and rewards["mean_variance"][:2] == [0.0, 0.0]
    assert math.isclose(rewards["entropic"][2], (1 - math.exp(-0.5 * pnl)) / 0.5, rel_tol=1e-12)
    assert math.isclose(rewards["mean_variance"][2], pnl - 0.25 * pnl ** 2, rel_tol=1e-12)


def test_custom_payoff_and_default_premium():
    env = HedgingEnv(payoff=lambda paths: (paths[:, -1] > 100.0).astype(float), n_steps=4, premium_paths=200_000)
    # digital call at zero drift: P(S_T > K) = N(d2)
    d2 = (math.log(S0 / K) - 0.5 * 0.04 * env.maturity) / (0.2 * math.sqrt(env.maturity))
    assert abs(env.premium - norm.cdf(d2)) < 3 * 0.5 / math.sqrt(200_000)


def test_env_checkers_and_registration():
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in ("gbm", "heston"):
            env = HedgingEnv(model, heston=HESTON, n_steps=8, cost=0.001, premium_paths=1000)
            gym_check(env, skip_render_check=True)
            sb3_check(env)
        env = gymnasium.make("qfin/Hedging-v0", n_steps=5, premium=1.0)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (3,)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cost=-0.01), "cost"),
    (dict(model="sabr"), "model"),
    (dict(kind="straddle"), "kind"),
    (dict(n_steps=0), "n_steps"),
    (dict(model="heston"), "heston"),
    (dict(objective="cvar"), "objective"),
    (dict(sigma=-0.2), "sigma"),
    (dict(payoff=lambda s: 1.0), "payoff"),
    (dict(model="heston", heston={"v0": 0.04}), "heston"),
])
def test_bad_construction_arguments(kwargs, message):
    with pytest.raises(QfinError, match=message):
        HedgingEnv(premium=0.0, **kwargs)


def test_kind_put_payoff_and_step_before_reset():
    env = HedgingEnv(kind="put", n_steps=2, premium=0.0)
    assert env.kind == "put"
    with pytest.raises(QfinError, match="reset"):
        env.step([0.0])
    env.reset(options={"path": np.array([100.0, 95.0, 90.0])})
    env.step([0.0])
    *_, info = env.step([0.0])
    assert info["payoff"] == pytest.approx(10.0)
    with pytest.raises(QfinError, match="reset"):
        env.step([0.0])


def test_sb3_trains_a_few_steps():
    from stable_baselines3 import PPO

    env = HedgingEnv(n_steps=5, premium=1.0)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action)
